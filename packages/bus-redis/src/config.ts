import { ConfigError, type BrokerBusOptions } from '@eventsource/core';
import {
  BROKER_DEFAULTS,
  identifier,
  integer,
  milliseconds,
  oneOf,
  redact,
  resolveBrokerOptions,
  type ResolvedBrokerOptions,
} from '@eventsource/core/transport';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';

/**
 * Options of {@link RedisEventBus}. Every one has a default; see the README's table. The options
 * every transport shares (consumerGroup, consumerName, maxRetries, retry*Ms, enableDlq,
 * maxInFlight, handlerTimeoutMs, maxDeliveries, reconnect*Ms, registry, maxBodyBytes,
 * validatePayloads) come from core's BrokerBusOptions.
 */
export interface RedisEventBusOptions extends BrokerBusOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Default `redis://localhost:6379`. */
  readonly redisUrl?: string;
  /** Prefix of every key this bus uses. Default `events` (stream `events:stream`). */
  readonly streamPrefix?: string;
  /** Entries fetched per XREADGROUP. Default 100. */
  readonly batchSize?: number;
  /** How long one XREADGROUP blocks waiting for entries, in ms. Default 5000. */
  readonly blockMs?: number;
  /** An entry left unacknowledged this long by a consumer that stopped is taken over by a live one, in ms. Default 60000. */
  readonly reclaimIdleMs?: number;
  /** How often each consumer looks for abandoned entries, in ms. Default reclaimIdleMs / 2, at most 30000. */
  readonly reclaimIntervalMs?: number;
  /** Approximate cap on the stream's length (`XADD MAXLEN ~`). Default 1000000; 0 turns length trimming off. */
  readonly maxLen?: number;
  /** Trim entries older than this, in ms (`XADD MINID ~`, by the publisher's clock), instead of by length. Default off. */
  readonly maxAgeMs?: number;
  /** Exact cap on the group's dead-letter stream (oldest dropped first). Default 0: never trimmed. */
  readonly dlqMaxLen?: number;
  /** Where new consumer groups start: every retained entry, or only new ones. Default `earliest`. */
  readonly startFrom?: 'earliest' | 'latest';
  /** Longest wait between two looks at the group's due retries, in ms. Default 500. */
  readonly retryPollMs?: number;
  /**
   * An ioredis client to use instead of `redisUrl`. The bus duplicates it for its blocking reads
   * and never closes the client you passed.
   */
  readonly client?: Redis | Cluster;
  /** Connect to a Redis Cluster instead of `redisUrl`. */
  readonly cluster?: { readonly nodes: readonly ClusterNode[]; readonly options?: ClusterOptions };
  /** Extra ioredis options (TLS, password, sentinel …), merged over the bus's own. */
  readonly redisOptions?: RedisOptions;
}

/** The seed guide's name for the options (`RedisEventBusConfig`); the same type. */
export type RedisEventBusConfig = RedisEventBusOptions;

export interface RedisKeys {
  readonly stream: string;
  readonly dlq: string;
  /** Sorted set: retry id → due time (ms since epoch). */
  readonly retrySchedule: string;
  /** Hash: retry id → the entry to retry; `#<id>` → how often it was handed out. */
  readonly retryData: string;
  /** Prefix of the per-entry counters of starts of suspect entries (poison isolation). */
  readonly startJournal: string;
}

/** Redis's options after defaults and checks, with the generic ones. */
export interface ResolvedConfig extends ResolvedBrokerOptions {
  readonly redisUrl: string;
  readonly streamPrefix: string;
  readonly batchSize: number;
  readonly blockMs: number;
  readonly reclaimIdleMs: number;
  readonly reclaimIntervalMs: number;
  /** Interval at which started entries are marked as still being worked on. */
  readonly keepAliveIntervalMs: number;
  readonly maxLen: number;
  readonly maxAgeMs: number;
  readonly dlqMaxLen: number;
  readonly startFrom: 'earliest' | 'latest';
  readonly retryPollMs: number;
  readonly keys: RedisKeys;
}

export const DEFAULTS = {
  ...BROKER_DEFAULTS,
  redisUrl: 'redis://localhost:6379',
  streamPrefix: 'events',
  batchSize: 100,
  blockMs: 5000,
  reclaimIdleMs: 60_000,
  maxLen: 1_000_000,
  dlqMaxLen: 0,
  startFrom: 'earliest',
  retryPollMs: 500,
} as const;

