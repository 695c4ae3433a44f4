import { ConfigError, type BrokerBusOptions } from '@eventsource/core';
import { boolean, identifier, integer, milliseconds, oneOf } from '@eventsource/core/transport';
import { topicNames, type KafkaTopics } from './topics.js';

export type KafkaAcks = 'all' | 1 | 0;
export type KafkaCompression = 'gzip' | 'snappy' | 'lz4' | 'zstd' | 'none';
export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

/** SASL credentials; the password never appears in logs or errors. */
export interface KafkaSaslOptions {
  readonly mechanism: KafkaSaslMechanism;
  readonly username: string;
  readonly password: string;
}

/** TLS to the brokers. PEM strings (not file paths), so secrets can come from a vault. */
export interface KafkaSslOptions {
  /** CA certificate(s) that signed the brokers' certificates. Default: the system's CAs. */
  readonly ca?: string;
  /** Client certificate for mutual TLS. */
  readonly cert?: string;
  /** Private key of `cert`. */
  readonly key?: string;
  /** Passphrase of `key`. */
  readonly keyPassword?: string;
  /** Check the broker's host name against its certificate. Default true. */
  readonly verifyHostname?: boolean;
}

/** Options of {@link KafkaEventBus}. Every one has a default; see the README's table. */
export interface KafkaEventBusOptions extends BrokerBusOptions {
  /** `host:port[,host:port]`, or a list. Default `localhost:9092`. */
  readonly bootstrapServers?: string | readonly string[];
  /** Names every topic of this bus (see "Topic layout" in the README). Default `events`. */
  readonly topicPrefix?: string;
  /** Producer acknowledgements: `all` (every in-sync replica), 1 (the leader) or 0 (none). Default `all`. */
  readonly acks?: KafkaAcks;
  /** Producer compression. Default `gzip`. */
  readonly compressionType?: KafkaCompression;
  /** Idempotent producer: no duplicates or reordering from producer retries. Needs acks `all`. Default true. */
  readonly idempotent?: boolean;
  /** How long the producer waits to fill a batch, in ms. Default 5. */
  readonly lingerMs?: number;
  /** Most messages in one producer batch. Default 10000. */
  readonly batchNumMessages?: number;
  /** Most bytes in one producer batch. Default 1000000. */
  readonly batchSizeBytes?: number;
  /** A consumer silent this long is removed from the group, in ms. Default 30000. */
  readonly sessionTimeoutMs?: number;
  /** Heartbeat interval to the group coordinator, in ms. Default 3000. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Longest time between two polls before the group removes this consumer, in ms. The bus keeps
   * polling while handlers run (busy partitions are paused), so long handlers do not need a
   * larger value. Default 300000.
   */
  readonly maxPollIntervalMs?: number;
  /** Where a group with no committed offset starts reading. Default `earliest`. */
  readonly autoOffsetReset?: 'earliest' | 'latest';
  /** How long the broker may hold a fetch waiting for data, in ms. Lower means lower latency, more requests. Default 100. */
  readonly fetchWaitMaxMs?: number;
  /** Messages taken from the client per poll. Default 500. */
  readonly batchSize?: number;
  /** Partitions of the main and retry topics when this bus creates them. Default 6. */
  readonly partitions?: number;
  /** Replication factor of the topics this bus creates. Default 1 (use 3 in production clusters). */
  readonly replicationFactor?: number;
  /** Create missing topics on connect(). Default true. */
  readonly createTopics?: boolean;
  /** `cooperative-sticky` moves only the partitions that change owner; `range` or `roundrobin` revoke everything. Default `cooperative-sticky`. */
  readonly partitionAssignmentStrategy?: 'cooperative-sticky' | 'range' | 'roundrobin';
  /** Gauges (consumer lag) and counters (rebalances, plus the kit's) through `metrics`. Default true. */
  readonly enableMetrics?: boolean;
  readonly sasl?: KafkaSaslOptions;
  /** `true` for TLS with the system's CAs, or the PEMs to use. Default off. */
  readonly ssl?: boolean | KafkaSslOptions;
  /** `client.id` prefix, shown in broker logs and quotas. Default `eventsource`. */
  readonly clientId?: string;
  /**
   * Extra librdkafka properties merged over the bus's own (e.g. `{ 'socket.keepalive.enable': true }`).
   * `enable.auto.commit`, `group.id` and the rebalance callback stay the bus's.
   */
  readonly librdkafka?: Readonly<Record<string, string | number | boolean>>;
}

