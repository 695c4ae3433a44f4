import { BusClosedError, ConfigError, InvalidEventError, errorMessage } from '../errors.js';
import { type AnyEventClass, type DomainEvent, isDomainEvent } from '../events/domain-event.js';
import { type Handler, normalizeHandler } from '../handlers/normalize.js';
import { consoleLogger, type Logger } from '../logger.js';
import { SubscriptionRegistry } from '../subscriptions/subscription-registry.js';
import { noopTracer, type Tracer } from '../tracing/tracer.js';
import { BackgroundTasks } from './background-tasks.js';

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
  subscribe<C extends AnyEventClass>(eventType: C, handler: Handler<InstanceType<C>>, options?: SubscribeOptions): Unsubscribe;
  unsubscribe<C extends AnyEventClass>(eventType: C, handler: Handler<InstanceType<C>>): boolean;
  subscribeAll(subscriber: Subscriber, options?: SubscribeOptions): Unsubscribe;
  subscribeToAllEvents(handler: Handler, options?: SubscribeOptions): Unsubscribe;
  unsubscribeFromAllEvents(handler: Handler): boolean;
  clearSubscribers(): void;
  /** Specific handlers for one type, or for all types when omitted (wildcards not included). */
  getSubscriberCount(eventType?: AnyEventClass): number;
  getWildcardSubscriberCount(): number;
  getStats(): object;
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
  #state: BusState = 'open';
  #shutdown: Promise<ShutdownResult> | undefined;

  protected constructor(options: EventBusBaseOptions = {}) {
    this.tracer = options.enableTracing === false ? noopTracer : (options.tracer ?? noopTracer);
    this.logger = options.logger ?? consoleLogger;
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
    if (!this.subscriptions.add(type, normalizeHandler(handler, options?.name))) return NOTHING_TO_UNSUBSCRIBE;
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
    const handler = normalizeHandler(subscriber, options?.name);
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
    if (!this.subscriptions.addWildcard(normalizeHandler(handler, options?.name))) return NOTHING_TO_UNSUBSCRIBE;
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
