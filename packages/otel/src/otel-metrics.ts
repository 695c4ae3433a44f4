import type { Counter, Histogram, InstrumentOptions, MetricAttributes, MetricName, Metrics, Observe } from '@eventsource/core';
import { diag, metrics, type Attributes, type MeterProvider, type Meter, type ObservableCallback } from '@opentelemetry/api';
import { INSTRUMENTATION_SCOPE } from './otel-tracer.js';

/**
 * Labels a series may carry. All are bounded by the application's own code and topology
 * (transports, destinations, event types, groups, error classes, partitions); ids never are, so
 * any other key is dropped before it reaches the SDK.
 */
export const METRIC_LABELS = [
  'messaging.system',
  'messaging.destination.name',
  'messaging.destination.partition.id',
  'messaging.consumer.group.name',
  'messaging.operation.name',
  'messaging.operation.type',
  'eventsource.event.type',
  'eventsource.outcome',
  'eventsource.dlq.reason',
  'eventsource.rebalance.kind',
  'error.type',
] as const;

/**
 * Bucket boundaries, in seconds, for `messaging.process.duration`: the ones the messaging
 * conventions advise, so dashboards built for other messaging instrumentations fit.
 */
export const DURATION_BUCKETS_SECONDS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

export interface OtelMetricsOptions {
  /** Where instruments are created. Default: the global provider (`metrics.setGlobalMeterProvider`, or the SDK's). */
  readonly meterProvider?: MeterProvider;
  /** Labels kept on every series, replacing {@link METRIC_LABELS}. Keep them bounded. */
  readonly labels?: readonly string[];
}

/**
 * Core's metrics port on an OpenTelemetry Meter. Instruments are created once per bus, at
 * construction; recording filters labels to the bounded set and hands the value to the SDK.
 */
export class OtelMetrics implements Metrics {
  readonly enabled = true;
  readonly #provider: MeterProvider | undefined;
  #meterInstance: Meter | undefined;
  readonly #labels: ReadonlySet<string>;
  readonly #dropped = new Set<string>();

  constructor(options: OtelMetricsOptions = {}) {
    this.#provider = options.meterProvider;
    this.#labels = new Set(options.labels ?? METRIC_LABELS);
  }

  counter(name: MetricName, options: InstrumentOptions): Counter {
    const counter = this.#meter.createCounter(name, { description: options.description, unit: options.unit });
    return { add: (value, attributes) => counter.add(value, this.#filter(attributes)) };
  }

  histogram(name: MetricName, options: InstrumentOptions): Histogram {
    const histogram = this.#meter.createHistogram(name, {
      description: options.description,
      unit: options.unit,
      ...(options.unit === 's' ? { advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_SECONDS] } } : {}),
    });
    return { record: (value, attributes) => histogram.record(value, this.#filter(attributes)) };
  }

  gauge(name: MetricName, options: InstrumentOptions, callback: (observe: Observe) => void): () => void {
    const gauge = this.#meter.createObservableGauge(name, { description: options.description, unit: options.unit });
    const observer: ObservableCallback = (result) => {
      callback((value, attributes) => result.observe(value, this.#filter(attributes)));
    };
    gauge.addCallback(observer);
    return () => gauge.removeCallback(observer);
  }

  /**
   * The API has no proxy for meters (unlike tracers): the global provider is read when the first
   * instrument is created, i.e. when a bus is constructed, not when otelMetrics() is called.
   */
  get #meter(): Meter {
    return (this.#meterInstance ??= (this.#provider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE));
  }

  #filter(attributes: MetricAttributes | undefined): Attributes | undefined {
    if (!attributes) return undefined;
    const out: Attributes = {};
    for (const key in attributes) {
      const value = attributes[key];
      if (value === undefined) continue;
      if (this.#labels.has(key)) out[key] = value;
      else if (!this.#dropped.has(key)) {
        this.#dropped.add(key);
        diag.warn(
          `@eventsource/otel: metric label "${key}" is not in the bounded label set and is dropped. ` +
            'Pass it in otelMetrics({ labels }) if its values are bounded (never ids).',
        );
      }
    }
    return out;
  }
}

/** Metrics for any bus's `metrics` option: `new RedisEventBus({ metrics: otelMetrics() })`. */
export function otelMetrics(options?: OtelMetricsOptions): OtelMetrics {
  return new OtelMetrics(options);
}
