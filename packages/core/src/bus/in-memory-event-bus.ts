import { LogThrottle } from '../broker/log-throttle.js';
import { EnvelopeCodec } from '../envelope/codec.js';
import { errorMessage, errorName } from '../errors.js';
import type { DomainEvent } from '../events/domain-event.js';
import type { EventRegistry } from '../events/registry.js';
import type { NormalizedHandler } from '../handlers/normalize.js';
import { dispatch, type DispatchOutcome } from '../dispatch/dispatcher.js';
import { METRIC_NAMES, type Counter, type Histogram, type MetricAttributes } from '../tracing/metrics.js';
import { SPAN_NAMES, type Span } from '../tracing/tracer.js';
import { EventBusBase, type EventBusBaseOptions, type ShutdownResult } from './event-bus.js';

const RESOLVED: Promise<void> = Promise.resolve();

/** What the in-memory bus reports as its messaging system and destination, in spans and metrics alike. */
const SYSTEM = 'eventsource';
const DESTINATION = 'in-memory';

interface Instruments {
  readonly sent: Counter;
  readonly consumed: Counter;
  readonly duration: Histogram;
  readonly handlerErrors: Counter;
}

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
 * Handler errors are logged (repeats of one kind summarised) and counted, never thrown from
 * publish(). With a `metrics` port it records the broker buses' instruments that apply in-process.
 */
export class InMemoryEventBus extends EventBusBase {
  #eventsPublished = 0;
  #handlersInvoked = 0;
  #handlerErrors = 0;
  /** Events whose handlers are running now; kept only when metrics are on. */
  #dispatching = 0;
  readonly #codec: EnvelopeCodec | undefined;
  readonly #throttle: LogThrottle;
  readonly #instruments: Instruments;
  readonly #metricAttributes: MetricAttributes = { 'messaging.system': SYSTEM, 'messaging.destination.name': DESTINATION };
  readonly #stopGauge: () => void;

  constructor(options: InMemoryEventBusOptions = {}) {
    super(options);
    this.#codec = options.roundTrip ? new EnvelopeCodec({ registry: options.registry }) : undefined;
    this.#throttle = new LogThrottle(this.logger);
    const metrics = this.metrics;
    this.#instruments = {
      sent: metrics.counter(METRIC_NAMES.sent, { description: 'Events handed to dispatch by publish().', unit: '{message}' }),
      consumed: metrics.counter(METRIC_NAMES.consumed, { description: 'Events this bus dispatched.', unit: '{message}' }),
      duration: metrics.histogram(METRIC_NAMES.processDuration, { description: 'Time to run the handlers of one event.', unit: 's' }),
      handlerErrors: metrics.counter(METRIC_NAMES.handlerErrors, { description: 'Handler failures, timeouts included.', unit: '{message}' }),
    };
    this.#stopGauge = metrics.gauge(METRIC_NAMES.inFlight, { description: 'Events whose handlers are running now.', unit: '{message}' }, (observe) =>
      observe(this.#dispatching, this.#metricAttributes),
    );
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
        'messaging.system': SYSTEM,
        'messaging.operation.type': 'publish',
        'messaging.destination.name': DESTINATION,
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
    // Metrics off (the default): no clock read, no attribute object, no counter call.
    if (this.metrics.enabled) return this.deliverMetered(event, handlers, parent);
    if (handlers.length === 0) return RESOLVED;
    return dispatch(event, handlers, { tracer: this.tracer, parent, handlerTimeoutMs: this.handlerTimeoutMs, watch: this.handlerWatch }).then((outcome) => this.record(event, outcome));
  }

  /** As deliver(), recording what the broker buses record; an event with no handlers is sent and consumed, not timed (a broker's skip). */
  private deliverMetered(event: DomainEvent, handlers: readonly NormalizedHandler[], parent: Span | undefined): Promise<void> {
    const instruments = this.#instruments;
    const attributes = this.#metricAttributes;
    instruments.sent.add(1, attributes);
    instruments.consumed.add(1, attributes);
    if (handlers.length === 0) return RESOLVED;
    this.#dispatching++;
    const started = performance.now();
    return dispatch(event, handlers, { tracer: this.tracer, parent, handlerTimeoutMs: this.handlerTimeoutMs, watch: this.handlerWatch }).then((outcome) => {
      this.#dispatching--;
      instruments.duration.record((performance.now() - started) / 1000, {
        ...attributes,
        'eventsource.event.type': event.eventType,
        // In-process a failed event is not retried: its failures are logged and counted, and that is its end.
        'eventsource.outcome': outcome.ok ? 'ack' : 'failed',
      });
      this.record(event, outcome);
    });
  }

  private record(event: DomainEvent, outcome: DispatchOutcome): void {
    this.#handlersInvoked += outcome.invoked;
    if (outcome.ok) return;
    this.#handlerErrors += outcome.error.failures.length;
    const metered = this.metrics.enabled;
    for (const failure of outcome.error.failures) {
      const errorType = errorName(failure.error);
      if (metered) {
        this.#instruments.handlerErrors.add(1, { ...this.#metricAttributes, 'eventsource.event.type': event.eventType, 'error.type': errorType });
      }
      // A handler failing on every event of a burst would otherwise write one line per event.
      this.#throttle.error(`handler:${event.eventType}:${failure.handlerName}:${errorType}`, `Handler ${failure.handlerName} failed on ${event.eventType}`, {
        eventId: event.eventId,
        handler: failure.handlerName,
        error: errorMessage(failure.error),
      });
    }
  }

  /** Drains, then writes the summaries of repeated handler failures still being counted. */
  protected override async performShutdown(deadline: number): Promise<ShutdownResult> {
    const result = await super.performShutdown(deadline);
    this.#throttle.flush();
    this.#stopGauge();
    return result;
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
