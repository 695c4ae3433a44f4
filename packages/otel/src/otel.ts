import { OtelMetrics, type OtelMetricsOptions } from './otel-metrics.js';
import { OtelTracer, type OtelTracerOptions } from './otel-tracer.js';

export interface OtelOptions extends OtelTracerOptions, OtelMetricsOptions {}

/** Both ports at once, to spread into any bus's options: `new InMemoryEventBus({ ...otel() })`. */
export function otel(options?: OtelOptions): { readonly tracer: OtelTracer; readonly metrics: OtelMetrics } {
  return { tracer: new OtelTracer(options), metrics: new OtelMetrics(options) };
}