/** The seed guide's name for the options (`KafkaEventBusConfig`); the same type. */
export type KafkaEventBusConfig = KafkaEventBusOptions;

export interface ResolvedKafkaConfig {
  readonly bootstrapServers: string;
  readonly topicPrefix: string;
  readonly consumerGroup: string;
  readonly consumerName: string;
  /** The kit's reconnect pace, handed to librdkafka's own broker reconnects too. */
  readonly reconnectBaseDelayMs: number;
  readonly reconnectMaxDelayMs: number;
  readonly acks: KafkaAcks;
  readonly compressionType: KafkaCompression;
  readonly idempotent: boolean;
  readonly lingerMs: number;
  readonly batchNumMessages: number;
  readonly batchSizeBytes: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxPollIntervalMs: number;
  readonly autoOffsetReset: 'earliest' | 'latest';
  readonly fetchWaitMaxMs: number;
  readonly batchSize: number;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly createTopics: boolean;
  readonly partitionAssignmentStrategy: 'cooperative-sticky' | 'range' | 'roundrobin';
  readonly enableMetrics: boolean;
  readonly clientId: string;
  readonly sasl: KafkaSaslOptions | undefined;
  readonly ssl: KafkaSslOptions | undefined;
  readonly librdkafka: Readonly<Record<string, string | number | boolean>>;
  readonly topics: KafkaTopics;
}

export const KAFKA_DEFAULTS = {
  bootstrapServers: 'localhost:9092',
  topicPrefix: 'events',
  consumerGroup: 'default',
  acks: 'all',
  compressionType: 'gzip',
  idempotent: true,
  lingerMs: 5,
  batchNumMessages: 10_000,
  batchSizeBytes: 1_000_000,
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3000,
  maxPollIntervalMs: 300_000,
  autoOffsetReset: 'earliest',
  fetchWaitMaxMs: 100,
  batchSize: 500,
  partitions: 6,
  replicationFactor: 1,
  createTopics: true,
  partitionAssignmentStrategy: 'cooperative-sticky',
  enableMetrics: true,
  clientId: 'eventsource',
} as const;

/** Properties the bus owns: overriding them through `librdkafka` would break its guarantees. */
const RESERVED = new Set(['group.id', 'enable.auto.commit', 'enable.auto.offset.store', 'rebalance_cb', 'dr_cb', 'dr_msg_cb', 'allow.auto.create.topics']);

/**
 * Checks the Kafka options. Generic options (consumerGroup, maxRetries, …) are checked by the
 * kit's resolveBrokerOptions; `consumerGroup` and `consumerName` come in resolved, so both agree.
 */
