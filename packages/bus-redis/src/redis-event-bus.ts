import {
  BusClosedError,
  ConfigError,
  EnvelopeCodec,
  NotConnectedError,
  TransportError,
  type BrokerEventBus,
  type BusHealth,
  type DeadLetterMessage,
  type DomainEvent,
  type ShutdownResult,
} from '@eventsource/core';
import { EventBusBase, MessageProcessor, errorMessage } from '@eventsource/core/transport';
import { resolveConfig, type RedisEventBusOptions, type ResolvedConfig } from './config.js';
import { Connections, redact } from './connection.js';
import { Consumer } from './consumer.js';
import { DeadLetters } from './dlq.js';
import { Publisher } from './publisher.js';
import { newCounters, type MutableCounters, type RedisEventBusStats } from './stats.js';
import { honestLag, pairs, trimmedBeforeRead } from './stream-info.js';

/** What `getStreamInfo()` returns. */
export interface RedisStreamInfo {
  readonly stream: string;
  /** Entries in the stream now (after trimming). */
  readonly length: number;
  readonly groups: ReadonlyArray<{
    readonly name: string;
    readonly consumers: number;
    /** Entries read by the group and not yet acknowledged. */
    readonly pending: number;
    readonly lastDeliveredId: string;
    /**
     * Entries in the stream not yet read by the group: Redis 7's counter, but 0 once the group
     * has read the newest entry and never more than the stream's length (Redis keeps counting
     * trimmed entries the group skipped). null when Redis cannot tell (before 7.0, or entries were
     * deleted past the group's position). Entries trimmed before the group read them are not in
     * it: see `trimmedBeforeRead`.
     */
    readonly lag: number | null;
    /**
     * Entries trimmed (or deleted) from the stream before this group read them, while the group
     * has not yet read past the gap; 0 when none; null when Redis cannot tell. Nonzero means
     * the group lost events: raise maxLen / maxAgeMs.
     */
    readonly trimmedBeforeRead: number | null;
  }>;
  /** Members of this bus's group. */
  readonly consumers: ReadonlyArray<{ readonly name: string; readonly pending: number; readonly idleMs: number }>;
  readonly consumerGroup: string;
  /** This group's entries read and not yet acknowledged. */
  readonly pendingMessages: number;
  /** This group's retries waiting for their time. */
  readonly scheduledRetries: number;
  readonly dlqStream: string;
  readonly dlqMessages: number;
}

/**
 * Redis Streams transport. Every event goes to one stream, `{streamPrefix}:stream`; each consumer
 * group gets every event and its members share them. Delivery is at-least-once: an entry is
 * acknowledged only after its handlers succeeded, or after its retry or dead letter is written.
 *
 * ```ts
 * const bus = new RedisEventBus({ redisUrl: 'redis://localhost:6379', streamPrefix: 'myapp', consumerGroup: 'order-service' });
 * await bus.connect();
 * bus.subscribe(OrderCreated, orderHandler);
 * bus.startConsumingInBackground();
 * await bus.publish([event]);
 * await bus.shutdown();
 * ```
 */
export class RedisEventBus extends EventBusBase implements BrokerEventBus {
  readonly config: ResolvedConfig;
  readonly #connections: Connections;
  readonly #codec: EnvelopeCodec;
  readonly #publisher: Publisher;
  readonly #consumer: Consumer;
  readonly #deadLetters: DeadLetters;
  readonly #counters: MutableCounters = newCounters();
  #connected = false;
  #consumeRequested = false;
  #warnedNoSubscriptions = false;
  #consumedOnce = false;

