import type { Envelope, Logger } from '@eventsource/core';
import type { AdapterKit, BrokerAdapter, ConnectionState, DeadLetterWrite, DeliverySink, RetryWrite, SuccessorWrite } from '@eventsource/core/transport';
import type { RedisEventBusOptions, ResolvedConfig } from './config.js';
import { Connections, isPermanentReplyError } from './connection.js';
import { Consumer } from './consumer.js';
import { DeadLetters } from './dlq.js';
import { Lease } from './lease.js';
import { Publisher } from './publisher.js';
import { RedisSettlement, type RedisDelivery } from './settle.js';
import { newRedisCounters, type RedisCounters } from './stats.js';

/**
 * Redis Streams behind the broker kit: one stream shared by every group, per-group retry
 * schedules and dead-letter streams, settlement by XACK (batched by the kit) or by a script that
 * writes the successor and acknowledges in one step.
 */
export class RedisAdapter implements BrokerAdapter<RedisDelivery> {
  readonly system = 'redis';
  readonly settlement = 'ack' as const;
  readonly destination: string;
  readonly connections: Connections;
  readonly consumer: Consumer;
  readonly deadLetters: DeadLetters;
  readonly counters: RedisCounters = newRedisCounters();
  readonly #publisher: Publisher;
  readonly #settle: RedisSettlement;
  readonly #logger: Logger;
  #warnedEviction = false;

  constructor(options: RedisEventBusOptions, config: ResolvedConfig, kit: AdapterKit) {
    this.destination = config.keys.stream;
    this.#logger = kit.logger;
    this.connections = new Connections(options, config, kit.logger);
    this.#publisher = new Publisher(config);
    this.#settle = new RedisSettlement(this.connections, config, kit.logger, (delay) => this.consumer.onRetryScheduled(delay));
    const lease = new Lease(this.connections, config, kit.logger, (deliveries) => this.#settle.handBack(deliveries));
    this.consumer = new Consumer(this.connections, config, kit.logger, this.counters, lease);
    this.deadLetters = new DeadLetters(config, () => this.connections.commands);
  }

  get reconnections(): number {
    return this.connections.reconnections;
  }

  async connect(): Promise<void> {
    await this.connections.connect();
    // Evicted keys lose retries, dead letters, even the stream, without a trace: warn at once (as BullMQ does).
    const policy = await this.connections.evictionPolicy();
    if (policy !== undefined && policy !== 'noeviction' && !this.#warnedEviction) {
      this.#warnedEviction = true;
      this.#logger.warn(
        `IMPORTANT: Redis maxmemory-policy is "${policy}", not "noeviction". Under memory pressure Redis may evict this bus's keys ` +
          '(scheduled retries, dead letters, even the stream) and those events are lost. Set maxmemory-policy noeviction ' +
          '(CONFIG SET maxmemory-policy noeviction, or in redis.conf / your provider\u2019s settings).',
        { where: this.connections.where, policy },
      );
    }
  }

  async close(): Promise<void> {
    if (this.consumer.consumedOnce && this.connections.commands.status === 'ready') await this.consumer.leaveGroup();
    await this.connections.close();
  }

  connectionState(): ConnectionState {
    return this.connections.state();
  }

  async publish(envelopes: readonly Envelope[]): Promise<void> {
    await this.#publisher.publish(this.connections.commands, envelopes);
  }

  consume(sink: DeliverySink<RedisDelivery>): Promise<void> {
    return this.consumer.consume(sink);
  }

  stopSources(): Promise<void> {
    return this.consumer.stop();
  }

  ack(deliveries: readonly RedisDelivery[]): Promise<void> {
    return this.#settle.ack(deliveries);
  }

  writeRetry(delivery: RedisDelivery, retry: RetryWrite): Promise<SuccessorWrite> {
    return this.#settle.writeRetry(delivery, retry);
  }

  writeDeadLetter(delivery: RedisDelivery, letter: DeadLetterWrite): Promise<SuccessorWrite> {
    return this.#settle.writeDeadLetter(delivery, letter);
  }

  handBack(deliveries: readonly RedisDelivery[]): Promise<void> {
    return this.#settle.handBack(deliveries);
  }

  recordStart(delivery: RedisDelivery): Promise<number> {
    return this.#settle.recordStart(delivery);
  }

  isPermanentError(error: unknown): boolean {
    return isPermanentReplyError(error);
  }
}
