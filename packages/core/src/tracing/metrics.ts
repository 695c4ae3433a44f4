/**
 * The metrics port, beside the tracer port. Core ships only the no-op implementation;
 * `@eventsource/otel` implements it on an OpenTelemetry Meter. Instruments are created once, when
 * a bus is constructed; with the no-op port every `add`/`record` is an empty call and nothing else.
 */

/** Instrument names, fixed across transports. Messaging semantic-convention names where one exists. */
export const METRIC_NAMES = {
  /** Counter: events a publish() handed to the broker (or, in-process, to dispatch). */
  sent: 'messaging.client.sent.messages',
  /** Counter: messages this consumer took from the broker (in-process: events dispatched). */
  consumed: 'messaging.client.consumed.messages',
  /** Histogram, seconds: from the start of the handlers of one message until its outcome is known. */
  processDuration: 'messaging.process.duration',
  /** Counter: handler failures (one per failing handler per attempt; timeouts included). */
  handlerErrors: 'eventsource.handler.errors',
  /** Counter: retries scheduled. */
  retries: 'eventsource.retries',
  /** Counter: messages written to the dead-letter destination. */
  deadLetters: 'eventsource.dead_letters',
  /** Gauge (callback): handlers running now. */
  inFlight: 'eventsource.in_flight',
  /** Gauge (callback): messages in the destination not yet read by the group (Kafka: per partition). */
  consumerLag: 'eventsource.consumer.lag',
  /** Counter: consumer-group rebalances this consumer took part in (Kafka). */
  rebalances: 'eventsource.consumer.rebalances',
} as const;

export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];

/**
 * Metric labels. Keep them bounded: transport, destination, event type, consumer group, error
 * type, outcome, partition. Never event ids or aggregate ids.
 */
export type MetricAttributes = Readonly<Record<string, string | number | boolean | undefined>>;

export interface Counter {
  add(value: number, attributes?: MetricAttributes): void;
}

export interface Histogram {
  record(value: number, attributes?: MetricAttributes): void;
}

/** Called by the gauge callback once per series it reports. */
export type Observe = (value: number, attributes?: MetricAttributes) => void;

export interface InstrumentOptions {
  readonly description: string;
  /** UCUM unit, e.g. `s`, `{message}`. */
  readonly unit: string;
}

export interface Metrics {
  /** False for the no-op port: buses skip building attributes and reading clocks for it. */
  readonly enabled: boolean;
  counter(name: MetricName, options: InstrumentOptions): Counter;
  histogram(name: MetricName, options: InstrumentOptions): Histogram;
  /** A gauge read on collection: `callback` reports the current value(s). Returns a function that stops it. */
  gauge(name: MetricName, options: InstrumentOptions, callback: (observe: Observe) => void): () => void;
}

const NOOP_COUNTER: Counter = Object.freeze({ add() {} });
const NOOP_HISTOGRAM: Histogram = Object.freeze({ record() {} });
const NOOP_STOP = (): void => {};

export const noopMetrics: Metrics = Object.freeze({
  enabled: false,
  counter: () => NOOP_COUNTER,
  histogram: () => NOOP_HISTOGRAM,
  gauge: () => NOOP_STOP,
});
