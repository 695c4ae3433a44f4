import type { IAdminClient, Producer } from '@confluentinc/kafka-javascript';
import { METRIC_NAMES, NotConnectedError, type Envelope } from '@eventsource/core';
import type {
  AdapterKit,
  BrokerAdapter,
  ConnectionState,
  DeadLetterWrite,
  DeliverySink,
  RetryWrite,
  SuccessorWrite,
} from '@eventsource/core/transport';
import type { ResolvedKafkaConfig } from './config.js';
import { ConnectionTracker, connectClient, createAdmin, createProducer, disconnectClient } from './connection.js';
import { KafkaSource } from './consumer.js';
import type { KafkaDelivery } from './delivery.js';
import { KafkaDeadLetters } from './dlq.js';
import { Publisher } from './publisher.js';
import { KafkaSettlement, isPermanentKafkaError } from './settle.js';
import { committedOffsets, ensureTopics, watermarks } from './topics.js';

const CONNECT_TIMEOUT_MS = 10_000;
const ADMIN_TIMEOUT_MS = 10_000;

/** Per-partition position of the group on the main topic. */
export interface KafkaPartitionInfo {
  readonly partition: number;
  /** First offset still in the log. */
  readonly lowOffset: number;
  /** Offset the next record will get. */
  readonly highOffset: number;
  /** The group's committed offset (next to read); undefined when it committed nothing yet. */
  readonly committedOffset: number | undefined;
  /** Records the group has not committed past. */
  readonly lag: number;
}

export interface KafkaTopicInfo {
  readonly topic: string;
  readonly consumerGroup: string;
  readonly partitions: readonly KafkaPartitionInfo[];
  readonly totalLag: number;
  readonly retryTopic: string;
  /** Retry copies the group has not committed past (waiting or running). */
  readonly pendingRetries: number;
  readonly dlqTopic: string;
  readonly dlqMessages: number;
}

/** The Kafka side of the bus: how records move; the kit does the rest. */
export class KafkaAdapter implements BrokerAdapter<KafkaDelivery> {
  readonly system = 'kafka';
  readonly destination: string;
  readonly settlement = 'offset' as const;
  readonly deadLetters: KafkaDeadLetters;
  readonly source: KafkaSource;
  readonly #config: ResolvedKafkaConfig;
  readonly #kit: AdapterKit;
  readonly #tracker: ConnectionTracker;
  readonly #settlement: { current: KafkaSettlement | undefined } = { current: undefined };
  readonly #stopGauge: () => void;
  #producer: Producer | undefined;
  #publisher: Publisher | undefined;
  #admin: IAdminClient | undefined;

