import { noopMetrics, type BusStats } from '@eventsource/core';
import { BrokerEventBusBase } from '@eventsource/core/transport';
import { KafkaAdapter, type KafkaTopicInfo } from './adapter.js';
import { KAFKA_DEFAULTS, resolveKafkaConfig, type KafkaEventBusOptions, type ResolvedKafkaConfig } from './config.js';
import type { KafkaDelivery } from './delivery.js';

/** getStats() of a {@link KafkaEventBus}: the kit's counters plus the consumer's partitions. */
export interface KafkaBusStats extends BusStats {
  /** Rebalance callbacks (assign, revoke) this consumer handled. */
  readonly rebalances: number;
  /** Partitions (main and retry topic) this consumer holds now. */
  readonly assignedPartitions: number;
  /** Of those, paused now (queue full, a busy partition, a retry not yet due). */
  readonly pausedPartitions: number;
}

/**
 * Kafka transport. Events are keyed by aggregate id, so one aggregate stays on one partition and
 * its events are handled in order. Offsets are committed only past settled records; retries and
 * dead letters go to topics of this consumer group only.
 *
 * ```ts
 * await using bus = new KafkaEventBus({ bootstrapServers: 'localhost:9092', consumerGroup: 'projections' });
 * await bus.connect();
 * bus.subscribe(OrderCreated, (event) => project(event));
 * bus.startConsumingInBackground();
 * ```
 */
export class KafkaEventBus extends BrokerEventBusBase<KafkaDelivery> {
  readonly #kafka: KafkaAdapter;
  readonly #config: ResolvedKafkaConfig;

  constructor(options: KafkaEventBusOptions = {}) {
    let adapter: KafkaAdapter | undefined;
    let config: ResolvedKafkaConfig | undefined;
    const batchSize = typeof options?.batchSize === 'number' ? options.batchSize : KAFKA_DEFAULTS.batchSize;
    super(
      { ...options, metrics: options?.enableMetrics === false ? noopMetrics : options?.metrics },
      (kit) => {
        config = resolveKafkaConfig(options, kit.options);
        adapter = new KafkaAdapter(config, kit);
        return adapter;
      },
      { queueCapacity: Math.max(2, batchSize * 2) },
    );
    this.#kafka = adapter!;
    this.#config = config!;
  }

  /** The topic names this bus uses (see "Topic layout" in the README). */
  get topics(): ResolvedKafkaConfig['topics'] {
    return this.#config.topics;
  }

  override getStats(): KafkaBusStats {
    const source = this.#kafka.source;
    return {
      ...this.kitStats(),
      rebalances: source.assignments.rebalances,
      assignedPartitions: source.assignments.size,
      pausedPartitions: source.pausedPartitions,
    };
  }

  /** Watermarks, the group's committed offsets and lag per partition, pending retries and dead letters. */
  getTopicInfo(): Promise<KafkaTopicInfo> {
    return this.admin('getTopicInfo', () => this.#kafka.topicInfo());
  }
}
