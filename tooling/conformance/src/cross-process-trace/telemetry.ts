import { SpanKind, context, propagation, type HrTime } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/**
 * What the Node SDK sets up for an application: an AsyncLocalStorage context manager and the W3C
 * trace-context plus baggage propagator, both global. The API keeps the first registration and
 * ignores later ones, so calling it again in the same process is harmless.
 */
export function registerOtelGlobals(): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }));
}

/** A tracer provider that keeps every finished span in memory. */
export function memoryTracing(): { readonly provider: BasicTracerProvider; spans(): SpanRecord[] } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { provider, spans: () => exporter.getFinishedSpans().map(toSpanRecord) };
}

/** A finished span as JSON carries it between processes. */
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

export function toSpanRecord(span: ReadableSpan): SpanRecord {
  const [seconds, nanos]: HrTime = span.startTime;
  return {
    name: span.name,
    kind: SpanKind[span.kind] as SpanRecord['kind'],
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    attributes: { ...span.attributes },
    status: { code: span.status.code, message: span.status.message },
    events: span.events.map((e) => ({ name: e.name, attributes: { ...(e.attributes ?? {}) } })),
    startNs: seconds * 1e9 + nanos,
  };
}
