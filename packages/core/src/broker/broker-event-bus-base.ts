import type { BrokerEventBus, BusHealth, DeadLetterMessage } from '../bus/broker-bus.js';
import { EventBusBase, type ShutdownResult } from '../bus/event-bus.js';
import { MessageProcessor } from '../consume/message-processor.js';
import { EnvelopeCodec, type Envelope } from '../envelope/codec.js';
import {
  BusClosedError,
  ConfigError,
  DlqMessageNotFoundError,
  NotConnectedError,
  PublishError,
  PublishTimeoutError,
  TransportError,
  errorMessage,
  isEventSourceError,
} from '../errors.js';
import type { DomainEvent } from '../events/domain-event.js';
import { METRIC_NAMES, type Counter, type MetricAttributes } from '../tracing/metrics.js';
import { SPAN_NAMES } from '../tracing/tracer.js';
import type { AdapterKit, BrokerAdapter, Delivery } from './adapter.js';
import { toDeadLetterMessage } from './dead-letters.js';
import { DeliveryPump } from './delivery-pump.js';
import { resolveBrokerOptions, type BROKER_DEFAULTS, type BrokerBusOptions, type ResolvedBrokerOptions } from './options.js';
import { redact } from './redact.js';
import { Settler } from './settler.js';
import { newKitCounters, type BusStats, type KitCounters } from './stats.js';

/** How a transport sets up the kit, beside the user's options. */
export interface BrokerKitSettings {
  /** Messages held locally before pull sources wait (Redis batchSize, AMQP prefetch). */
  readonly queueCapacity: number;
  /** The transport's own defaults where they differ from the kit's. */
  readonly defaults?: Partial<typeof BROKER_DEFAULTS>;
}

/** Longest wait for handing back never-started messages at a deadline. */
const HAND_BACK_TIMEOUT_MS = 1000;

/**
 * The broker kit's bus: everything a broker-backed `EventBus` does that does not depend on the
 * broker. A transport extends it, passing an adapter factory; the adapter does the broker I/O.
 *
 * ```ts
 * export class MyBrokerEventBus extends BrokerEventBusBase<MyDelivery> {
 *   constructor(options: MyOptions = {}) {
 *     const config = resolveMyConfig(options);
 *     super(options, (kit) => new MyAdapter(config, kit), { queueCapacity: config.batchSize });
 *   }
 * }
 * ```
 */
export abstract class BrokerEventBusBase<D extends Delivery = Delivery> extends EventBusBase implements BrokerEventBus {
  protected readonly adapter: BrokerAdapter<D>;
  /** The generic options after defaults and checks. */
  protected readonly brokerOptions: ResolvedBrokerOptions;
  protected readonly codec: EnvelopeCodec;
  protected readonly counters: KitCounters = newKitCounters();
  readonly #pump: DeliveryPump<D>;
  readonly #settler: Settler<D>;
  readonly #sent: Counter;
  readonly #metricAttributes: MetricAttributes;
  readonly #publishTo: string;
  readonly #sentAttributes: MetricAttributes;
  readonly #stopGauge: () => void;
  #connected = false;
  #consumeRequested = false;
  #consuming: Promise<void> | undefined;
  #stopping: Promise<boolean> | undefined;
  #fatal: { readonly description: string; readonly since: string } | undefined;
  #warnedNoSubscriptions = false;
  /**
   * Adapter writes still running (foreground and background), including ones whose caller was
   * already given a PublishTimeoutError: see #publishesWritten() for why shutdown waits for those.
   */
  #writing = 0;
  #writesIdle: (() => void) | undefined;