export function resolveKafkaConfig(
  options: KafkaEventBusOptions,
  generic: { consumerGroup: string; consumerName: string; reconnectBaseDelayMs: number; reconnectMaxDelayMs: number },
): ResolvedKafkaConfig {
  const bootstrapServers = servers(options.bootstrapServers ?? KAFKA_DEFAULTS.bootstrapServers);
  const topicPrefix = identifier('topicPrefix', options.topicPrefix ?? KAFKA_DEFAULTS.topicPrefix);
  if (!/^[A-Za-z0-9._-]+$/.test(topicPrefix)) {
    throw new ConfigError('topicPrefix', `may hold only letters, digits, ".", "_" and "-" (Kafka topic names); received ${JSON.stringify(topicPrefix)}.`);
  }
  const consumerGroup = generic.consumerGroup;
  if (!/^[A-Za-z0-9._-]+$/.test(consumerGroup)) {
    throw new ConfigError('consumerGroup', `names the group's retry and dead-letter topics, so it may hold only letters, digits, ".", "_" and "-"; received ${JSON.stringify(consumerGroup)}.`);
  }
  const acksValue = options.acks ?? KAFKA_DEFAULTS.acks;
  if (acksValue !== 'all' && acksValue !== 1 && acksValue !== 0) {
    throw new ConfigError('acks', `must be "all", 1 or 0; received ${JSON.stringify(acksValue)}.`);
  }
  const idempotent = boolean('idempotent', options.idempotent ?? KAFKA_DEFAULTS.idempotent);
  if (idempotent && acksValue !== 'all') {
    throw new ConfigError('acks', `an idempotent producer needs acks "all"; set idempotent: false to use acks ${String(acksValue)}.`);
  }
  const sessionTimeoutMs = int('sessionTimeoutMs', options.sessionTimeoutMs ?? KAFKA_DEFAULTS.sessionTimeoutMs, 1000);
  const heartbeatIntervalMs = int('heartbeatIntervalMs', options.heartbeatIntervalMs ?? KAFKA_DEFAULTS.heartbeatIntervalMs, 100);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw new ConfigError('heartbeatIntervalMs', `must be below sessionTimeoutMs (${sessionTimeoutMs} ms), ideally a third of it.`);
  }
  const maxPollIntervalMs = int('maxPollIntervalMs', options.maxPollIntervalMs ?? KAFKA_DEFAULTS.maxPollIntervalMs, 1000);
  const librdkafka = { ...(options.librdkafka ?? {}) };
  for (const key of Object.keys(librdkafka)) {
    if (RESERVED.has(key)) throw new ConfigError('librdkafka', `"${key}" is set by the bus and cannot be overridden.`);
  }
  return {
    bootstrapServers,
    topicPrefix,
    consumerGroup,
    consumerName: generic.consumerName,
    reconnectBaseDelayMs: generic.reconnectBaseDelayMs,
    reconnectMaxDelayMs: generic.reconnectMaxDelayMs,
    acks: acksValue,
    compressionType: oneOf('compressionType', options.compressionType ?? KAFKA_DEFAULTS.compressionType, ['gzip', 'snappy', 'lz4', 'zstd', 'none']),
    idempotent,
    lingerMs: milliseconds('lingerMs', options.lingerMs ?? KAFKA_DEFAULTS.lingerMs, 0),
    batchNumMessages: integer('batchNumMessages', options.batchNumMessages ?? KAFKA_DEFAULTS.batchNumMessages, 1, 1_000_000),
    batchSizeBytes: integer('batchSizeBytes', options.batchSizeBytes ?? KAFKA_DEFAULTS.batchSizeBytes, 1, 2_147_483_647),
    sessionTimeoutMs,
    heartbeatIntervalMs,
    maxPollIntervalMs,
    autoOffsetReset: oneOf('autoOffsetReset', options.autoOffsetReset ?? KAFKA_DEFAULTS.autoOffsetReset, ['earliest', 'latest']),
    fetchWaitMaxMs: int('fetchWaitMaxMs', options.fetchWaitMaxMs ?? KAFKA_DEFAULTS.fetchWaitMaxMs, 0),
    batchSize: integer('batchSize', options.batchSize ?? KAFKA_DEFAULTS.batchSize, 1, 100_000),
    partitions: integer('partitions', options.partitions ?? KAFKA_DEFAULTS.partitions, 1, 10_000),
    replicationFactor: integer('replicationFactor', options.replicationFactor ?? KAFKA_DEFAULTS.replicationFactor, 1, 32),
    createTopics: boolean('createTopics', options.createTopics ?? KAFKA_DEFAULTS.createTopics),
    partitionAssignmentStrategy: oneOf('partitionAssignmentStrategy', options.partitionAssignmentStrategy ?? KAFKA_DEFAULTS.partitionAssignmentStrategy, [
      'cooperative-sticky',
      'range',
      'roundrobin',
    ]),
    enableMetrics: boolean('enableMetrics', options.enableMetrics ?? KAFKA_DEFAULTS.enableMetrics),
    clientId: identifier('clientId', options.clientId ?? KAFKA_DEFAULTS.clientId),
    sasl: sasl(options.sasl),
    ssl: ssl(options.ssl),
    librdkafka,
    topics: topicNames(topicPrefix, consumerGroup),
  };
}

