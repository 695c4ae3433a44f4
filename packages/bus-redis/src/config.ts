import { ConfigError, DEFAULT_MAX_BODY_BYTES, type BrokerBusOptions } from '@eventsource/core';
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
  /**
   * A member of the group that holds no pending entries and has not read for this long is removed
   * from the group by the live members, in ms: processes that crashed under a random default
   * name do not pile up in XINFO CONSUMERS. Default 3600000 (1 hour); 0 keeps them.
   */
  readonly staleConsumerIdleMs?: number;
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
  /** 0 = never remove idle members. */
  readonly staleConsumerIdleMs: number;
  readonly startFrom: 'earliest' | 'latest';
  readonly retryPollMs: number;
  /**
   * Largest stream entry accepted on consume, every field counted: maxBodyBytes for the body plus
   * ENTRY_FIELDS_ALLOWANCE for the headers and key. Headers are copied into retries and dead
   * letters, so they are bounded too.
   */
  readonly maxEntryBytes: number;
  readonly keys: RedisKeys;
}

/** Bytes an entry may carry besides its body (the envelope headers use well under 1 KiB). */
export const ENTRY_FIELDS_ALLOWANCE = 64 * 1024;

export const DEFAULTS = {
  ...BROKER_DEFAULTS,
  redisUrl: 'redis://localhost:6379',
  streamPrefix: 'events',
  batchSize: 100,
  blockMs: 5000,
  reclaimIdleMs: 60_000,
  maxLen: 1_000_000,
  dlqMaxLen: 0,
  staleConsumerIdleMs: 3_600_000,
  startFrom: 'earliest',
  retryPollMs: 500,
} as const;

/**
 * Key layout. Under Redis Cluster every key of one prefix must live in one hash slot (settling
 * writes the stream, the retry set and the DLQ in one script), so an untagged prefix is wrapped
 * in a hash tag there.
 *
 * The group's part of a key is escaped (`%` → `%25`, `:` → `%3A`), so it never contains the
 * separator: without that, group `X`'s retry data `{p}:retry:X:data` would be group `X:data`'s
 * retry schedule. Names without `:` or `%` are unchanged.
 */
export function redisKeys(streamPrefix: string, consumerGroup: string, cluster = false): RedisKeys {
  const p = cluster && !hasHashTag(streamPrefix) ? `{${streamPrefix}}` : streamPrefix;
  const g = escapeGroup(consumerGroup);
  return {
    stream: `${p}:stream`,
    dlq: `${p}:stream_dlq:${g}`,
    retrySchedule: `${p}:retry:${g}`,
    retryData: `${p}:retry:${g}:data`,
    startJournal: `${p}:starts:${g}`,
  };
}

/** A group name as it appears in key names: never a `:`, and distinct names stay distinct. */
export function escapeGroup(consumerGroup: string): string {
  return consumerGroup.replace(/%/g, '%25').replace(/:/g, '%3A');
}

/**
 * Whether Redis Cluster hashes keys starting with `prefix` by a tag of the prefix: the text
 * between the first `{` and the first `}` after it, when that is not empty. `a{}b{c}` has none
 * (Redis hashes the whole key), `a{b}c` has `b`.
 */
export function hasHashTag(prefix: string): boolean {
  return /^[^{]*\{[^}]+\}/.test(prefix);
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
  const staleConsumerIdleMs = milliseconds('staleConsumerIdleMs', options.staleConsumerIdleMs ?? DEFAULTS.staleConsumerIdleMs, 0);
  if (staleConsumerIdleMs > 0 && staleConsumerIdleMs < Math.max(reclaimIdleMs, blockMs) * 2) {
    throw new ConfigError(
      'staleConsumerIdleMs',
      `must be 0 (keep idle members) or at least twice reclaimIdleMs and blockMs (${Math.max(reclaimIdleMs, blockMs) * 2} ms), ` +
        `so that only members gone far longer than the reclaim window are removed; received ${staleConsumerIdleMs} ms.`,
    );
  }
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
    staleConsumerIdleMs,
    startFrom,
    retryPollMs,
    maxEntryBytes: (options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES) + ENTRY_FIELDS_ALLOWANCE,
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
