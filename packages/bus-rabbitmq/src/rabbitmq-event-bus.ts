import type { BusStats } from '@eventsource/core';
import {
  BrokerEventBusBase,
  type AdapterKit,
  type BrokerAdapter,
  type ConnectionState,
  type DeadLetterWrite,
  type DeliverySink,
  type RetryWrite,
  type SuccessorWrite,
} from '@eventsource/core/transport';
import { completeConfig, consumerTimeoutWarning, kitDefaults, resolveSettings, type RabbitMQEventBusOptions, type ResolvedRabbitMQConfig } from './config.js';
import { RabbitMQConnection } from './connection.js';
import { ConsumerSource, type RabbitMQDelivery } from './consumer.js';
import { RabbitMQDeadLetters } from './dlq.js';
import { ConfirmPublisher, PublishRefusedError, messageProperties } from './publisher.js';
import { Settlement } from './settle.js';
import { bindingKeysOf, declareExchange, declareGroup, routingKeyOf } from './topology.js';

/** What getStats() returns: the kit's counters plus RabbitMQ's own. */
export interface RabbitMQEventBusStats extends BusStats {
  /** Consuming channels the broker closed because a message outlived its consumer_timeout. */
  readonly consumerTimeouts: number;
  /** Consuming channels opened again after a channel or connection close. */
  readonly channelRecoveries: number;
}

/** Queue depths of this bus's consumer group. */
export interface RabbitMQQueueInfo {
  readonly exchange: string;
  readonly queue: string;
  /** Ready messages in the group's queue (not counting ones delivered and unacknowledged). */
  readonly messages: number;
  /** Consumers attached to the group's queue, across every process. */
  readonly consumers: number;
  readonly dlq: string;
  readonly dlqMessages: number;
}

/**
 * The adapter between the broker kit and RabbitMQ: two connections (publishing and admin on one,
 * consuming on the other, so a publisher that the broker blocks under a resource alarm cannot
 * stop acknowledgements), a confirm channel, the push consumer, settlement and the DLQ.
 */
class RabbitMQAdapter implements BrokerAdapter<RabbitMQDelivery> {
  readonly system = 'rabbitmq';
  readonly settlement = 'ack';
  readonly destination: string;
  /** A publish goes to the exchange (the messaging conventions' destination for RabbitMQ); consumers read the group's queue. */
  readonly publishDestination: string;
  readonly config: ResolvedRabbitMQConfig;
  readonly publishing: RabbitMQConnection;
  readonly consuming: RabbitMQConnection;
  readonly #kit: AdapterKit;
  readonly #publisher: ConfirmPublisher;
  readonly #settlement: Settlement;
  readonly source: ConsumerSource;
  readonly deadLetters: RabbitMQDeadLetters;
  #exchangeDeclared = false;
  #consumingOpened = false;