/**
 * Key layout. Under Redis Cluster every key of one prefix must live in one hash slot (settling
 * writes the stream, the retry set and the DLQ in one script), so an untagged prefix is wrapped
 * in a hash tag there.
 */
export function redisKeys(streamPrefix: string, consumerGroup: string, cluster = false): RedisKeys {
  const p = cluster && !/\{[^}]+\}/.test(streamPrefix) ? `{${streamPrefix}}` : streamPrefix;
  return {
    stream: `${p}:stream`,
    dlq: `${p}:stream_dlq:${consumerGroup}`,
    retrySchedule: `${p}:retry:${consumerGroup}`,
    retryData: `${p}:retry:${consumerGroup}:data`,
    startJournal: `${p}:starts:${consumerGroup}`,
  };
}

export function resolveConfig(options: RedisEventBusOptions): ResolvedConfig {
  const generic = resolveBrokerOptions(options);
  const redisUrl = options.redisUrl ?? DEFAULTS.redisUrl;
  if (options.client === undefined && options.cluster === undefined) {
    let protocol: string;
    try {
      protocol = new URL(redisUrl).protocol;
    } catch {
      throw new ConfigError('redisUrl', `is not a URL; use redis://host:port or rediss://host:port for TLS.`);
    }
    if (protocol !== 'redis:' && protocol !== 'rediss:') {
      throw new ConfigError('redisUrl', `must start with redis:// or rediss:// (TLS); received ${protocol}//.`);
    }
  }
  if (options.client !== undefined && options.cluster !== undefined) {
    throw new ConfigError('cluster', 'pass either an existing client or cluster options, not both.');
  }
  const streamPrefix = identifier('streamPrefix', options.streamPrefix ?? DEFAULTS.streamPrefix);
  const batchSize = integer('batchSize', options.batchSize ?? DEFAULTS.batchSize, 1);
  const blockMs = integer('blockMs', options.blockMs ?? DEFAULTS.blockMs, 1);
  const reclaimIdleMs = milliseconds('reclaimIdleMs', options.reclaimIdleMs ?? DEFAULTS.reclaimIdleMs, 100);
  const reclaimIntervalMs = milliseconds(
    'reclaimIntervalMs',
    options.reclaimIntervalMs ?? Math.min(30_000, Math.max(50, Math.floor(reclaimIdleMs / 2))),
    10,
  );
  if (options.maxLen !== undefined && options.maxAgeMs !== undefined && options.maxLen > 0 && options.maxAgeMs > 0) {
    throw new ConfigError('maxAgeMs', 'trim either by length (maxLen) or by age (maxAgeMs), not both; set maxLen: 0 to trim by age.');
  }
  const maxAgeMs = options.maxAgeMs === undefined ? 0 : milliseconds('maxAgeMs', options.maxAgeMs, 0);
  const maxLen = integer('maxLen', options.maxLen ?? (maxAgeMs > 0 ? 0 : DEFAULTS.maxLen), 0);
  const dlqMaxLen = integer('dlqMaxLen', options.dlqMaxLen ?? DEFAULTS.dlqMaxLen, 0);
  const startFrom = oneOf('startFrom', options.startFrom ?? DEFAULTS.startFrom, ['earliest', 'latest']);
  const retryPollMs = milliseconds('retryPollMs', options.retryPollMs ?? DEFAULTS.retryPollMs, 10);

  return {
    ...generic,
    redisUrl,
    streamPrefix,
    batchSize,
    blockMs,
    reclaimIdleMs,
    reclaimIntervalMs,
    keepAliveIntervalMs: Math.max(10, Math.floor(reclaimIdleMs / 4)),
    maxLen,
    maxAgeMs,
    dlqMaxLen,
    startFrom,
    retryPollMs,
    keys: redisKeys(streamPrefix, generic.consumerGroup, options.cluster !== undefined || isCluster(options.client)),
  };
}

export function isCluster(client: Redis | Cluster | undefined): client is Cluster {
  return client !== undefined && (client as { isCluster?: boolean }).isCluster === true;
}

/** The URL with its credentials masked, for logs and errors. */
export function maskUrl(url: string): string {
  return redact(url);
}
