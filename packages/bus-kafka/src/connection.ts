import type { IAdminClient, KafkaConsumer, Producer } from '@confluentinc/kafka-javascript';
import type { ConnectionState } from '@eventsource/core/transport';
import { redact } from '@eventsource/core/transport';
import { securityProperties, type ResolvedKafkaConfig } from './config.js';
import { isNativeError, kafka } from './native.js';

type Properties = Record<string, string | number | boolean>;

/** librdkafka error codes meaning "cannot reach the cluster". */
const UNREACHABLE = new Set([-187 /* all brokers down */, -195 /* transport */, -193 /* resolve */]);
/**
 * The same errors by their text: the client hands `event.error` over as an Error whose code it
 * could not read (-1), with librdkafka's message lower-cased.
 */
const UNREACHABLE_TEXT = /all broker connections are down|broker transport failure|failed to resolve/i;

/** Properties every client of the bus shares: servers, security, no topic auto-creation. */
function common(config: ResolvedKafkaConfig, role: string): Properties {
  return {
    'bootstrap.servers': config.bootstrapServers,
    'client.id': `${config.clientId}-${role}-${config.consumerName}`,
    // The test broker (and many dev brokers) auto-create topics on first use, with the broker's
    // default partition count. Every topic here is created by ensureTopics() with the bus's layout.
    'allow.auto.create.topics': false,
    // librdkafka's broker connections come back on this pace, not the kit's: without it a bus whose
    // health() is green again could still wait out a 5 s librdkafka backoff before it can publish.
    'reconnect.backoff.ms': config.reconnectBaseDelayMs,
    'reconnect.backoff.max.ms': config.reconnectMaxDelayMs,
    ...securityProperties(config),
  };
}

export function producerProperties(config: ResolvedKafkaConfig): Properties {
  return {
    ...common(config, 'producer'),
    acks: config.acks === 'all' ? -1 : config.acks,
    'compression.type': config.compressionType,
    'enable.idempotence': config.idempotent,
    'linger.ms': config.lingerMs,
    'batch.num.messages': config.batchNumMessages,
    'batch.size': config.batchSizeBytes,
    dr_cb: true,
    ...config.librdkafka,
  };
}

export function consumerProperties(config: ResolvedKafkaConfig, rebalance: (error: unknown, assignment: unknown[]) => void): Record<string, unknown> {
  return {
    ...common(config, 'consumer'),
    'group.id': config.consumerGroup,
    'enable.auto.commit': false,
    'enable.auto.offset.store': false,
    'auto.offset.reset': config.autoOffsetReset,
    'session.timeout.ms': config.sessionTimeoutMs,
    'heartbeat.interval.ms': config.heartbeatIntervalMs,
    'max.poll.interval.ms': config.maxPollIntervalMs,
    'fetch.wait.max.ms': config.fetchWaitMaxMs,
    'partition.assignment.strategy': config.partitionAssignmentStrategy,
    ...config.librdkafka,
    rebalance_cb: rebalance,
  };
}

/** A group-less reader (assign, never commit) for the DLQ admin calls. */
export function readerProperties(config: ResolvedKafkaConfig): Properties {
  return {
    ...common(config, 'dlq-reader'),
    'group.id': `${config.consumerGroup}.dlq-reader`,
    'enable.auto.commit': false,
    'enable.auto.offset.store': false,
    'enable.partition.eof': true,
    'fetch.wait.max.ms': 50,
    ...config.librdkafka,
  };
}

export function adminProperties(config: ResolvedKafkaConfig): Properties {
  return { ...common(config, 'admin'), ...config.librdkafka };
}

export function createProducer(config: ResolvedKafkaConfig): Producer {
  return new kafka.Producer(producerProperties(config) as never);
}

export function createAdmin(config: ResolvedKafkaConfig): IAdminClient {
  return kafka.AdminClient.create(adminProperties(config) as never);
}

/** Connects a producer or consumer; rejects after `timeoutMs` with the client's own error. */
export function connectClient(client: Producer | KafkaConsumer, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    client.connect({ timeout: timeoutMs }, (error) => (error ? reject(error) : resolve()));
  });
}

/** Disconnects, resolving by `deadline` (ms since epoch) whatever the client does. */
export function disconnectClient(client: Producer | KafkaConsumer, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
    try {
      client.disconnect(() => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/**
 * Connection state for health(). librdkafka reconnects by itself; this only watches: an
 * "all brokers down" error starts an outage, and a probe (metadata request) every second ends it.
 */
export class ConnectionTracker {
  #lastError: string | undefined;
  #since: string | undefined;
  #probe: NodeJS.Timeout | undefined;
  reconnections = 0;

  constructor(private readonly probe: () => Promise<void>) {}

  state(): ConnectionState {
    return this.#since === undefined ? { connected: true } : { connected: false, lastError: this.#lastError, since: this.#since };
  }

  /** Feed every client's `event.error` here. */
  onError(error: unknown): void {
    if (!isNativeError(error) || !(UNREACHABLE.has(error.code) || UNREACHABLE_TEXT.test(error.message))) return;
    this.lost(error.message);
  }

  lost(message: string): void {
    this.#lastError = redact(message);
    if (this.#since !== undefined) return;
    this.#since = new Date().toISOString();
    this.#probe = setInterval(() => {
      this.probe().then(
        () => this.restored(),
        () => undefined,
      );
    }, 1000);
    this.#probe.unref();
  }

  restored(): void {
    if (this.#since === undefined) return;
    this.#since = undefined;
    this.#lastError = undefined;
    this.reconnections++;
    clearInterval(this.#probe);
    this.#probe = undefined;
  }

  close(): void {
    clearInterval(this.#probe);
    this.#probe = undefined;
  }
}
