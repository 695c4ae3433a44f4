import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';
import type { EventBusBaseOptions } from '../bus/event-bus.js';
import type { EventRegistry } from '../events/registry.js';
import { RetryPolicy } from '../retry/retry-policy.js';

/**
 * Options every broker bus takes, with the same names, defaults and checks on every transport.
 * A transport's options interface extends this one and adds only what its broker needs.
 */
export interface BrokerBusOptions extends EventBusBaseOptions {
  /** Consumers of one group share the work; every group gets every event. Default `default`. */
  readonly consumerGroup?: string;
  /** This consumer's name within the group, unique per live process. Default: host name plus a random suffix. */
  readonly consumerName?: string;
  /** Retries after the first failed attempt; then the message is dead-lettered. Default 3. */
  readonly maxRetries?: number;
  /** Delay before the first retry, in ms; doubles per retry. Default 1000. */
  readonly retryBaseDelayMs?: number;
  /** Upper bound of a retry delay, in ms. Default 60000. */
  readonly retryMaxDelayMs?: number;
  /** Random spread of retry delays, 0 to 1 (0.1 = ±10%). Default 0.1. */
  readonly retryJitter?: number;
  /** Write exhausted and undecodable messages to the group's dead-letter destination. Default true. */
  readonly enableDlq?: boolean;
  /** Handlers running at once in this consumer. Default 10; 1 handles one message at a time. */
  readonly maxInFlight?: number;
  /**
   * Crash-loop guard: a message started this many times without being settled (the consumers
   * running it died) is dead-lettered with reason `max_deliveries_exceeded` instead of started
   * again. Independent of maxRetries, which counts handler failures. Default 10.
   */
  readonly maxDeliveries?: number;
  /** First reconnect (and settlement-write) retry delay, in ms; doubles per try. Default 100. */
  readonly reconnectBaseDelayMs?: number;
  /** Longest reconnect (and settlement-write) retry delay, in ms. Default 5000. */
  readonly reconnectMaxDelayMs?: number;
  /**
   * Longest wait for one `publish()` call (foreground or background), in ms. A write the broker has
   * not confirmed by then rejects with `PublishTimeoutError`, so a caller never hangs through a
   * broker outage; the write itself goes on, and the events may still arrive (at-least-once).
   * `Infinity` waits as long as the client does (no limit from the bus). Default 30000.
   */
  readonly publishTimeoutMs?: number;
  /** Registry used to decode events. Default: core's default registry. */
  readonly registry?: EventRegistry;
  /** Largest event body accepted on publish and consume, in bytes. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Run payload schemas on decode. Default true. */
  readonly validatePayloads?: boolean;
  /**
   * A message whose type no handler in this process subscribes to: `ack` settles it and counts it
   * in `eventsSkipped` (on a shared destination other services publish types you do not handle);
   * `dead-letter` keeps it in the group's DLQ with reason `no_subscribers`. Beware rolling
   * deploys with `ack`: while old instances run, a type only new instances handle is skipped by
   * the old ones for the whole group. Default `ack`.
   */
  readonly unsubscribedTypes?: 'ack' | 'dead-letter';
}

/** The generic options after defaults and checks. */
export interface ResolvedBrokerOptions {
  readonly consumerGroup: string;
  readonly consumerName: string;
  readonly maxRetries: number;
  readonly retryPolicy: RetryPolicy;
  readonly enableDlq: boolean;
  readonly maxInFlight: number;
  /** 0 = no timeout. */
  readonly handlerTimeoutMs: number;
  readonly maxDeliveries: number;
  readonly reconnectBaseDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  /** `Infinity` = no limit. */
  readonly publishTimeoutMs: number;
  readonly unsubscribedTypes: 'ack' | 'dead-letter';
}

/** The kit's defaults; a transport may pass its own for any of them (wider types than `as const`, so it can). */
export const BROKER_DEFAULTS: {
  readonly consumerGroup: string;
  readonly maxRetries: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly retryJitter: number;
  readonly enableDlq: boolean;
  readonly maxInFlight: number;
  readonly maxDeliveries: number;
  readonly reconnectBaseDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly publishTimeoutMs: number;
} = Object.freeze({
  consumerGroup: 'default',
  maxRetries: 3,
  retryBaseDelayMs: 1000,
  retryMaxDelayMs: 60_000,
  retryJitter: 0.1,
  enableDlq: true,
  maxInFlight: 10,
  maxDeliveries: 10,
  reconnectBaseDelayMs: 100,
  reconnectMaxDelayMs: 5000,
  publishTimeoutMs: 30_000,
});

/** The longest delay a Node.js timer keeps; a longer one fires at once (with a warning). */
const MAX_TIMER_MS = 2_147_483_647;

export function defaultConsumerName(): string {
  return `${hostname()}-${randomBytes(4).toString('hex')}`;
}