  constructor(config: ResolvedRabbitMQConfig, kit: AdapterKit) {
    this.config = config;
    this.#kit = kit;
    this.destination = config.names.queue;
    this.publishDestination = config.exchangeName;
    this.publishing = new RabbitMQConnection(config, kit.logger, 'publisher');
    this.consuming = new RabbitMQConnection(config, kit.logger, 'consumer');
    this.#publisher = new ConfirmPublisher(this.publishing, kit.logger);
    this.#settlement = new Settlement(config, this.publishing, this.#publisher, kit.logger);
    this.source = new ConsumerSource(config, this.consuming, kit.logger, kit.codec.registry);
    this.deadLetters = new RabbitMQDeadLetters(config, this.publishing, this.#publisher);
    this.publishing.onReconnect(() => {
      this.#exchangeDeclared = false;
    });
  }

  get reconnections(): number {
    return this.publishing.reconnections + this.consuming.reconnections;
  }

  async connect(): Promise<void> {
    await this.publishing.open();
    await this.#declareExchange();
    if (this.config.groupNamed) {
      // A bus told its group declares the group's queue now: what is published from here on waits
      // for the group even before it starts consuming (an exchange drops what no queue is bound for).
      const channel = await this.publishing.channel();
      channel.on('error', () => undefined);
      try {
        await declareGroup(channel, this.config, bindingKeysOf(this.config, this.#kit.codec.registry));
      } finally {
        await channel.close().catch(() => undefined);
      }
    }
  }

  connectionState(): ConnectionState {
    const publishing = this.publishing.state();
    if (!publishing.connected || !this.#consumingOpened) return publishing;
    return this.consuming.state();
  }

  async close(deadline: number): Promise<void> {
    await Promise.all([
      this.#publisher.close(),
      this.#settlement.close(),
      this.deadLetters.close(),
      this.source.current?.channel.close().catch(() => undefined),
    ]);
    await Promise.all([this.publishing.close(deadline), this.consuming.close(deadline)]);
  }

  async publish(envelopes: Parameters<BrokerAdapter['publish']>[0]): Promise<void> {
    if (!this.#exchangeDeclared) await this.#declareExchange();
    const exchange = this.config.names.exchange;
    await this.#publisher.send(
      envelopes.map((envelope) => ({
        exchange,
        routingKey: routingKeyOf(this.config, envelope.headers),
        content: Buffer.from(envelope.body),
        options: messageProperties(envelope.headers),
      })),
    );
  }

  async consume(sink: DeliverySink<RabbitMQDelivery>): Promise<void> {
    const warning = consumerTimeoutWarning(this.config);
    if (warning) this.#kit.logger.warn(warning, { queue: this.config.names.queue });
    if (!this.#consumingOpened) {
      this.#consumingOpened = true;
      // Waits for the broker (reporting through the sink) instead of failing when it is away.
      await this.consuming.model().catch(() => undefined);
    }
    await this.source.consume(sink);
  }

  stopSources(): Promise<void> {
    return this.source.stopSources();
  }

  ack(deliveries: readonly RabbitMQDelivery[]): Promise<void> {
    return this.#settlement.ack(deliveries);
  }

  writeRetry(delivery: RabbitMQDelivery, retry: RetryWrite): Promise<SuccessorWrite> {
    return this.#settlement.writeRetry(delivery, retry);
  }

  writeDeadLetter(delivery: RabbitMQDelivery, letter: DeadLetterWrite): Promise<SuccessorWrite> {
    return this.#settlement.writeDeadLetter(delivery, letter);
  }

  handBack(deliveries: readonly RabbitMQDelivery[]): Promise<void> {
    return this.#settlement.handBack(deliveries);
  }

  isPermanentError(error: unknown): boolean {
    // 403 ACCESS_REFUSED: the user may not write there; no number of retries changes that.
    return (error as { code?: unknown }).code === 403 || (error instanceof PublishRefusedError && /ACCESS_REFUSED/.test(error.message));
  }

  async #declareExchange(): Promise<void> {
    const channel = await this.publishing.channel();
    channel.on('error', () => undefined);
    try {
      await declareExchange(channel, this.config);
      this.#exchangeDeclared = true;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }
}

/**
 * The RabbitMQ transport: publishes to an exchange with publisher confirms; each consumer group
 * reads its own durable queue, retries through per-group delay queues and dead-letters to its own
 * DLQ. The lifecycle, delivery pump, settlement order and DLQ API come from the broker kit.
 *
 * ```ts
 * const bus = new RabbitMQEventBus({ rabbitmqUrl: 'amqp://guest:guest@localhost:5672', consumerGroup: 'projections' });
 * await bus.connect();
 * bus.subscribe(OrderCreated, handler);
 * await bus.startConsuming();
 * ```
 */
export class RabbitMQEventBus extends BrokerEventBusBase<RabbitMQDelivery> {
  readonly #adapter: RabbitMQAdapter;

  constructor(options: RabbitMQEventBusOptions = {}) {
    const settings = resolveSettings(options);
    let created: RabbitMQAdapter | undefined;
    super(
      options,
      (kit) => {
        created = new RabbitMQAdapter(completeConfig(settings, kit.options), kit);
        return created;
      },
      { queueCapacity: settings.prefetchCount, defaults: kitDefaults(settings) },
    );
    this.#adapter = created!;
  }

  /** The exchange, the group's queue and its DLQ, with their depths. */
  getQueueInfo(): Promise<RabbitMQQueueInfo> {
    return this.admin('getQueueInfo', async () => {
      const { names, broker } = this.#adapter.config;
      const channel = await this.#adapter.publishing.channel();
      channel.on('error', () => undefined);
      try {
        const queue = await channel.checkQueue(names.queue).catch(() => undefined);
        let dlqMessages = 0;
        if (broker.enableDlq) {
          const dlqChannel = queue === undefined ? await this.#adapter.publishing.channel() : channel;
          dlqChannel.on('error', () => undefined);
          dlqMessages = (await dlqChannel.checkQueue(names.dlq).catch(() => undefined))?.messageCount ?? 0;
          if (dlqChannel !== channel) await dlqChannel.close().catch(() => undefined);
        }
        return {
          exchange: names.exchange,
          queue: names.queue,
          messages: queue?.messageCount ?? 0,
          consumers: queue?.consumerCount ?? 0,
          dlq: names.dlq,
          dlqMessages,
        };
      } finally {
        await channel.close().catch(() => undefined);
      }
    });
  }

  override getStats(): RabbitMQEventBusStats {
    return { ...this.kitStats(), consumerTimeouts: this.#adapter.source.consumerTimeouts, channelRecoveries: this.#adapter.source.channelRecoveries };
  }
}
