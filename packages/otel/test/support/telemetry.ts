import { context, propagation, SpanKind, type HrTime } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { otel } from '../../src/index.js';

/**
 * What the Node SDK sets up for an application: an AsyncLocalStorage context manager and the W3C
 * trace-context plus baggage propagator, both global. Once per process.
 */
export function registerGlobals(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
}

/** A tracer provider exporting to memory, a meter provider read on demand, and the two ports on them. */
export function telemetry() {
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  // Never exports by itself; collect() flushes on demand.
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    ...otel({ tracerProvider, meterProvider }),
    tracerProvider,
    meterProvider,
    spans: (): ReadableSpan[] => spanExporter.getFinishedSpans(),
    reset: (): void => spanExporter.reset(),
    /** Every instrument's current (cumulative) data. */
    async collect(): Promise<MetricData[]> {
      metricExporter.reset();
      await reader.forceFlush();
      return metricExporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    },
    async close(): Promise<void> {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** Sum of a counter (or count of a histogram) over all its series; 0 when it has none. */
export function total(metrics: readonly MetricData[], name: string): number {
  const metric = metrics.find((m) => m.descriptor.name === name);
  if (!metric) return 0;
  let sum = 0;
  for (const point of metric.dataPoints) {
    if (metric.dataPointType === DataPointType.HISTOGRAM) sum += (point.value as { count: number }).count;
    else sum += point.value as number;
  }
  return sum;
}

/** Every label key used by any series of any instrument. */
export function labelKeys(metrics: readonly MetricData[]): Set<string> {
  const keys = new Set<string>();
  for (const metric of metrics) for (const point of metric.dataPoints) for (const key of Object.keys(point.attributes)) keys.add(key);
  return keys;
}

/** A span as JSON can carry it between processes. */
export interface SpanRecord {
  readonly name: string;
  readonly kind: 'PRODUCER' | 'CONSUMER' | 'INTERNAL' | 'CLIENT' | 'SERVER';
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly attributes: Record<string, unknown>;
  readonly status: { readonly code: number; readonly message?: string | undefined };
  readonly events: ReadonlyArray<{ readonly name: string; readonly attributes: Record<string, unknown> }>;
  readonly startNs: number;
}

export function toRecord(span: ReadableSpan): SpanRecord {
  return {
    name: span.name,
    kind: SpanKind[span.kind] as SpanRecord['kind'],
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    attributes: { ...span.attributes },
    status: { code: span.status.code, message: span.status.message },
    events: span.events.map((e) => ({ name: e.name, attributes: { ...(e.attributes ?? {}) } })),
    startNs: hrToNs(span.startTime),
  };
}

function hrToNs([seconds, nanos]: HrTime): number {
  return seconds * 1e9 + nanos;
}
