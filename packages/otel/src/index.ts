export { otel, type OtelOptions } from './otel.js';
export { INSTRUMENTATION_SCOPE, OtelTracer, otelTracer, type OtelTracerOptions } from './otel-tracer.js';
export { DURATION_BUCKETS_SECONDS, METRIC_LABELS, OtelMetrics, otelMetrics, type OtelMetricsOptions } from './otel-metrics.js';
export { ATTR } from './attributes.js';