  constructor(options: RedisEventBusOptions = {}) {
    super(options);
    this.config = resolveConfig(options);
    this.#codec = new EnvelopeCodec({
      registry: options.registry,
      maxBodyBytes: options.maxBodyBytes,
      validatePayloads: options.validatePayloads,
    });
    this.#connections = new Connections(options, this.config, this.logger);
    this.#publisher = new Publisher(this.config, this.#codec, this.tracer);
    const processor = new MessageProcessor({
      codec: this.#codec,
      subscriptions: this.subscriptions,
      tracer: this.tracer,
      retryPolicy: this.config.retryPolicy,
      spanAttributes: {
        'messaging.system': 'redis',
        'messaging.destination.name': this.config.keys.stream,
        'messaging.consumer.group.name': this.config.consumerGroup,
      },
    });
    this.#consumer = new Consumer(this.#connections, this.config, processor, this.logger, this.#counters);
    this.#deadLetters = new DeadLetters(this.config, this.#codec);
  }

  /** Opens the command connection. The blocking-read connection opens when consuming starts. */
  async connect(): Promise<void> {
    this.#assertOpen('connect');
    await this.#connections.connect();
    this.#connected = true;
  }

  /**
   * Consumes until stopConsuming() or shutdown(); resolves when consumption has stopped. Started
   * while Redis is unreachable, it waits for Redis (health() says why meanwhile); it rejects with
   * TransportError only when Redis refuses for good (permissions, a key of the wrong type), and
   * health() then stays unhealthy until stopConsuming().
   */
  async startConsuming(): Promise<void> {
    this.#assertUsable('startConsuming');
    this.#consumeRequested = true;
    this.#consumedOnce = true;
    if (!this.#warnedNoSubscriptions && this.getSubscriberCount() + this.getWildcardSubscriberCount() === 0) {
      this.#warnedNoSubscriptions = true;
      this.logger.warn(
        'Consuming started with no subscriptions: every entry this group reads is acknowledged as skipped. Subscribe before startConsuming().',
        { stream: this.config.keys.stream, group: this.config.consumerGroup },
      );
    }
    try {
      await this.#consumer.start();
    } catch (error) {
      if (error instanceof TransportError) throw error;
      throw new TransportError(`Consuming from ${this.config.keys.stream} stopped: ${redact(errorMessage(error))}`, { cause: error });
    }
  }

  startConsumingInBackground(): { readonly done: Promise<void> } {
    const done = this.startConsuming();
    done.catch((error: unknown) => this.logger.error('Consumer stopped with an error', { error: redact(errorMessage(error)) }));
    return { done };
  }

  /** Stops fetching; entries already fetched are handled and settled before this resolves. */
  async stopConsuming(): Promise<void> {
    this.#consumeRequested = false;
    await this.#consumer.stop();
  }

  health(): BusHealth {
    if (!this.#connected) {
      return { healthy: false, connected: false, consuming: false, lastError: this.isClosed ? 'bus is shut down' : 'connect() has not been called', since: undefined };
    }
    return this.#connections.health(this.#consumeRequested, this.#consumer.running, this.#consumer.problem);
  }

  /** Before connect() even a background publish is refused at once, not accepted and then lost. */
  protected override assertCanPublish(): void {
    if (!this.#connected) throw this.isClosed ? new BusClosedError('publish') : new NotConnectedError('publish');
  }

  protected async publishNow(events: readonly DomainEvent[]): Promise<void> {
    if (!this.#connected) throw this.isClosed ? new BusClosedError('publish') : new NotConnectedError('publish');
    await this.#publisher.publish(this.#connections.commands, events);
    this.#counters.eventsPublished += events.length;
  }

  getStats(): RedisEventBusStats {
    return {
      ...this.#counters,
      reconnections: this.#connections.reconnections,
      backgroundTasksCreated: this.background.created,
      backgroundTasksCompleted: this.background.completed,
    };
  }

  // ── dead letters ───────────────────────────────────────────────────────────

  /** Oldest first, at most `count` (default 100); `count: 0` returns []. */
  getDlqMessages(options: { count?: number } = {}): Promise<DeadLetterMessage[]> {
    const count = options.count ?? 100;
    if (!Number.isInteger(count) || count < 0) {
      return Promise.reject(new ConfigError('count', `must be an integer >= 0; received ${String(count)}.`));
    }
    if (count === 0) return this.#admin('getDlqMessages', () => Promise.resolve([]));
    return this.#admin('getDlqMessages', (client) => this.#deadLetters.list(client, count));
  }

  getDlqMessageCount(): Promise<number> {
    return this.#admin('getDlqMessageCount', (client) => this.#deadLetters.count(client));
  }

  replayDlqMessage(id: string): Promise<void> {
    return this.#admin('replayDlqMessage', (client) => this.#deadLetters.replay(client, id));
  }

  replayAllDlqMessages(): Promise<number> {
    return this.#admin('replayAllDlqMessages', (client) => this.#deadLetters.replayAll(client));
  }

  purgeDlq(): Promise<number> {
    return this.#admin('purgeDlq', (client) => this.#deadLetters.purge(client));
  }

  /** Stream length, groups and their consumers, this group's pending entries, retries and dead letters. */
  getStreamInfo(): Promise<RedisStreamInfo> {
    return this.#admin('getStreamInfo', async (client) => {
      const { keys, consumerGroup } = this.config;
      const [length, streamRaw, groupsRaw, consumersRaw, scheduledRetries, dlqMessages] = await Promise.all([
        client.call('XLEN', [keys.stream]).then(Number),
        client.call('XINFO', ['STREAM', keys.stream]).catch(() => []),
        client.call('XINFO', ['GROUPS', keys.stream]).catch(() => []),
        client.call('XINFO', ['CONSUMERS', keys.stream, consumerGroup]).catch(() => []),
        client.call('ZCARD', [keys.retrySchedule]).then(Number),
        client.call('XLEN', [keys.dlq]).then(Number),
      ]);
      const stream = pairs(streamRaw);
      const groups = (groupsRaw as unknown[]).map((raw) => {
        const g = pairs(raw);
        return {
          name: String(g.name),
          consumers: Number(g.consumers ?? 0),
          pending: Number(g.pending ?? 0),
          lastDeliveredId: String(g['last-delivered-id'] ?? ''),
          lag: honestLag(stream, g, length),
          trimmedBeforeRead: trimmedBeforeRead(stream, g) ?? null,
        };
      });
      const consumers = (consumersRaw as unknown[]).map((raw) => {
        const c = pairs(raw);
        return { name: String(c.name), pending: Number(c.pending ?? 0), idleMs: Number(c.idle ?? 0) };
      });
      return {
        stream: keys.stream,
        length,
        groups,
        consumers,
        consumerGroup,
        pendingMessages: groups.find((g) => g.name === consumerGroup)?.pending ?? 0,
        scheduledRetries,
        dlqStream: keys.dlq,
        dlqMessages,
      };
    });
  }

  protected override async performShutdown(deadline: number): Promise<ShutdownResult> {
    this.#consumeRequested = false;
    const consumerDrained = await this.#consumer.stop(deadline);
    if (consumerDrained && this.#consumedOnce && this.#connected) await this.#consumer.leaveGroup();
    const result = await this.drainBackground(deadline);
    await this.#connections.close();
    this.#connected = false;
    return { drained: consumerDrained && result.drained, pendingBackgroundTasks: result.pendingBackgroundTasks };
  }

  async #admin<T>(operation: string, run: (client: Connections['commands']) => Promise<T>): Promise<T> {
    this.#assertUsable(operation);
    try {
      return await run(this.#connections.commands);
    } catch (error) {
      if (error instanceof Error && 'code' in error && typeof error.code === 'string' && error.code.startsWith('ES_')) throw error;
      throw new TransportError(`${operation}() failed: ${redact(errorMessage(error))}`, { cause: error });
    }
  }

  #assertOpen(operation: string): void {
    if (this.isClosed) throw new BusClosedError(operation);
  }

  #assertUsable(operation: string): void {
    this.#assertOpen(operation);
    if (!this.#connected) throw new NotConnectedError(operation);
  }
}
