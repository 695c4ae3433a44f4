import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError, RetryPolicy, type EventBusBaseOptions, type EventRegistry } from '@eventsource/core';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';

/** Options of {@link RedisEventBus}. Every one has a default; see the README's table. */
export interface RedisEventBusOptions extends EventBusBaseOptions {
  /** `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS. Default `redis://localhost:6379`. */
  readonly redisUrl?: string;
  /** Prefix of every key this bus uses. Default `events` (stream `events:stream`). */
  readonly streamPrefix?: string;
  /** Consumers of one group share the work; every group gets every event. Default `default`. */
  readonly consumerGroup?: string;
  /** This consumer's name within the group. Default: host name plus a random suffix. */
  readonly consumerName?: string;
  /** Entries fetched per XREADGROUP. Default 100. */
  readonly batchSize?: number;
  /** How long one XREADGROUP blocks waiting for entries, in ms. Default 5000. */
  readonly blockMs?: number;
  /** Retries after the first failed attempt; then the entry is dead-lettered. Default 3. */
  readonly maxRetries?: number;
  /** Write exhausted and undecodable entries to the group's dead-letter stream. Default true. */
  readonly enableDlq?: boolean;
  /** Delay before the first retry, in ms; doubles per retry. Default 1000. */
  readonly retryBaseDelayMs?: number;
  /** Upper bound of a retry delay, in ms. Default 60000. */
  readonly retryMaxDelayMs?: number;
  /** Random spread of retry delays, 0 to 1 (0.1 = ±10%). Default 0.1. */
  readonly retryJitter?: number;
  /** An entry left unacknowledged this long by a consumer that stopped is taken over by a live one, in ms. Default 60000. */
  readonly reclaimIdleMs?: number;
  /** How often each consumer looks for abandoned entries, in ms. Default reclaimIdleMs / 2, at most 30000. */
  readonly reclaimIntervalMs?: number;
  /**
   * Crash-loop guard: an entry Redis has handed out this many times without anyone settling it
   * (the consumers holding it crashed or stalled) is dead-lettered instead of handed out again.
   * Independent of maxRetries, which counts handler failures. Default 10.
   */
  readonly maxDeliveries?: number;
  /** Approximate cap on the stream's length (`XADD MAXLEN ~`). Default 1000000; 0 turns length trimming off. */
  readonly maxLen?: number;
  /** Trim entries older than this, in ms (`XADD MINID ~`, by the publisher's clock), instead of by length. Default off. */
  readonly maxAgeMs?: number;
  /** Exact cap on the group's dead-letter stream (oldest dropped first). Default 0: never trimmed. */
  readonly dlqMaxLen?: number;
  /** Handlers running at once in this consumer. Default 10; 1 handles one entry at a time. */
  readonly maxInFlight?: number;
  /** Where new consumer groups start: every retained entry, or only new ones. Default `earliest`. */
  readonly startFrom?: 'earliest' | 'latest';
  /** Longest wait between two looks at the group's due retries, in ms. Default 500. */
  readonly retryPollMs?: number;
  /** First reconnect delay after a lost connection, in ms; doubles per try. Default 100. */
  readonly reconnectBaseDelayMs?: number;
  /** Longest reconnect delay, in ms. Default 5000. */
  readonly reconnectMaxDelayMs?: number;
  /**
   * An ioredis client to use instead of `redisUrl`. The bus duplicates it for its blocking reads
   * and never closes the client you passed.
   */
  readonly client?: Redis | Cluster;
  /** Connect to a Redis Cluster instead of `redisUrl`. */
  readonly cluster?: { readonly nodes: readonly ClusterNode[]; readonly options?: ClusterOptions };
  /** Extra ioredis options (TLS, password, sentinel …), merged over the bus's own. */
  readonly redisOptions?: RedisOptions;
  /** Registry used to decode events. Default: core's default registry. */
  readonly registry?: EventRegistry;
  /** Largest event body accepted on publish and consume, in bytes. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Run payload schemas on decode. Default true. */
  readonly validatePayloads?: boolean;
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
}

export interface ResolvedConfig {
  readonly redisUrl: string;
  readonly streamPrefix: string;
  readonly consumerGroup: string;
  readonly consumerName: string;
  readonly batchSize: number;
  readonly blockMs: number;
  readonly maxRetries: number;
  readonly enableDlq: boolean;
  readonly retryPolicy: RetryPolicy;
  readonly reclaimIdleMs: number;
  readonly reclaimIntervalMs: number;
  /** Interval at which in-flight entries are marked as still being worked on. */
  readonly keepAliveIntervalMs: number;
  readonly maxDeliveries: number;
  readonly maxLen: number;
  readonly maxAgeMs: number;
  readonly dlqMaxLen: number;
  readonly maxInFlight: number;
  readonly startFrom: 'earliest' | 'latest';
  readonly retryPollMs: number;
  readonly reconnectBaseDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly keys: RedisKeys;
}

export const DEFAULTS = {
  redisUrl: 'redis://localhost:6379',
  streamPrefix: 'events',
  consumerGroup: 'default',
  batchSize: 100,
  blockMs: 5000,
  maxRetries: 3,
  enableDlq: true,
  retryBaseDelayMs: 1000,
  retryMaxDelayMs: 60_000,
  retryJitter: 0.1,
  reclaimIdleMs: 60_000,
  maxDeliveries: 10,
  maxLen: 1_000_000,
  dlqMaxLen: 0,
  maxInFlight: 10,
  startFrom: 'earliest',
  retryPollMs: 500,
  reconnectBaseDelayMs: 100,
  reconnectMaxDelayMs: 5000,
} as const;

export function defaultConsumerName(): string {
  return `${hostname()}-${randomBytes(4).toString('hex')}`;
}

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
  };
}

