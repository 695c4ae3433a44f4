import {
  HEADER,
  SPAN_NAMES,
  extractTraceContext,
  type EnvelopeHeaders,
  type Span,
  type SpanAttributeValue,
  type SpanKind,
  type SpanName,
  type StartSpanOptions,
  type TraceContext,
  type Tracer,
} from '@eventsource/core';
import {
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  SpanKind as OtelSpanKind,
  SpanStatusCode,
  TraceFlags,
  context,
  createTraceState,
  isSpanContextValid,
  propagation,
  trace,
  type Context,
  type Span as OtelSpan,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  type Tracer as OtelApiTracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { ATTR, errorTypeOf, toOtelAttributes } from './attributes.js';

/** The instrumentation scope name spans are reported under. */
export const INSTRUMENTATION_SCOPE = '@eventsource/otel';

export interface OtelTracerOptions {
  /** Where spans go. Default: the global provider (`trace.setGlobalTracerProvider`, or the SDK's `register()`). */
  readonly tracerProvider?: TracerProvider;
  /**
   * What writes and reads context in message headers. Default: the global propagator, so whatever
   * the application configured (W3C trace context and baggage with the Node SDK) travels.
   */
  readonly propagator?: TextMapPropagator;
}

const KIND: Readonly<Record<SpanKind, OtelSpanKind>> = {
  producer: OtelSpanKind.PRODUCER,
  consumer: OtelSpanKind.CONSUMER,
  internal: OtelSpanKind.INTERNAL,
};

const headerGetter: TextMapGetter<EnvelopeHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => (Object.hasOwn(carrier, key) ? carrier[key] : undefined),
};

const headerSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/**
 * The API's no-op provider, what a ProxyTracerProvider delegates to until an SDK registers. Not
 * exported by the API, but a fresh proxy hands out the module's singleton.
 */
const NOOP_TRACER_PROVIDER: TracerProvider = new ProxyTracerProvider().getDelegate();

/** Core's span, backed by an OpenTelemetry span and the context it was started in. */
class OtelSpanHandle implements Span {
  #errorTypeSet = false;

  constructor(
    readonly span: OtelSpan,
    /** The parent context with this span set: baggage and all, for inject() and run(). */
    readonly context: Context,
    /** This delivery's attempt number, inherited by the handle spans below a dispatch span. */
    readonly attempt: number | undefined,
    /** True when this span shares its parent's context (a stateless non-recording span, no SDK). */
    readonly shared = false,
  ) {}

  setAttribute(key: string, value: SpanAttributeValue): void {
    this.span.setAttribute(key, value);
  }

  recordException(error: unknown): void {
    this.span.recordException(error instanceof Error ? error : { name: errorTypeOf(error), message: describe(error) });
    this.span.setAttribute(ATTR.errorType, errorTypeOf(error));
    this.#errorTypeSet = true;
  }

  setStatus(status: 'ok' | 'error', message?: string): void {
    // Instrumentation leaves a success Unset; OK is the application's call to make.
    if (status === 'ok') return;
    this.span.setStatus(message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message });
    // The conventions want error.type on every failed operation, even one with no exception.
    if (!this.#errorTypeSet) this.span.setAttribute(ATTR.errorType, '_OTHER');
  }

  end(): void {
    this.span.end();
  }

  run<T>(fn: () => T): T {
    // A span sharing its parent's context usually runs where that context is already active:
    // entering it again is a context-manager round trip for nothing.
    if (this.shared && this.context === context.active()) return fn();
    return context.with(this.context, fn);
  }
}

/**
 * A remote parent as this tracer extracts it: the W3C fields core's port asks for, plus the full
 * OpenTelemetry context (baggage and whatever else the propagator read) and the attempt number.
 */
class ExtractedContext implements TraceContext {
  constructor(
    readonly traceparent: string,
    readonly tracestate: string | undefined,
    readonly context: Context,
    readonly attempt: number,
  ) {}
}

/**
 * Core's tracer port on the OpenTelemetry API. Publish spans are PRODUCER, dispatch spans CONSUMER
 * when their parent came from a message (else INTERNAL, as in-process), handler spans INTERNAL.
 * Context travels through the global propagator, so `traceparent`, `tracestate` and `baggage`
 * ride in message headers and a handler's span is a child of the publish span in another process.
 */
export class OtelTracer implements Tracer {
  readonly enabled = true;
  readonly #tracer: OtelApiTracer;
  readonly #propagator: TextMapPropagator | undefined;
  /** The global proxy while it still has no SDK behind it; undefined once one is known to be there. */
  #proxy: ProxyTracerProvider | undefined;
  /** Without an SDK: the last span started under a parent with no span to share, and its context. */
  #lastRoot: { readonly parent: Context; readonly span: OtelSpan; readonly context: Context } | undefined;

  constructor(options: OtelTracerOptions = {}) {
    // The global API hands out a proxy until a provider is registered, so constructing this before
    // the SDK starts is fine.
    const provider = options.tracerProvider ?? trace.getTracerProvider();
    this.#tracer = provider.getTracer(INSTRUMENTATION_SCOPE);
    this.#proxy = provider instanceof ProxyTracerProvider ? provider : undefined;
    this.#propagator = options.propagator;
  }

