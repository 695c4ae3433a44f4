import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';

/** One series of an instrument: its value (a histogram's count) and attributes. */
export interface Point {
  readonly value: number;
  readonly attributes: Record<string, unknown>;
}

/**
 * A tracer provider, and metrics read on demand. Metrics are read with delta temporality,
 * because a cumulative reader keeps reporting a gauge series (a partition) the bus stopped
 * observing, at its last value; counters are summed here across reads.
 */
export function telemetry() {
  const tracerProvider = new BasicTracerProvider();
  const metrics = new InMemoryMetricExporter(AggregationTemporality.DELTA);
  const reader = new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const totals = new Map<string, Map<string, Point>>();
  return {
    tracerProvider,
    meterProvider,
    /** Reads every instrument now: gauges as observed by this read, counters as totals so far. */
    async read(): Promise<{ gauge(name: string): Point[]; counter(name: string): Point[] }> {
      metrics.reset();
      await reader.forceFlush();
      const data: MetricData[] = metrics.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((scope) => scope.metrics));
      for (const metric of data) {
        if (metric.dataPointType === DataPointType.GAUGE) continue;
        const series = totals.get(metric.descriptor.name) ?? new Map<string, Point>();
        totals.set(metric.descriptor.name, series);
        for (const point of metric.dataPoints) {
          const value = metric.dataPointType === DataPointType.HISTOGRAM ? (point.value as { count: number }).count : (point.value as number);
          const key = JSON.stringify(point.attributes);
          series.set(key, { value: (series.get(key)?.value ?? 0) + value, attributes: { ...point.attributes } });
        }
      }
      return {
        gauge: (name) =>
          (data.find((m) => m.descriptor.name === name)?.dataPoints ?? []).map((p) => ({ value: p.value as number, attributes: { ...p.attributes } })),
        counter: (name) => [...(totals.get(name)?.values() ?? [])],
      };
    },
    async close(): Promise<void> {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}
