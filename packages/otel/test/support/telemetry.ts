import { registerOtelGlobals } from '@eventsource/conformance';
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

/** The context manager and W3C trace-context plus baggage propagator an application's SDK registers. */
export const registerGlobals = registerOtelGlobals;
export { toSpanRecord as toRecord, type SpanRecord } from '@eventsource/conformance';

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
