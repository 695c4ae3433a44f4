import { ConfigError, type BrokerBusOptions } from '@eventsource/core';
import {
  boolean,
  identifier,
  integer,
  milliseconds,
  oneOf,
  resolveBrokerOptions,
  type ResolvedBrokerOptions,
} from '@eventsource/core/transport';

export type ExchangeType = 'topic' | 'direct' | 'fanout';
export type QueueType = 'classic' | 'quorum';

/** What a custom routing key is computed from: the envelope's identifying headers. */
export interface RoutingKeyInput {
  readonly eventType: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Client TLS for `amqps://` URLs. The server certificate is verified unless you turn it off. */
export interface RabbitMQTlsOptions {
  /** CA certificate(s) to trust, PEM. Default: Node's bundled roots. */
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer>;
  /** Client certificate, PEM (mutual TLS). */
  readonly cert?: string | Buffer;
  /** Client private key, PEM (mutual TLS). */
  readonly key?: string | Buffer;
  readonly passphrase?: string;
  /** Name to verify the server certificate against. Default: the URL's host. */
  readonly servername?: string;
  /** Verify the server certificate. Default true; false is for throw-away test brokers only. */
  readonly rejectUnauthorized?: boolean;
}

/** Options of {@link RabbitMQEventBus}. Every one has a default; see the README's table. */
export interface RabbitMQEventBusOptions extends BrokerBusOptions {
  /** `amqp://user:password@host:port/vhost`, or `amqps://` for TLS. Default `amqp://guest:guest@localhost:5672`. */
  readonly rabbitmqUrl?: string;
  /** Exchange every event is published to. Default `events`. */
  readonly exchangeName?: string;
  /** Default `topic`: routing key `{aggregateType}.{eventType}`. */
  readonly exchangeType?: ExchangeType;
  /** Unacknowledged messages the broker hands this consumer at once. Default 10; also maxInFlight's default. */
  readonly prefetchCount?: number;
  /** Type of the group's queue, its delay queues and its dead-letter queue. Default `quorum`. */
  readonly queueType?: QueueType;
  /** AMQP heartbeat, in ms (sent to the broker in whole seconds). Default 60000; 0 turns heartbeats off. */
  readonly heartbeatMs?: number;
  /** Client TLS for `amqps://`. */
  readonly tls?: RabbitMQTlsOptions;
  /** Dead letters older than this are dropped by the broker, in ms. Default 0: kept until replayed or purged. */
  readonly dlqMessageTtlMs?: number;
  /** Longest the dead-letter queue grows; the oldest are dropped beyond it. Default 0: unbounded. */
  readonly dlqMaxLength?: number;
  /** Routing key of a published event. Default: topic `{aggregateType}.{eventType}`, direct `{aggregateType}.{eventType}`, fanout empty. */
  readonly routingKey?: (message: RoutingKeyInput) => string;
  /**
   * Keys the group's queue is bound with. Default: topic `#` (every event), direct the routing key
   * of every event type in the registry when consuming starts, fanout none needed.
   */
  readonly bindingKeys?: readonly string[];
  /**
   * The broker's `consumer_timeout`, in ms (RabbitMQ's default is 30 minutes). A message not
   * acknowledged within it makes the broker close the channel; the bus warns at startup when
   * handlerTimeoutMs does not keep handlers inside it. Default 1800000.
   */
  readonly consumerTimeoutMs?: number;
}

/** The seed guide's name for the options (`RabbitMQEventBusConfig`); the same type. */
export type RabbitMQEventBusConfig = RabbitMQEventBusOptions;

/** Names of everything the bus declares for one consumer group. */
export interface RabbitMQNames {
  readonly exchange: string;
  /** The group's durable queue, `{exchange}.{group}`. */
  readonly queue: string;
  /** The group's dead letters, `{exchange}.{group}.dlq`. */
  readonly dlq: string;
  /** Prefix of the group's delay queues, one per delay bucket: `{exchange}.{group}.retry.{ms}`. */
  readonly retryPrefix: string;
}

/** The RabbitMQ options after defaults and checks; the generic ones are the kit's. */
export interface RabbitMQSettings {
  readonly rabbitmqUrl: string;
  readonly exchangeName: string;
  readonly exchangeType: ExchangeType;
  readonly prefetchCount: number;
  readonly queueType: QueueType;
  readonly heartbeatSeconds: number;
  readonly tls: RabbitMQTlsOptions | undefined;
  readonly dlqMessageTtlMs: number;
  readonly dlqMaxLength: number;
  readonly routingKey: ((message: RoutingKeyInput) => string) | undefined;
  readonly bindingKeys: readonly string[] | undefined;
  readonly consumerTimeoutMs: number;
  /** A consumerGroup was named: connect() declares the group's queues, so events wait for it from then on. */
  readonly groupNamed: boolean;
}

/** Everything the adapter works from: this transport's settings, the kit's generic options, and the names. */
export interface ResolvedRabbitMQConfig extends RabbitMQSettings {
  readonly broker: ResolvedBrokerOptions;
  readonly names: RabbitMQNames;
}

export const DEFAULTS = {
  rabbitmqUrl: 'amqp://guest:guest@localhost:5672',
  exchangeName: 'events',
  exchangeType: 'topic',
  prefetchCount: 10,
  queueType: 'quorum',
  heartbeatMs: 60_000,
  dlqMessageTtlMs: 0,
  dlqMaxLength: 0,
  consumerTimeoutMs: 1_800_000,
} as const;

export function rabbitmqNames(exchangeName: string, consumerGroup: string): RabbitMQNames {
  const queue = `${exchangeName}.${consumerGroup}`;
  return { exchange: exchangeName, queue, dlq: `${queue}.dlq`, retryPrefix: `${queue}.retry.` };
}

/** Checks the RabbitMQ options; the bus hands the generic ones to the kit, which checks those. */
export function resolveSettings(options: RabbitMQEventBusOptions): RabbitMQSettings {
  if (options === null || typeof options !== 'object') {
    throw new ConfigError('options', 'pass an options object, e.g. new RabbitMQEventBus({ rabbitmqUrl: "amqp://localhost" }).');
  }
  const prefetchCount = integer('prefetchCount', options.prefetchCount ?? DEFAULTS.prefetchCount, 1, 65_535);

  const rabbitmqUrl = options.rabbitmqUrl ?? DEFAULTS.rabbitmqUrl;
  let protocol: string;
  try {
    protocol = new URL(rabbitmqUrl).protocol;
  } catch {
    throw new ConfigError('rabbitmqUrl', 'is not a URL; use amqp://user:password@host:5672/vhost, or amqps:// for TLS.');
  }
  if (protocol !== 'amqp:' && protocol !== 'amqps:') {
    throw new ConfigError('rabbitmqUrl', `must start with amqp:// or amqps:// (TLS); received ${protocol}//.`);
  }
  if (options.tls !== undefined && protocol !== 'amqps:') {
    throw new ConfigError('tls', 'applies to amqps:// URLs only; change rabbitmqUrl to amqps://host:5671.');
  }
  if (options.tls?.rejectUnauthorized !== undefined) boolean('tls.rejectUnauthorized', options.tls.rejectUnauthorized);

  const exchangeName = identifier('exchangeName', options.exchangeName ?? DEFAULTS.exchangeName);
  if (exchangeName.startsWith('amq.')) {
    throw new ConfigError('exchangeName', `names starting with "amq." are reserved by RabbitMQ; received "${exchangeName}".`);
  }
  const heartbeatMs = milliseconds('heartbeatMs', options.heartbeatMs ?? DEFAULTS.heartbeatMs, 0);
  if (heartbeatMs > 0 && heartbeatMs < 1000) {
    throw new ConfigError('heartbeatMs', `AMQP heartbeats are whole seconds: use 0 (off) or >= 1000; received ${heartbeatMs}.`);
  }
  if (options.routingKey !== undefined && typeof options.routingKey !== 'function') {
    throw new ConfigError('routingKey', 'must be a function (message) => string.');
  }
  let bindingKeys: readonly string[] | undefined;
  if (options.bindingKeys !== undefined) {
    if (!Array.isArray(options.bindingKeys) || options.bindingKeys.some((key) => typeof key !== 'string')) {
      throw new ConfigError('bindingKeys', 'must be an array of strings, e.g. ["Order.*"].');
    }
    bindingKeys = [...options.bindingKeys];
  }
  return {
    rabbitmqUrl,
    exchangeName,
    exchangeType: oneOf('exchangeType', options.exchangeType ?? DEFAULTS.exchangeType, ['topic', 'direct', 'fanout']),
    prefetchCount,
    queueType: oneOf('queueType', options.queueType ?? DEFAULTS.queueType, ['classic', 'quorum']),
    heartbeatSeconds: Math.round(heartbeatMs / 1000),
    tls: options.tls,
    dlqMessageTtlMs: milliseconds('dlqMessageTtlMs', options.dlqMessageTtlMs ?? DEFAULTS.dlqMessageTtlMs, 0),
    dlqMaxLength: integer('dlqMaxLength', options.dlqMaxLength ?? DEFAULTS.dlqMaxLength, 0),
    routingKey: options.routingKey,
    bindingKeys,
    consumerTimeoutMs: milliseconds('consumerTimeoutMs', options.consumerTimeoutMs ?? DEFAULTS.consumerTimeoutMs, 1),
    groupNamed: options.consumerGroup !== undefined,
  };
}

/** The kit defaults this transport changes: one handler per prefetched message (more could never be fed, fewer leaves the window idle). */
export function kitDefaults(settings: RabbitMQSettings): KitDefaults {
  return { maxInFlight: settings.prefetchCount };
}

type KitDefaults = NonNullable<Parameters<typeof resolveBrokerOptions>[1]>;

export function completeConfig(settings: RabbitMQSettings, broker: ResolvedBrokerOptions): ResolvedRabbitMQConfig {
  return { ...settings, broker, names: rabbitmqNames(settings.exchangeName, broker.consumerGroup) };
}

/** Options checked and completed, as the bus does it; for tools and tests that need the names without a bus. */
export function resolveConfig(options: RabbitMQEventBusOptions): ResolvedRabbitMQConfig {
  const settings = resolveSettings(options);
  return completeConfig(settings, resolveBrokerOptions(options, kitDefaults(settings)));
}

/**
 * The startup check against the broker's delivery acknowledgement timeout: a handler that may run
 * past it gets its channel closed by the broker. Returns the warning to log, or undefined.
 */
export function consumerTimeoutWarning(config: ResolvedRabbitMQConfig): string | undefined {
  const { handlerTimeoutMs } = config.broker;
  // The retry copy must be confirmed and the ack sent before the broker's deadline; keep a margin.
  const budget = config.consumerTimeoutMs * 0.9;
  // Unset is the common case and core's documented default (no limit): the README explains it.
  if (handlerTimeoutMs === 0 || handlerTimeoutMs <= budget) return undefined;
  const current = `handlerTimeoutMs (${handlerTimeoutMs} ms) is not safely below it`;
  return (
    `RabbitMQ closes a consumer's channel when a message stays unacknowledged longer than its consumer_timeout ` +
    `(${config.consumerTimeoutMs} ms, per consumerTimeoutMs), and ${current}. A handler running that long makes the broker ` +
    `requeue every message of the channel; the bus reopens it and counts consumerTimeouts, but the message is started again. ` +
    `Set handlerTimeoutMs below ${Math.floor(budget)} ms, or raise consumer_timeout on the broker and consumerTimeoutMs here.`
  );
}