  protected constructor(options: BrokerBusOptions, createAdapter: (kit: AdapterKit) => BrokerAdapter<D>, settings: BrokerKitSettings) {
    super(options);
    this.brokerOptions = resolveBrokerOptions(options, settings.defaults);
    this.codec = new EnvelopeCodec({ registry: options.registry, maxBodyBytes: options.maxBodyBytes, validatePayloads: options.validatePayloads });
    this.adapter = createAdapter({ options: this.brokerOptions, codec: this.codec, logger: this.logger, tracer: this.tracer, metrics: this.metrics });
    const { system, destination } = this.adapter;
    const group = this.brokerOptions.consumerGroup;
    const processor = new MessageProcessor({
      codec: this.codec,
      subscriptions: this.subscriptions,
      tracer: this.tracer,
      retryPolicy: this.brokerOptions.retryPolicy,
      spanAttributes: { 'messaging.system': system, 'messaging.destination.name': destination, 'messaging.consumer.group.name': group },
      handlerTimeoutMs: this.handlerTimeoutMs,
      watch: this.handlerWatch,
      unsubscribedTypes: this.brokerOptions.unsubscribedTypes,
    });
    this.#settler = new Settler(this.adapter, this.brokerOptions, processor, this.counters, this.logger, this.metrics);
    const settler = this.#settler;
    this.#pump = new DeliveryPump<D>({
      maxInFlight: this.brokerOptions.maxInFlight,
      capacity: Math.max(1, settings.queueCapacity),
      maxDeliveries: this.brokerOptions.maxDeliveries,
      orderingKey: this.adapter.orderingKey?.bind(this.adapter),
      recordStart: this.adapter.recordStart?.bind(this.adapter),
      handle: (delivery) => settler.handle(delivery),
      poison: (delivery, starts) => settler.poison(delivery, starts),
      settling: () => settler.settling(),
      onPushed: (delivery) => settler.track(delivery),
      forgetLane: (lane) => settler.forgetLane(lane),
      flushSettlements: () => settler.flush(),
      onFenced: () => {
        this.counters.eventsFenced++;
      },
    });
    this.#metricAttributes = { 'messaging.system': system, 'messaging.destination.name': destination };
    this.#publishTo = this.adapter.publishDestination ?? destination;
    this.#sentAttributes = { 'messaging.system': system, 'messaging.destination.name': this.#publishTo };
    this.#sent = this.metrics.counter(METRIC_NAMES.sent, { description: 'Events handed to the broker by publish().', unit: '{message}' });
    this.#stopGauge = this.metrics.gauge(METRIC_NAMES.inFlight, { description: 'Handlers running now.', unit: '{message}' }, (observe) =>
      observe(this.#pump.inFlight, { ...this.#metricAttributes, 'messaging.consumer.group.name': group }),
    );
  }

  /** Opens the connections publishing and admin need. Consuming opens its own when it starts. */
  async connect(): Promise<void> {
    if (this.isClosed) throw new BusClosedError('connect');
    try {
      await this.adapter.connect();
    } catch (error) {
      throw isEventSourceError(error)
        ? error
        : new TransportError(`Could not connect to ${this.adapter.system}: ${redact(errorMessage(error))}`, { cause: error });
    }
    this.#connected = true;
  }

  /**
   * Consumes until stopConsuming() or shutdown(); resolves when consumption has stopped and what
   * was fetched is settled. Started while the broker is unreachable, it waits for it (health()
   * says why meanwhile); it rejects with TransportError only when the broker refuses for good.
   * Called while a stop is still in progress, it waits for the stop, then starts again.
   */
  async startConsuming(): Promise<void> {
    this.#assertUsable('startConsuming');
    while (this.#stopping) await this.#stopping;
    this.#assertUsable('startConsuming');
    if (this.#consuming) return this.#consuming;
    this.#consumeRequested = true;
    if (!this.#warnedNoSubscriptions && this.getSubscriberCount() + this.getWildcardSubscriberCount() === 0) {
      this.#warnedNoSubscriptions = true;
      this.logger.warn('Consuming started with no subscriptions: every message this group reads is settled as skipped. Subscribe before startConsuming().', {
        destination: this.adapter.destination,
        group: this.brokerOptions.consumerGroup,
      });
    }
    const run = this.#consume().finally(() => {
      if (this.#consuming === run) this.#consuming = undefined;
    });
    this.#consuming = run;
    return run;
  }

  /** Starts consuming and returns at once; `done` settles when consumption stops. Errors are also logged. */
  startConsumingInBackground(): { readonly done: Promise<void> } {
    const done = this.startConsuming();
    done.catch((error: unknown) => this.logger.error('Consumer stopped with an error', { error: redact(errorMessage(error)) }));
    return { done };
  }

  /** Stops fetching; messages already fetched are handled and settled before this resolves. */
  async stopConsuming(): Promise<void> {
    await this.#stop(Number.POSITIVE_INFINITY);
  }

  health(): BusHealth {
    const stuckHandlers = this.handlerWatch.stuck;
    if (!this.#connected) {
      return { healthy: false, connected: false, consuming: false, lastError: this.isClosed ? 'bus is shut down' : 'connect() has not been called', since: undefined, stuckHandlers };
    }
    const connection = this.adapter.connectionState();
    const consuming = this.#consumeRequested && this.#pump.isStarted && this.#fatal === undefined;
    const healthy = connection.connected && (!this.#consumeRequested || consuming) && stuckHandlers === 0;
    if (healthy) return { healthy, connected: true, consuming, stuckHandlers };
    const problem = this.#fatal ?? this.#pump.currentProblem;
    const stuck = stuckHandlers > 0 ? `${stuckHandlers} handler(s) running past handlerTimeoutMs` : undefined;
    return {
      healthy,
      connected: connection.connected,
      consuming,
      lastError:
        (connection.connected ? undefined : connection.lastError) ??
        problem?.description ??
        stuck ??
        (this.#consumeRequested && !consuming ? 'consumer is not running yet' : `not connected to ${this.adapter.system}`),
      since: connection.since ?? problem?.since ?? new Date().toISOString(),
      stuckHandlers,
    };
  }

  /** The generic counters; a transport's getStats() spreads them and adds its own. */
  protected kitStats(): BusStats {
    return {
      ...this.counters,
      handlerTimeouts: this.handlerWatch.timedOut,
      reconnections: this.adapter.reconnections,
      backgroundTasksCreated: this.background.created,
      backgroundTasksCompleted: this.background.completed,
    };
  }

  getStats(): BusStats {
    return this.kitStats();
  }

  // ── publishing ─────────────────────────────────────────────────────────────

  /** Before connect() even a background publish is refused at once, not accepted and then lost. */
  protected override assertCanPublish(): void {
    if (!this.#connected) throw this.isClosed ? new BusClosedError('publish') : new NotConnectedError('publish');
  }

  /**
   * Writes through the adapter, bounded by `publishTimeoutMs` (background publishes come through
   * here too). A timeout, like any failure, ends the publish span as an error.
   */
  protected async publishNow(events: readonly DomainEvent[]): Promise<void> {
    this.assertCanPublish();
    if (!this.tracer.enabled) {
      await this.#write(events, undefined);
    } else {
      const span = this.tracer.startSpan(SPAN_NAMES.publish, {
        kind: 'producer',
        attributes: {
          'messaging.system': this.adapter.system,
          'messaging.operation.type': 'publish',
          'messaging.destination.name': this.#publishTo,
          'messaging.batch.message_count': events.length,
        },
      });
      try {
        const trace: Record<string, string> = {};
        this.tracer.inject(span, trace);
        await span.run(() => this.#write(events, trace));
        span.setStatus('ok');
      } catch (error) {
        span.recordException(error);
        span.setStatus('error', errorMessage(error));
        throw error;
      } finally {
        span.end();
      }
    }
  }

  async #write(events: readonly DomainEvent[], trace: Record<string, string> | undefined): Promise<void> {
    // Encode everything first: an event that cannot be encoded means nothing is written.
    const envelopes: Envelope[] = events.map((event) => this.codec.encode(event, trace));
    const written = this.#adapterWrite(envelopes);
    const limit = this.brokerOptions.publishTimeoutMs;
    if (limit === Number.POSITIVE_INFINITY) return written;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.counters.publishTimeouts++;
        reject(new PublishTimeoutError(events.length, this.#publishTo, limit));
      }, limit);
    });
    try {
      // The race subscribes to `written`, so its outcome after a timeout is never an unhandled
      // rejection; #adapterWrite has already counted (or not) what the broker took.
      await Promise.race([written, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * One adapter write, kept apart from the caller's wait: after a timeout it goes on, still counted
   * in #writing, and events it gets written late are still counted as published (they were).
   */
  async #adapterWrite(envelopes: readonly Envelope[]): Promise<void> {
    this.#writing++;
    try {
      await this.adapter.publish(envelopes);
    } catch (error) {
      if (isEventSourceError(error)) throw error;
      throw new PublishError(
        `Publishing ${envelopes.length} event(s) to ${this.#publishTo} failed: ${redact(errorMessage(error)).replace(/\.+$/, '')}. ` +
          'Some may have been written; publishing again is safe for idempotent handlers (delivery is at-least-once).',
        { cause: error },
      );
    } finally {
      if (--this.#writing === 0) this.#writesIdle?.();
    }
    this.counters.eventsPublished += envelopes.length;
    if (this.metrics.enabled) this.#sent.add(envelopes.length, this.#sentAttributes);
  }

  /**
   * Resolves once no publish is being written to the broker. A publish awaited when shutdown began
   * (not only a background one) finishes before the connection closes: closing under it would fail
   * it although the broker may already have stored it. That holds for a write whose caller already
   * got a PublishTimeoutError too: it may still succeed once the broker is back, so shutdown gives
   * it the same chance, and its own deadline bounds the wait, so an abandoned write cannot hang it.
   */
  #publishesWritten(): Promise<void> {
    if (this.#writing === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#writesIdle = () => {
        this.#writesIdle = undefined;
        resolve();
      };
    });
  }

  // ── dead letters ───────────────────────────────────────────────────────────

  /** Oldest first, at most `count` (default 100); `count: 0` returns []. Never removes or reorders anything. */
  getDlqMessages(options: { count?: number } = {}): Promise<DeadLetterMessage[]> {
    const count = options?.count ?? 100;
    if (!Number.isInteger(count) || count < 0) {
      return Promise.reject(new ConfigError('count', `must be an integer >= 0; received ${String(count)}.`));
    }
    return this.#admin('getDlqMessages', async () => {
      if (count === 0) return [];
      const stored = await this.adapter.deadLetters.list(count);
      const where = { destination: this.adapter.destination, consumerGroup: this.brokerOptions.consumerGroup };
      return Promise.all(stored.map((letter) => toDeadLetterMessage(letter, this.codec, where)));
    });
  }

  getDlqMessageCount(): Promise<number> {
    return this.#admin('getDlqMessageCount', () => this.adapter.deadLetters.count());
  }

  /** Sends one dead letter back to this consumer group (only) for a fresh set of attempts, and removes it. */
  replayDlqMessage(id: string): Promise<void> {
    if (typeof id !== 'string' || id.length === 0) {
      return Promise.reject(new ConfigError('id', `must be a dead-letter id from getDlqMessages(); received ${JSON.stringify(id)}.`));
    }
    return this.#admin('replayDlqMessage', async () => {
      if (!(await this.adapter.deadLetters.replay(id))) throw new DlqMessageNotFoundError(id);
    });
  }

  /** Replays every dead letter there now; returns how many. */
  replayAllDlqMessages(): Promise<number> {
    return this.#admin('replayAllDlqMessages', () => this.adapter.deadLetters.replayAll());
  }

  /** Deletes every dead letter; returns how many. */
  purgeDlq(): Promise<number> {
    return this.#admin('purgeDlq', () => this.adapter.deadLetters.purge());
  }

  /** Runs an admin call: refused before connect() and after shutdown, broker errors wrapped and redacted. */
  protected async admin<T>(operation: string, run: () => Promise<T>): Promise<T> {
    return this.#admin(operation, run);
  }

  async #admin<T>(operation: string, run: () => Promise<T>): Promise<T> {
    this.#assertUsable(operation);
    try {
      return await run();
    } catch (error) {
      if (isEventSourceError(error)) throw error;
      throw new TransportError(`${operation}() failed: ${redact(errorMessage(error))}`, { cause: error });
    }
  }

  // ── lifecycle internals ────────────────────────────────────────────────────

  async #consume(): Promise<void> {
    this.#pump.reset();
    this.#settler.reset();
    this.#fatal = undefined;
    try {
      await this.adapter.consume(this.#pump);
    } catch (error) {
      const description = redact(errorMessage(error));
      this.#fatal = { description, since: new Date().toISOString() };
      throw isEventSourceError(error)
        ? error
        : new TransportError(`Consuming from ${this.adapter.destination} stopped: ${description}`, { cause: error });
    } finally {
      this.#pump.stop();
      // The sources have stopped: what was fetched still runs and is settled (or handed back at a deadline).
      await this.#pump.whenIdle();
      await this.#settler.flush();
    }
  }

  /**
   * Stops fetching and lets fetched messages finish, until `deadline`. At the deadline the
   * never-started ones are handed back and unwritten settlements are given up: those messages are
   * redelivered, never lost or dead-lettered. True when everything was settled in time.
   */
  #stop(deadline: number): Promise<boolean> {
    this.#consumeRequested = false;
    const running = this.#consuming;
    if (!running) return Promise.resolve(true);
    this.#stopping ??= this.#stopNow(running, deadline).finally(() => {
      this.#stopping = undefined;
    });
    return this.#stopping;
  }

  async #stopNow(running: Promise<void>, deadline: number): Promise<boolean> {
    this.#pump.stop();
    this.#settler.giveUpAt(deadline);
    const sourcesStopped = this.adapter.stopSources().catch((error: unknown) =>
      this.logger.warn('Stopping the message sources failed', { error: redact(errorMessage(error)) }),
    );
    const finished = Promise.all([running.catch(() => undefined), sourcesStopped]).then(() => true);
    const inTime = await beforeDeadline(finished, deadline);
    if (!inTime) {
      // Timers and Date.now() can disagree by a millisecond: from here on no write is tried again,
      // so nothing touches the broker after shutdown() has returned.
      this.#settler.giveUpAt(Number.NEGATIVE_INFINITY);
      const queued = this.#pump.takeQueued();
      if (queued.length > 0) {
        this.counters.eventsHandedBack += queued.length;
        await beforeDeadline(
          this.adapter.handBack(queued).catch((error: unknown) =>
            this.logger.warn('Could not hand back messages that never started; the broker redelivers them later', { error: redact(errorMessage(error)) }),
          ),
          Date.now() + HAND_BACK_TIMEOUT_MS,
        );
      }
      // The deadline was the caller's choice: a warning, not an error.
      this.logger.warn('Stopped at the deadline before every message was settled; the unsettled ones will be redelivered', {
        running: this.#pump.inFlight,
        handedBack: queued.length,
      });
    }
    return inTime && this.#settler.abandoned === 0;
  }

  protected override async performShutdown(deadline: number): Promise<ShutdownResult> {
    const consumerDrained = await this.#stop(deadline);
    const result = await this.drainBackground(deadline);
    const publishesWritten = await beforeDeadline(this.#publishesWritten(), deadline);
    if (!publishesWritten) {
      this.logger.warn('Stopped at the deadline while publishes were still being written; the broker may or may not have them, and callers still waiting see them fail', {
        publishing: this.#writing,
      });
    }
    await beforeDeadline(
      this.adapter.close(deadline).catch((error: unknown) => this.logger.warn('Closing the broker connection failed', { error: redact(errorMessage(error)) })),
      Math.max(deadline, Date.now() + HAND_BACK_TIMEOUT_MS),
    );
    this.#stopGauge();
    this.#connected = false;
    return { drained: consumerDrained && result.drained && publishesWritten, pendingBackgroundTasks: result.pendingBackgroundTasks };
  }

  #assertUsable(operation: string): void {
    if (this.isClosed) throw new BusClosedError(operation);
    if (!this.#connected) throw new NotConnectedError(operation);
  }
}

/** True when `work` settles before `deadline` (ms since epoch); false at the deadline. */
async function beforeDeadline(work: Promise<unknown>, deadline: number): Promise<boolean> {
  if (deadline === Number.POSITIVE_INFINITY) {
    await work;
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