export function resolveConfig(options: RedisEventBusOptions): ResolvedConfig {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError('options', 'pass an options object, e.g. new RedisEventBus({ redisUrl: "redis://localhost:6379" }).');
  }
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
  const streamPrefix = name('streamPrefix', options.streamPrefix ?? DEFAULTS.streamPrefix);
  const consumerGroup = name('consumerGroup', options.consumerGroup ?? DEFAULTS.consumerGroup);
  const consumerName = name('consumerName', options.consumerName ?? defaultConsumerName());

  const batchSize = int('batchSize', options.batchSize ?? DEFAULTS.batchSize, 1);
  const blockMs = int('blockMs', options.blockMs ?? DEFAULTS.blockMs, 1);
  const maxRetries = int('maxRetries', options.maxRetries ?? DEFAULTS.maxRetries, 0);
  const enableDlq = bool('enableDlq', options.enableDlq ?? DEFAULTS.enableDlq);
  const retryPolicy = new RetryPolicy({
    baseDelay: ms('retryBaseDelayMs', options.retryBaseDelayMs ?? DEFAULTS.retryBaseDelayMs, 0),
    maxDelay: ms('retryMaxDelayMs', options.retryMaxDelayMs ?? DEFAULTS.retryMaxDelayMs, 0),
    jitter: options.retryJitter ?? DEFAULTS.retryJitter,
    maxRetries,
  });
  const reclaimIdleMs = ms('reclaimIdleMs', options.reclaimIdleMs ?? DEFAULTS.reclaimIdleMs, 100);
  const reclaimIntervalMs = ms(
    'reclaimIntervalMs',
    options.reclaimIntervalMs ?? Math.min(30_000, Math.max(50, Math.floor(reclaimIdleMs / 2))),
    10,
  );
  const maxDeliveries = int('maxDeliveries', options.maxDeliveries ?? DEFAULTS.maxDeliveries, 1);
  if (options.maxLen !== undefined && options.maxAgeMs !== undefined && options.maxLen > 0 && options.maxAgeMs > 0) {
    throw new ConfigError('maxAgeMs', 'trim either by length (maxLen) or by age (maxAgeMs), not both; set maxLen: 0 to trim by age.');
  }
  const maxAgeMs = options.maxAgeMs === undefined ? 0 : ms('maxAgeMs', options.maxAgeMs, 0);
  const maxLen = int('maxLen', options.maxLen ?? (maxAgeMs > 0 ? 0 : DEFAULTS.maxLen), 0);
  const dlqMaxLen = int('dlqMaxLen', options.dlqMaxLen ?? DEFAULTS.dlqMaxLen, 0);
  const maxInFlight = int('maxInFlight', options.maxInFlight ?? DEFAULTS.maxInFlight, 1);
  const startFrom = options.startFrom ?? DEFAULTS.startFrom;
  if (startFrom !== 'earliest' && startFrom !== 'latest') {
    throw new ConfigError('startFrom', `must be "earliest" or "latest"; received ${JSON.stringify(startFrom)}.`);
  }
  const retryPollMs = ms('retryPollMs', options.retryPollMs ?? DEFAULTS.retryPollMs, 10);
  const reconnectBaseDelayMs = ms('reconnectBaseDelayMs', options.reconnectBaseDelayMs ?? DEFAULTS.reconnectBaseDelayMs, 1);
  const reconnectMaxDelayMs = ms('reconnectMaxDelayMs', options.reconnectMaxDelayMs ?? DEFAULTS.reconnectMaxDelayMs, 1);
  if (reconnectMaxDelayMs < reconnectBaseDelayMs) {
    throw new ConfigError('reconnectMaxDelayMs', `must be >= reconnectBaseDelayMs (${reconnectBaseDelayMs} ms).`);
  }

  return {
    redisUrl,
    streamPrefix,
    consumerGroup,
    consumerName,
    batchSize,
    blockMs,
    maxRetries,
    enableDlq,
    retryPolicy,
    reclaimIdleMs,
    reclaimIntervalMs,
    keepAliveIntervalMs: Math.max(10, Math.floor(reclaimIdleMs / 4)),
    maxDeliveries,
    maxLen,
    maxAgeMs,
    dlqMaxLen,
    maxInFlight,
    startFrom,
    retryPollMs,
    reconnectBaseDelayMs,
    reconnectMaxDelayMs,
    keys: redisKeys(streamPrefix, consumerGroup, options.cluster !== undefined || isCluster(options.client)),
  };
}

export function isCluster(client: Redis | Cluster | undefined): client is Cluster {
  return client !== undefined && (client as { isCluster?: boolean }).isCluster === true;
}

/**
 * Masks the credentials of every `redis://` / `rediss://` URL in `text`, for logs and errors: the
 * password (which may itself contain `@`), or the whole user part when it has no `:` (a token in
 * the username position). The one masking function of this package.
 */
export function redact(text: string): string {
  return text.replace(/(rediss?:\/\/)([^\s/?#]*)@/gi, (_match, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon > 0 ? `${userinfo.slice(0, colon)}:***` : '***'}@`;
  });
}

/** The URL with its credentials masked. */
export function maskUrl(url: string): string {
  return redact(url);
}

function name(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || /\s/.test(value)) {
    throw new ConfigError(option, `must be a non-empty string without spaces; received ${JSON.stringify(value)}.`);
  }
  return value;
}

function int(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigError(option, `must be an integer >= ${min}; received ${String(value)}.`);
  }
  return value;
}

function ms(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new ConfigError(option, `must be a number of milliseconds >= ${min}; received ${String(value)}.`);
  }
  return value;
}

function bool(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(option, `must be true or false; received ${String(value)}.`);
  return value;
}
