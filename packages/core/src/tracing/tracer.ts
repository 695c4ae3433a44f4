import type { EnvelopeHeaders } from '../envelope/headers.js';

/** Span names, fixed across transports so dashboards work whatever the bus. */
export const SPAN_NAMES = {
  publish: 'eventsource.event_bus.publish',
  dispatch: 'eventsource.event_bus.dispatch',
  handle: 'eventsource.event_bus.handle',
} as const;

export type SpanName = (typeof SPAN_NAMES)[keyof typeof SPAN_NAMES];
export type SpanKind = 'producer' | 'consumer' | 'internal';
export type SpanAttributeValue = string | number | boolean;
export type SpanAttributes = Readonly<Record<string, SpanAttributeValue | undefined>>;

/** A W3C trace context as carried in message headers. */
export interface TraceContext {
  readonly traceparent: string;
  readonly tracestate?: string | undefined;
}

export interface Span {
  setAttribute(key: string, value: SpanAttributeValue): void;
  recordException(error: unknown): void;
  setStatus(status: 'ok' | 'error', message?: string): void;
  end(): void;
  /** Runs `fn` with this span active, so spans started inside it (here or in user code) are its children. */
  run<T>(fn: () => T): T;
}

export interface StartSpanOptions {
  readonly kind: SpanKind;
  readonly attributes?: SpanAttributes;
  /** A local parent span, or a remote one extracted from message headers. */
  readonly parent?: Span | TraceContext | undefined;
}

/**
 * The tracing port. Core ships only the no-op implementation; `@eventsource/otel` implements it
 * with OpenTelemetry. Buses check `enabled` once and skip all span work when it is false, so an
 * unused tracer costs nothing on the hot path.
 */
export interface Tracer {
  readonly enabled: boolean;
  startSpan(name: SpanName, options: StartSpanOptions): Span;
  /** Writes `traceparent` (and `tracestate`) for `span` into message headers. */
  inject(span: Span, headers: Record<string, string>): void;
  /** Reads a remote parent from message headers; undefined when absent or malformed. */
  extract(headers: EnvelopeHeaders | undefined): TraceContext | undefined;
}

const NOOP_SPAN: Span = Object.freeze({
  setAttribute() {},
  recordException() {},
  setStatus() {},
  end() {},
  run<T>(fn: () => T): T {
    return fn();
  },
});

const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;
const INVALID_TRACE_ID = '0'.repeat(32);
const INVALID_SPAN_ID = '0'.repeat(16);

/** Parses W3C trace context headers; rejects malformed or all-zero ids as the spec requires. */
export function extractTraceContext(headers: EnvelopeHeaders | undefined): TraceContext | undefined {
  const traceparent = headers?.traceparent?.trim().toLowerCase();
  if (!traceparent || !TRACEPARENT.test(traceparent)) return undefined;
  const [version, traceId, spanId] = traceparent.split('-');
  if (version === 'ff' || traceId === INVALID_TRACE_ID || spanId === INVALID_SPAN_ID) return undefined;
  const tracestate = headers?.tracestate;
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

export const noopTracer: Tracer = Object.freeze({
  enabled: false,
  startSpan: () => NOOP_SPAN,
  inject() {},
  extract: extractTraceContext,
});

export function isTraceContext(parent: Span | TraceContext | undefined): parent is TraceContext {
  return parent !== undefined && typeof (parent as TraceContext).traceparent === 'string';
}