  constructor(config: ResolvedKafkaConfig, kit: AdapterKit) {
    this.#config = config;
    this.#kit = kit;
    this.destination = config.topics.main;
    this.#tracker = new ConnectionTracker(() => this.#probe());
    const attributes = { 'messaging.system': 'kafka', 'messaging.destination.name': config.topics.main, 'messaging.consumer.group.name': config.consumerGroup };
    const rebalances = kit.metrics.counter(METRIC_NAMES.rebalances, { description: 'Consumer-group rebalances this consumer took part in.', unit: '{rebalance}' });
    this.source = new KafkaSource({
      config,
      options: kit.options,
      logger: kit.logger,
      tracker: this.#tracker,
      onRebalance: (kind, partitions) => {
        if (kit.metrics.enabled) rebalances.add(1, { ...attributes, 'eventsource.rebalance.kind': kind });
        kit.logger.info(`Kafka rebalance: ${kind} ${partitions} partition(s)`, { group: config.consumerGroup });
      },
    });
    this.#stopGauge = kit.metrics.gauge(METRIC_NAMES.consumerLag, { description: 'Records of the topic the group has not committed past, per partition.', unit: '{message}' }, (observe) => {
      for (const { partition, lag } of this.source.lag()) observe(lag, { ...attributes, 'messaging.destination.partition.id': String(partition) });
    });
    this.deadLetters = new KafkaDeadLetters(config, () => this.#requireAdmin(), () => this.#requirePublisher());
  }

  get reconnections(): number {
    return this.#tracker.reconnections;
  }

  connectionState(): ConnectionState {
    return this.#tracker.state();
  }

  async connect(): Promise<void> {
    const producer = createProducer(this.#config);
    producer.on('event.error', (error) => this.#tracker.onError(error));
    await connectClient(producer, CONNECT_TIMEOUT_MS);
    producer.setPollInBackground(true);
    const admin = createAdmin(this.#config);
    try {
      if (this.#config.createTopics) {
        const { main, retry, dlq } = this.#config.topics;
        const { partitions } = this.#config;
        const created = await ensureTopics(
          admin,
          [
            { name: main, partitions },
            { name: retry, partitions },
            { name: dlq, partitions: 1 },
          ],
          this.#config.replicationFactor,
          ADMIN_TIMEOUT_MS,
        );
        if (created.length > 0) this.#kit.logger.info('Created Kafka topics', { topics: created });
      }
    } catch (error) {
      admin.disconnect();
      await disconnectClient(producer, Date.now() + 2000);
      throw error;
    }
    this.#producer = producer;
    this.#publisher = new Publisher(producer);
    this.#settlement.current = new KafkaSettlement(this.#publisher, this.#config.topics);
    this.#admin = admin;
  }

  async close(deadline: number): Promise<void> {
    this.#stopGauge();
    this.#tracker.close();
    await this.source.close(deadline);
    await this.deadLetters.close(deadline);
    const producer = this.#producer;
    this.#producer = undefined;
    this.#publisher = undefined;
    if (producer) {
      // Background publishes were drained by the kit; flush what librdkafka still holds.
      await new Promise<void>((resolve) => {
        try {
          producer.flush(Math.max(0, deadline - Date.now()), () => resolve());
        } catch {
          resolve();
        }
      });
      await disconnectClient(producer, Math.max(deadline, Date.now() + 1000));
    }
    this.#admin?.disconnect();
    this.#admin = undefined;
  }

  publish(envelopes: readonly Envelope[]): Promise<void> {
    return this.#requirePublisher().publish(this.#config.topics.main, envelopes);
  }

  consume(sink: DeliverySink<KafkaDelivery>): Promise<void> {
    return this.source.run(sink);
  }

  async stopSources(): Promise<void> {
    this.source.stop();
  }

  commit(offsets: ReadonlyMap<string, number>): Promise<void> {
    return this.source.commit(offsets);
  }

  writeRetry(delivery: KafkaDelivery, retry: RetryWrite): Promise<SuccessorWrite> {
    return this.#requireSettlement().writeRetry(delivery, retry);
  }

  writeDeadLetter(delivery: KafkaDelivery, letter: DeadLetterWrite): Promise<SuccessorWrite> {
    return this.#requireSettlement().writeDeadLetter(delivery, letter);
  }

  /** Nothing to give back: records past the commit point are fetched again by whoever owns the partition next. */
  async handBack(): Promise<void> {}

  isPermanentError(error: unknown): boolean {
    return isPermanentKafkaError(error);
  }

  /** Partition plus record key: one aggregate's events run in order, other keys of the partition run beside them. */
  orderingKey(delivery: KafkaDelivery): string {
    return delivery.key === null ? delivery.state.lane : `${delivery.state.lane}|${delivery.key}`;
  }

  async topicInfo(): Promise<KafkaTopicInfo> {
    const admin = this.#requireAdmin();
    const { main, retry, dlq } = this.#config.topics;
    const group = this.#config.consumerGroup;
    const [marks, retryMarks, dlqMessages] = await Promise.all([
      watermarks(admin, main, ADMIN_TIMEOUT_MS),
      watermarks(admin, retry, ADMIN_TIMEOUT_MS),
      this.deadLetters.count(),
    ]);
    const [committed, retryCommitted] = await Promise.all([
      committedOffsets(admin, group, main, marks.map((m) => m.partition), ADMIN_TIMEOUT_MS),
      committedOffsets(admin, group, retry, retryMarks.map((m) => m.partition), ADMIN_TIMEOUT_MS),
    ]);
    const partitions = marks.map((m) => {
      const c = committed.get(m.partition);
      return { partition: m.partition, lowOffset: m.low, highOffset: m.high, committedOffset: c, lag: Math.max(0, m.high - Math.max(c ?? m.low, m.low)) };
    });
    const pendingRetries = retryMarks.reduce((sum, m) => sum + Math.max(0, m.high - Math.max(retryCommitted.get(m.partition) ?? m.low, m.low)), 0);
    return {
      topic: main,
      consumerGroup: group,
      partitions,
      totalLag: partitions.reduce((sum, p) => sum + p.lag, 0),
      retryTopic: retry,
      pendingRetries,
      dlqTopic: dlq,
      dlqMessages,
    };
  }

  async #probe(): Promise<void> {
    const producer = this.#producer;
    if (!producer) throw new Error('not connected');
    await new Promise<void>((resolve, reject) => producer.getMetadata({ timeout: 1000 }, (error) => (error ? reject(error) : resolve())));
  }

  #requirePublisher(): Publisher {
    if (!this.#publisher) throw new NotConnectedError('publish');
    return this.#publisher;
  }

  #requireSettlement(): KafkaSettlement {
    if (!this.#settlement.current) throw new NotConnectedError('settle');
    return this.#settlement.current;
  }

  #requireAdmin(): IAdminClient {
    if (!this.#admin) throw new NotConnectedError('admin');
    return this.#admin;
  }
}