function servers(value: unknown): string {
  const list = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? (value as unknown[]) : undefined;
  if (!list || list.length === 0) {
    throw new ConfigError('bootstrapServers', `must be "host:port[,host:port]" or a list of "host:port"; received ${JSON.stringify(value)}.`);
  }
  const out: string[] = [];
  for (const item of list) {
    const entry = typeof item === 'string' ? item.trim() : '';
    if (!/^(\[[0-9a-fA-F:]+\]|[^\s:/@,[\]]+):\d{1,5}$/.test(entry)) {
      throw new ConfigError(
        'bootstrapServers',
        `each server must be host:port without a scheme or credentials (put those in sasl/ssl); received ${JSON.stringify(typeof item === 'string' ? item.replace(/\/\/[^@]*@/, '//***@') : item)}.`,
      );
    }
    out.push(entry);
  }
  return out.join(',');
}

function int(option: string, value: unknown, min: number): number {
  return integer(option, value, min, 2_147_483_647);
}

function sasl(value: KafkaSaslOptions | undefined): KafkaSaslOptions | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') throw new ConfigError('sasl', 'must be { mechanism, username, password }.');
  const mechanism = oneOf('sasl.mechanism', value.mechanism, ['plain', 'scram-sha-256', 'scram-sha-512']);
  if (typeof value.username !== 'string' || value.username.length === 0) throw new ConfigError('sasl.username', 'must be a non-empty string.');
  // Never echo the password, not even its type's value.
  if (typeof value.password !== 'string' || value.password.length === 0) throw new ConfigError('sasl.password', 'must be a non-empty string.');
  return { mechanism, username: value.username, password: value.password };
}

function ssl(value: boolean | KafkaSslOptions | undefined): KafkaSslOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return {};
  if (value === null || typeof value !== 'object') throw new ConfigError('ssl', 'must be true, false or { ca?, cert?, key?, keyPassword?, verifyHostname? }.');
  for (const field of ['ca', 'cert', 'key', 'keyPassword'] as const) {
    const v = value[field];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0)) throw new ConfigError(`ssl.${field}`, 'must be a non-empty PEM string when given.');
  }
  if ((value.cert === undefined) !== (value.key === undefined)) throw new ConfigError('ssl', 'mutual TLS needs both cert and key.');
  if (value.verifyHostname !== undefined) boolean('ssl.verifyHostname', value.verifyHostname);
  return value;
}

/** librdkafka security properties for `config`. Holds secrets: never log the result. */
export function securityProperties(config: Pick<ResolvedKafkaConfig, 'sasl' | 'ssl'>): Record<string, string | boolean> {
  const { sasl: auth, ssl: tls } = config;
  const props: Record<string, string | boolean> = {};
  props['security.protocol'] = auth ? (tls ? 'sasl_ssl' : 'sasl_plaintext') : tls ? 'ssl' : 'plaintext';
  if (auth) {
    props['sasl.mechanisms'] = auth.mechanism.toUpperCase();
    props['sasl.username'] = auth.username;
    props['sasl.password'] = auth.password;
  }
  if (tls) {
    if (tls.ca !== undefined) props['ssl.ca.pem'] = tls.ca;
    if (tls.cert !== undefined) props['ssl.certificate.pem'] = tls.cert;
    if (tls.key !== undefined) props['ssl.key.pem'] = tls.key;
    if (tls.keyPassword !== undefined) props['ssl.key.password'] = tls.keyPassword;
    props['ssl.endpoint.identification.algorithm'] = tls.verifyHostname === false ? 'none' : 'https';
  }
  return props;
}