  startSpan(name: SpanName, options: StartSpanOptions): Span {
    const { parentContext, attempt } = this.#parent(options.parent, name);
    if (this.#withoutSdk()) {
      // The API's no-op tracer ignores attributes and kind, and gives a child its parent's span
      // context (or the invalid one). Under a parent that is already non-recording with that span
      // context, the child would be an equivalent stateless span: reuse the parent's span and
      // context, and build neither attributes nor a new context.
      const parentSpan = trace.getSpan(parentContext);
      if (parentSpan && !parentSpan.isRecording()) {
        const spanContext = parentSpan.spanContext();
        if (spanContext === INVALID_SPAN_CONTEXT || isSpanContextValid(spanContext)) return new OtelSpanHandle(parentSpan, parentContext, attempt, true);
      }
      // A top-level span: usually under the same context as the last one (the root, outside any
      // request), and the API's no-op spans are stateless, so the last span and context serve again.
      let last = this.#lastRoot;
      if (last?.parent !== parentContext) {
        const span = this.#tracer.startSpan(name, undefined, parentContext);
        last = this.#lastRoot = { parent: parentContext, span, context: trace.setSpan(parentContext, span) };
      }
      return new OtelSpanHandle(last.span, last.context, attempt);
    }
    const span = this.#tracer.startSpan(
      name,
      { kind: KIND[options.kind], attributes: toOtelAttributes(name, options.attributes, attempt) },
      parentContext,
    );
    return new OtelSpanHandle(span, trace.setSpan(parentContext, span), attempt);
  }

  /** True while the global provider is the API's no-op: spans are non-recording, attributes unread. */
  #withoutSdk(): boolean {
    if (!this.#proxy) return false;
    if (this.#proxy.getDelegate() === NOOP_TRACER_PROVIDER) return true;
    // An SDK registered: from now on every span goes through it.
    this.#proxy = undefined;
    return false;
  }

  inject(span: Span, headers: Record<string, string>): void {
    const ctx = span instanceof OtelSpanHandle ? span.context : context.active();
    if (this.#propagator) this.#propagator.inject(ctx, headers, headerSetter);
    else propagation.inject(ctx, headers, headerSetter);
    // The envelope promises W3C trace context on every transport. An application that never set a
    // global propagator (a bare BasicTracerProvider) still gets its spans joined across processes.
    if (headers[HEADER.traceparent] === undefined) writeW3C(trace.getSpanContext(ctx), headers);
  }

  extract(headers: EnvelopeHeaders | undefined): TraceContext | undefined {
    if (!headers) return undefined;
    let ctx = this.#propagator ? this.#propagator.extract(ROOT_CONTEXT, headers, headerGetter) : propagation.extract(ROOT_CONTEXT, headers, headerGetter);
    let spanContext = trace.getSpanContext(ctx);
    const w3c = extractTraceContext(headers);
    if (!spanContext || !isSpanContextValid(spanContext)) {
      // A propagator without W3C trace context (say, B3 only) still finds the envelope's own headers.
      spanContext = w3c && toSpanContext(w3c);
      if (!spanContext) return undefined;
      ctx = trace.setSpanContext(ctx, spanContext);
    }
    return new ExtractedContext(
      w3c?.traceparent ?? formatTraceparent(spanContext),
      w3c?.tracestate ?? (spanContext.traceState?.serialize() || undefined),
      ctx,
      attemptOf(headers),
    );
  }

  #parent(parent: StartSpanOptions['parent'], name: SpanName): { parentContext: Context; attempt: number | undefined } {
    if (parent instanceof ExtractedContext) return { parentContext: parent.context, attempt: parent.attempt };
    // In-process dispatch has no retries: every delivery is the first attempt.
    const first = name === SPAN_NAMES.dispatch ? 1 : undefined;
    if (parent instanceof OtelSpanHandle) return { parentContext: parent.context, attempt: parent.attempt ?? first };
    const active = context.active();
    const attempt = first;
    if (parent && 'traceparent' in parent) {
      // A TraceContext read by someone else (e.g. core's extractTraceContext).
      const spanContext = toSpanContext(parent);
      return { parentContext: spanContext ? trace.setSpanContext(active, spanContext) : active, attempt };
    }
    return { parentContext: active, attempt };
  }
}

/** A tracer for any bus's `tracer` option: `new RedisEventBus({ tracer: otelTracer() })`. */
export function otelTracer(options?: OtelTracerOptions): OtelTracer {
  return new OtelTracer(options);
}

/** Failed attempts so far come in the `attempt` header; this delivery is the next one. */
function attemptOf(headers: EnvelopeHeaders): number {
  const failed = Number.parseInt(headers[HEADER.attempt] ?? '0', 10);
  return Number.isFinite(failed) && failed > 0 ? failed + 1 : 1;
}

function toSpanContext(parent: TraceContext): SpanContext | undefined {
  const checked = extractTraceContext({ traceparent: parent.traceparent, tracestate: parent.tracestate });
  if (!checked) return undefined;
  const [, traceId, spanId, flags] = checked.traceparent.split('-') as [string, string, string, string];
  const spanContext: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  if (checked.tracestate) spanContext.traceState = createTraceState(checked.tracestate);
  return spanContext;
}

function formatTraceparent(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-0${(spanContext.traceFlags & TraceFlags.SAMPLED).toString(16)}`;
}

function writeW3C(spanContext: SpanContext | undefined, headers: Record<string, string>): void {
  if (!spanContext || !isSpanContextValid(spanContext)) return;
  headers[HEADER.traceparent] = formatTraceparent(spanContext);
  const state = spanContext.traceState?.serialize();
  if (state) headers[HEADER.tracestate] = state;
}

function describe(error: unknown): string {
  try {
    return typeof error === 'string' ? error : JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