/**
 * Applies defaults and checks every generic option; a bad value is a ConfigError naming the
 * option exactly as the user passed it. `defaults` lets a transport keep the seed guide's
 * defaults where they differ (e.g. RabbitMQ's prefetch-driven in-flight).
 */
export function resolveBrokerOptions(options: BrokerBusOptions, defaults: Partial<typeof BROKER_DEFAULTS> = {}): ResolvedBrokerOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError('options', 'pass an options object, e.g. new RedisEventBus({ consumerGroup: "orders" }).');
  }
  const d = { ...BROKER_DEFAULTS, ...defaults };
  const maxRetries = integer('maxRetries', options.maxRetries ?? d.maxRetries, 0);
  // Checked here, not left to RetryPolicy: its errors name its own options (`maxDelayMs`, `jitter`).
  const retryBaseDelayMs = milliseconds('retryBaseDelayMs', options.retryBaseDelayMs ?? d.retryBaseDelayMs, 0);
  const retryMaxDelayMs = milliseconds('retryMaxDelayMs', options.retryMaxDelayMs ?? d.retryMaxDelayMs, 0);
  if (retryMaxDelayMs < retryBaseDelayMs) {
    throw new ConfigError('retryMaxDelayMs', `must be >= retryBaseDelayMs (${retryBaseDelayMs} ms); received ${retryMaxDelayMs} ms.`);
  }
  const retryJitter = options.retryJitter ?? d.retryJitter;
  if (typeof retryJitter !== 'number' || !(retryJitter >= 0 && retryJitter <= 1)) {
    throw new ConfigError('retryJitter', `must be a fraction from 0 to 1 (0.1 = ±10%); received ${String(retryJitter)}.`);
  }
  const retryPolicy = new RetryPolicy({ baseDelayMs: retryBaseDelayMs, maxDelayMs: retryMaxDelayMs, jitter: retryJitter, maxRetries });
  const reconnectBaseDelayMs = milliseconds('reconnectBaseDelayMs', options.reconnectBaseDelayMs ?? d.reconnectBaseDelayMs, 1);
  const reconnectMaxDelayMs = milliseconds('reconnectMaxDelayMs', options.reconnectMaxDelayMs ?? d.reconnectMaxDelayMs, 1);
  if (reconnectMaxDelayMs < reconnectBaseDelayMs) {
    throw new ConfigError('reconnectMaxDelayMs', `must be >= reconnectBaseDelayMs (${reconnectBaseDelayMs} ms).`);
  }
  return {
    consumerGroup: identifier('consumerGroup', options.consumerGroup ?? d.consumerGroup),
    consumerName: identifier('consumerName', options.consumerName ?? defaultConsumerName()),
    maxRetries,
    retryPolicy,
    enableDlq: boolean('enableDlq', options.enableDlq ?? d.enableDlq),
    maxInFlight: integer('maxInFlight', options.maxInFlight ?? d.maxInFlight, 1),
    handlerTimeoutMs: options.handlerTimeoutMs === undefined ? 0 : milliseconds('handlerTimeoutMs', options.handlerTimeoutMs, 1),
    maxDeliveries: integer('maxDeliveries', options.maxDeliveries ?? d.maxDeliveries, 1),
    reconnectBaseDelayMs,
    reconnectMaxDelayMs,
    publishTimeoutMs: publishTimeout(options.publishTimeoutMs ?? d.publishTimeoutMs, d.publishTimeoutMs),
    unsubscribedTypes: oneOf('unsubscribedTypes', options.unsubscribedTypes ?? 'ack', ['ack', 'dead-letter']),
  };
}

/**
 * 0 is refused rather than read as "off": it would as well mean "fail every publish at once", and
 * a config typo must not silently remove the bound. No limit is spelled `Infinity`, on purpose.
 */
function publishTimeout(value: unknown, byDefault: number): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > MAX_TIMER_MS) {
    throw new ConfigError(
      'publishTimeoutMs',
      `must be a number of milliseconds from 1 to ${MAX_TIMER_MS} (about 24.8 days), or Infinity for no limit; received ${String(value)}. ` +
        `It bounds how long publish() waits for the broker (default ${byDefault}).`,
    );
  }
  return value;
}

// ── validators, shared with every transport's own options ───────────────────

/** A non-empty string without white space (group, consumer, prefix, exchange names). */
export function identifier(option: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || /\s/.test(value)) {
    throw new ConfigError(option, `must be a non-empty string without spaces; received ${JSON.stringify(value)}.`);
  }
  return value;
}

export function integer(option: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(option, `must be an integer ${range}; received ${String(value)}.`);
  }
  return value;
}

/** A duration; every duration option's name ends in `Ms`. */
export function milliseconds(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new ConfigError(option, `must be a number of milliseconds >= ${min}; received ${String(value)}.`);
  }
  return value;
}

export function boolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigError(option, `must be true or false; received ${String(value)}.`);
  return value;
}

export function oneOf<const T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(option, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}; received ${JSON.stringify(value)}.`);
  }
  return value as T;
}
