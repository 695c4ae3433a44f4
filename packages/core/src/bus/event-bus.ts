import { BusClosedError, ConfigError, InvalidEventError, errorMessage } from '../errors.js';
import { type AnyEventClass, type DomainEvent, isDomainEvent } from '../events/domain-event.js';
import { type Handler, normalizeHandler } from '../handlers/normalize.js';
import { consoleLogger, type Logger } from '../logger.js';
import { SubscriptionRegistry } from '../subscriptions/subscription-registry.js';
import { noopMetrics, type Metrics } from '../tracing/metrics.js';
import { noopTracer, type Tracer } from '../tracing/tracer.js';
import { BackgroundTasks } from './background-tasks.js';
import { HandlerWatch } from '../dispatch/dispatcher.js';

export interface PublishOptions {
  /**
   * Return once the events are handed off instead of waiting for handlers (in-memory) or for the
   * broker's acknowledgement. Bounded: at the in-flight cap the publish runs inline. Default false.
   */
  readonly background?: boolean;
}

/** Anything events can be published to; the repository depends only on this. */
export interface EventPublisher {
  publish(events: readonly DomainEvent[], options?: PublishOptions): Promise<void>;
}

/** A projection-style subscriber: declares its types once and handles them all. */
export interface Subscriber {
  subscribedTo(): readonly AnyEventClass[];
  handle(event: DomainEvent): unknown;
}

export interface SubscribeOptions {
  /** Name for logs and spans; default the function's or class's name. */
  readonly name?: string;
  /**
   * This handler's time limit per attempt, in ms, over the bus's `handlerTimeoutMs`. A handler that
   * has not settled by then counts as failed (HandlerTimeoutError) and goes through the retry policy.
   */
  readonly handlerTimeoutMs?: number;
}

/** Calling it removes the subscription; returns whether anything was removed. */
export type Unsubscribe = () => boolean;

export interface ShutdownResult {
  /** True when all in-flight work finished before the timeout. */
  readonly drained: boolean;
  /** Background publishes still running when the timeout passed. */
  readonly pendingBackgroundTasks: number;
}

/** The contract every bus keeps, in-memory or broker-backed. */
export interface EventBus extends EventPublisher, AsyncDisposable {
  /**
   * Publishes events in list order. In-process it resolves when every handler has finished (their
   * errors are logged and counted, never thrown); on a broker, once the broker has every event.
   * With `{ background: true }` it returns once handed off; `shutdown()` drains what is in flight.
   * @example
   * await bus.publish([new OrderCreated({ aggregateId: id, aggregateVersion: 1, customerId: 'c-1' })]);
   */
  publish(events: readonly DomainEvent[], options?: PublishOptions): Promise<void>;
  /**
   * Runs `handler` for every event of `eventType`: a function, an object with `handle(event)`, or a
   * lambda, sync or async. Returns a function that removes this subscription.
   * @example
   * const off = bus.subscribe(OrderCreated, (event) => console.log(event.customerId));
   * off();
   */
  subscribe<C extends AnyEventClass>(eventType: C, handler: Handler<InstanceType<C>>, options?: SubscribeOptions): Unsubscribe;
  /**
   * Removes `handler` from `eventType`; true when it was subscribed.
   * @example
   * bus.unsubscribe(OrderCreated, sendReceipt);
   */
  unsubscribe<C extends AnyEventClass>(eventType: C, handler: Handler<InstanceType<C>>): boolean;
  /**
   * Subscribes a projection to every type its `subscribedTo()` lists.
   * @example
   * bus.subscribeAll({ subscribedTo: () => [OrderCreated, OrderShipped], handle: (event) => project(event) });
   */
  subscribeAll(subscriber: Subscriber, options?: SubscribeOptions): Unsubscribe;
  /**
   * Runs `handler` for every event this bus dispatches, after the type-specific handlers. On a
   * broker it sees the types registered in this process (see the transport's README).
   * @example
   * bus.subscribeToAllEvents((event) => audit.write(event.eventType, event.eventId));
   */
  subscribeToAllEvents(handler: Handler, options?: SubscribeOptions): Unsubscribe;
  /**
   * Removes a wildcard handler; true when it was subscribed.
   * @example
   * bus.unsubscribeFromAllEvents(auditLogger);
   */
  unsubscribeFromAllEvents(handler: Handler): boolean;
  /**
   * Removes every subscription, wildcards included.
   * @example
   * bus.clearSubscribers();
   */
  clearSubscribers(): void;
  /**
   * Specific handlers for one type, or for all types when omitted (wildcards not included).
   * @example
   * bus.getSubscriberCount(OrderCreated); // 2
   */
  getSubscriberCount(eventType?: AnyEventClass): number;
  /**
   * How many wildcard handlers are subscribed.
   * @example
   * bus.getWildcardSubscriberCount(); // 1
   */
  getWildcardSubscriberCount(): number;
  /**
   * Counters since the bus was created; each bus documents its own (typed) set.
   * @example
   * const { eventsPublished, handlerErrors } = bus.getStats();
   */
  getStats(): object;
  /**
   * Stops the bus: stops consuming, lets in-flight handlers finish and settles them, drains
   * background publishes, closes connections, all within `timeoutMs` (default 30 000). Never
   * loses or dead-letters a message because of the shutdown.
   * @example
   * const { drained } = await bus.shutdown(10_000);
   */
  shutdown(timeoutMs?: number): Promise<ShutdownResult>;
}

