import { EnvelopeCodec } from '../envelope/codec.js';
import { errorMessage } from '../errors.js';
import type { DomainEvent } from '../events/domain-event.js';
import type { EventRegistry } from '../events/registry.js';
import { dispatch, type DispatchOutcome } from '../dispatch/dispatcher.js';
import { SPAN_NAMES, type Span } from '../tracing/tracer.js';
import { EventBusBase, type EventBusBaseOptions } from './event-bus.js';

const RESOLVED: Promise<void> = Promise.resolve();

export interface InMemoryEventBusOptions extends EventBusBaseOptions {
  /**
   * Send every event through the wire codec (encode then decode) before handling, as a broker
   * would. Catches events that do not survive JSON before you move to a broker. Default false.
   */
  readonly roundTrip?: boolean;
  /** Registry used by `roundTrip` decoding. Default: the default registry. */
  readonly registry?: EventRegistry;
}

/** Exactly the five counters of the in-memory bus. */
export interface InMemoryEventBusStats {
  readonly eventsPublished: number;
  readonly handlersInvoked: number;
  readonly handlerErrors: number;
  readonly backgroundTasksCreated: number;
  readonly backgroundTasksCompleted: number;
}

/**
 * The in-process bus: for development, tests and single-process apps. One publish call's events
 * are handled in list order, and every handler of an event finishes before the next event starts.
 * Handler errors are logged and counted, never thrown from publish().
 */
export class InMemoryEventBus extends EventBusBase {
  #eventsPublished = 0;
  #handlersInvoked = 0;
  #handlerErrors = 0;
  readonly #codec: EnvelopeCodec | undefined;

  constructor(options: InMemoryEventBusOptions = {}) {
    super(options);
    this.#codec = options.roundTrip ? new EnvelopeCodec({ registry: options.registry }) : undefined;
  }

  protected publishNow(events: readonly DomainEvent[]): Promise<void> {
    // The common case (no tracing, no round trip) adds no async frame of its own: each one is an
    // extra promise and microtask hop per event, which is most of the cost of an in-process bus.
    if (!this.tracer.enabled && !this.#codec) {
      return events.length === 1 ? this.deliver(events[0]!, undefined) : this.deliverEach(events, undefined);
    }
    return this.publishTraced(events);
  }

  /** No async frame of its own: each would add a promise and a microtask hop per publish. */
  private publishTraced(input: readonly DomainEvent[]): Promise<void> {
    if (!this.tracer.enabled) return this.roundTrip(input).then((events) => this.deliverEach(events, undefined));
    const span = this.tracer.startSpan(SPAN_NAMES.publish, {
      kind: 'producer',
      attributes: {
        'messaging.system': 'eventsource',
        'messaging.operation.type': 'publish',
        'messaging.destination.name': 'in-memory',
        'messaging.batch.message_count': input.length,
      },
    });
    let done: Promise<void>;
    try {
      done = span.run(() =>
        this.#codec
          ? this.roundTrip(input).then((events) => this.deliverEach(events, span))
          : input.length === 1
            ? this.deliver(input[0]!, span)
            : this.deliverEach(input, span),
      );
    } catch (error) {
      done = Promise.reject(error);
    }
    return done.then(
      () => {
        span.setStatus('ok');
        span.end();
      },
      (error: unknown) => {
        span.recordException(error);
        span.setStatus('error', errorMessage(error));
        span.end();
        throw error;
      },
    );
  }

  /** Round-trips the whole batch first, so a bad event fails the publish before any is handled. */
  private async roundTrip(events: readonly DomainEvent[]): Promise<DomainEvent[]> {
    const codec = this.#codec!;
    const out: DomainEvent[] = [];
    for (const event of events) out.push(await codec.decode(codec.encode(event)));
    return out;
  }

  private async deliverEach(events: readonly DomainEvent[], parent: Span | undefined): Promise<void> {
    for (const event of events) await this.deliver(event, parent);
  }

  private deliver(event: DomainEvent, parent: Span | undefined): Promise<void> {
    this.#eventsPublished++;
    const handlers = this.subscriptions.handlersFor(event.eventType);
    if (handlers.length === 0) return RESOLVED;
    return dispatch(event, handlers, { tracer: this.tracer, parent, handlerTimeoutMs: this.handlerTimeoutMs, watch: this.handlerWatch }).then((outcome) => this.record(event, outcome));
  }

  private record(event: DomainEvent, outcome: DispatchOutcome): void {
    this.#handlersInvoked += outcome.invoked;
    if (outcome.ok) return;
    this.#handlerErrors += outcome.error.failures.length;
    for (const failure of outcome.error.failures) {
      this.logger.error(`Handler ${failure.handlerName} failed on ${event.eventType}`, {
        eventId: event.eventId,
        handler: failure.handlerName,
        error: failure.error instanceof Error ? failure.error.message : String(failure.error),
      });
    }
  }

  getStats(): InMemoryEventBusStats {
    return {
      eventsPublished: this.#eventsPublished,
      handlersInvoked: this.#handlersInvoked,
      handlerErrors: this.#handlerErrors,
      backgroundTasksCreated: this.background.created,
      backgroundTasksCompleted: this.background.completed,
    };
  }
}