export interface EventBusBaseOptions {
  /** Emit spans through `tracer`. Default true; a no-op tracer makes this free. */
  readonly enableTracing?: boolean;
  /** Tracing implementation, e.g. `new OtelTracer()` from @eventsource/otel. Default no-op. */
  readonly tracer?: Tracer;
  /** Where warnings and errors go. Default: the console, warnings and errors only. */
  readonly logger?: Logger;
  /** Cap on background publishes in flight; at the cap they run inline. Default 1000. */
  readonly maxBackgroundTasks?: number;
  /** Metrics implementation, e.g. `otelMetrics()` from @eventsource/otel. Default no-op. */
  readonly metrics?: Metrics;
  /**
   * Time limit of one handler attempt, in ms. A handler that has not settled by then counts as
   * failed (HandlerTimeoutError) and its message goes through the retry policy, so a hung handler
   * never holds its message, or the messages queued behind it, forever. Default: no limit.
   */
  readonly handlerTimeoutMs?: number;
}

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

const NOTHING_TO_UNSUBSCRIBE: Unsubscribe = () => false;
export const DEFAULT_MAX_BACKGROUND_TASKS = 1000;

type BusState = 'open' | 'draining' | 'closed';

/**
 * What every bus shares: subscriptions, input checks, bounded background publishing and the
 * shutdown sequence. A transport implements how events leave (`publishNow`) and extends
 * `performShutdown` with its own stop-consume and close steps.
 */
export abstract class EventBusBase implements EventBus {
  protected readonly subscriptions = new SubscriptionRegistry();
  protected readonly tracer: Tracer;
  protected readonly logger: Logger;
  protected readonly background: BackgroundTasks;
  protected readonly metrics: Metrics;
  /** The bus-wide handler time limit, ms; 0: none. */
  protected readonly handlerTimeoutMs: number;
  /** Handlers running past their time limit, for health() and stats. */
  protected readonly handlerWatch = new HandlerWatch();
  #state: BusState = 'open';
  #shutdown: Promise<ShutdownResult> | undefined;

  protected constructor(options: EventBusBaseOptions = {}) {
    this.tracer = options.enableTracing === false ? noopTracer : (options.tracer ?? noopTracer);
    this.logger = options.logger ?? consoleLogger;
    this.metrics = options.metrics ?? noopMetrics;
    const timeout = options.handlerTimeoutMs;
    if (timeout !== undefined && !(typeof timeout === 'number' && Number.isFinite(timeout) && timeout >= 1)) {
      throw new ConfigError('handlerTimeoutMs', `must be a number of milliseconds >= 1; received ${String(timeout)}.`);
    }
    this.handlerTimeoutMs = timeout ?? 0;
    const limit = options.maxBackgroundTasks ?? DEFAULT_MAX_BACKGROUND_TASKS;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new ConfigError('maxBackgroundTasks', `must be an integer >= 0; received ${String(limit)}.`);
    }
    this.background = new BackgroundTasks(limit, (error) =>
      this.logger.error('Background publish failed', { error: errorMessage(error) }),
    );
  }

  /** Writes the events out (or, in-process, dispatches them) in list order. */
  protected abstract publishNow(events: readonly DomainEvent[]): Promise<void>;

  abstract getStats(): object;

  publish(events: readonly DomainEvent[], options?: PublishOptions): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new BusClosedError('publish'));
    try {
      assertEvents(events);
    } catch (error) {
      return Promise.reject(error);
    }
    if (events.length === 0) return Promise.resolve();
    try {
      this.assertCanPublish();
    } catch (error) {
      return Promise.reject(error);
    }
    // While shutdown drains, a background publish runs inline: its caller (often a handler that is
    // itself being drained) then waits for it and sees its errors, and the drain can converge.
    if (options?.background && this.#state === 'open') {
      // Copy: the caller may reuse or mutate its array after a background publish returns.
      const batch = [...events];
      return this.background.launch(() => this.publishNow(batch));
    }
    return this.publishNow(events);
  }

  /**
   * Throws when a publish cannot even be attempted (e.g. not connected), so that a background
   * publish fails in its caller's hands instead of being accepted and then lost.
   */
  protected assertCanPublish(): void {}

  subscribe<C extends AnyEventClass>(eventType: C, handler: Handler<InstanceType<C>>, options?: SubscribeOptions): Unsubscribe {
    const type = eventTypeName(eventType, 'subscribe');
    // The same handler twice for one type is one subscription; only the call that added it can
    // remove it through the returned function.
    if (!this.subscriptions.add(type, normalizeHandler(handler, options?.name, options?.handlerTimeoutMs))) return NOTHING_TO_UNSUBSCRIBE;
    this.onSubscriptionsChanged();
    return () => this.unsubscribe(eventType, handler);
  }

  unsubscribe<C extends AnyEventClass>(eventType: C, handler: Handler<InstanceType<C>>): boolean {
    const removed = this.subscriptions.remove(eventTypeName(eventType, 'unsubscribe'), handler);
    if (removed) this.onSubscriptionsChanged();
    return removed;
  }

  subscribeAll(subscriber: Subscriber, options?: SubscribeOptions): Unsubscribe {
    if (subscriber === null || typeof subscriber !== 'object' || typeof subscriber.subscribedTo !== 'function') {
      throw new InvalidEventError(
        'subscribeAll() takes an object with subscribedTo() (returning event classes) and handle(event).',
      );
    }
    const handler = normalizeHandler(subscriber, options?.name, options?.handlerTimeoutMs);
    // Every name is checked before any is added: a bad entry leaves no partial subscription.
    const names = subscriber.subscribedTo().map((type) => eventTypeName(type, 'subscribeAll'));
    const added = names.filter((name) => this.subscriptions.add(name, handler));
    if (added.length === 0) return NOTHING_TO_UNSUBSCRIBE;
    this.onSubscriptionsChanged();
    return () => {
      let removed = false;
      for (const name of added) removed = this.subscriptions.remove(name, subscriber) || removed;
      if (removed) this.onSubscriptionsChanged();
      return removed;
    };
  }

  subscribeToAllEvents(handler: Handler, options?: SubscribeOptions): Unsubscribe {
    if (!this.subscriptions.addWildcard(normalizeHandler(handler, options?.name, options?.handlerTimeoutMs))) return NOTHING_TO_UNSUBSCRIBE;
    this.onSubscriptionsChanged();
    return () => this.unsubscribeFromAllEvents(handler);
  }

  unsubscribeFromAllEvents(handler: Handler): boolean {
    const removed = this.subscriptions.removeWildcard(handler);
    if (removed) this.onSubscriptionsChanged();
    return removed;
  }

  clearSubscribers(): void {
    this.subscriptions.clear();
    this.onSubscriptionsChanged();
  }

  getSubscriberCount(eventType?: AnyEventClass): number {
    return this.subscriptions.count(eventType === undefined ? undefined : eventTypeName(eventType, 'getSubscriberCount'));
  }

  getWildcardSubscriberCount(): number {
    return this.subscriptions.wildcardCount;
  }

  /** Transports that subscribe per type on the broker (e.g. queue bindings) react here. */
  protected onSubscriptionsChanged(): void {}

  /** True from the moment shutdown() is called, while it drains too. */
  get isClosed(): boolean {
    return this.#state !== 'open';
  }

  /**
   * Stops the bus: no new work is accepted once draining is done, in-flight work finishes (up to
   * `timeoutMs`), connections close. Safe to call twice; the second call returns the first result.
   */
  shutdown(timeoutMs: number = DEFAULT_SHUTDOWN_TIMEOUT_MS): Promise<ShutdownResult> {
    this.#shutdown ??= (async () => {
      this.#state = 'draining';
      try {
        return await this.performShutdown(Date.now() + Math.max(0, timeoutMs));
      } finally {
        this.#state = 'closed';
      }
    })();
    return this.#shutdown;
  }

  /** Default shutdown: drain background publishes. Transports extend this. */
  protected async performShutdown(deadline: number): Promise<ShutdownResult> {
    return this.drainBackground(deadline);
  }

  /** Waits for background publishes; from then on, publish() rejects with BusClosedError. */
  protected async drainBackground(deadline: number): Promise<ShutdownResult> {
    const drained = await this.background.drain(Math.max(0, deadline - Date.now()));
    this.#state = 'closed';
    if (!drained) {
      this.logger.warn(
        `Shutdown timed out with background publishes still running. The timeout is in milliseconds: shutdown(30_000) waits 30 s.`,
        { pending: this.background.inFlight },
      );
    }
    return { drained, pendingBackgroundTasks: this.background.inFlight };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }
}

function assertEvents(events: unknown): asserts events is readonly DomainEvent[] {
  if (!Array.isArray(events)) {
    throw new InvalidEventError(
      `publish() takes an array of events, e.g. bus.publish([event]); received ${events === null ? 'null' : typeof events}.`,
    );
  }
  for (let i = 0; i < events.length; i++) {
    if (!isDomainEvent(events[i])) {
      throw new InvalidEventError(
        `publish(): item ${i} is not an event declared with defineEvent() (received ${describe(events[i])}). Nothing was published.`,
      );
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'an object';
}

export function eventTypeName(eventType: AnyEventClass, operation: string): string {
  const name = (eventType as Partial<AnyEventClass> | undefined)?.eventType;
  if (typeof eventType !== 'function' || typeof name !== 'string') {
    throw new InvalidEventError(
      `${operation}() takes an event class declared with defineEvent(), e.g. ${operation}(OrderCreated, …); received ${describe(eventType)}.`,
    );
  }
  return name;
}
