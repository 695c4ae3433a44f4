import { randomBytes } from 'node:crypto';

// The shapes of core's tracer port, restated so the kit does not import core (core's own tests
// use the kit; a dependency on core would make a cycle). TypeScript checks them structurally
// wherever a RecordingTracer is passed as core's `Tracer`.
export type SpanAttributeValue = string | number | boolean;
export type SpanKindLike = 'producer' | 'consumer' | 'internal';

export interface TraceContextLike {
  readonly traceparent: string;
  readonly tracestate?: string | undefined;
}

export interface SpanLike {
  setAttribute(key: string, value: SpanAttributeValue): void;
  recordException(error: unknown): void;
  setStatus(status: 'ok' | 'error', message?: string): void;
  end(): void;
  run<T>(fn: () => T): T;
}

export interface StartSpanOptionsLike {
  readonly kind: SpanKindLike;
  readonly attributes?: Readonly<Record<string, SpanAttributeValue | undefined>>;
  readonly parent?: SpanLike | TraceContextLike | undefined;
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}$/;

/** A span that remembers everything done to it, with real W3C ids so trace context can travel through a broker. */
export class RecordedSpan implements SpanLike {
  readonly attributes: Record<string, SpanAttributeValue | undefined>;
  readonly exceptions: unknown[] = [];
  status: { code: 'ok' | 'error'; message?: string | undefined } | undefined;
  ended = false;
  endCount = 0;
  /** 32 hex digits: the parent's trace id, or a new one for a root span. */
  readonly traceId: string;
  /** 16 hex digits. */
  readonly spanId: string;
  /** The parent's span id, local or remote; undefined for a root span. */
  readonly parentSpanId: string | undefined;
  /** True when the parent came from message headers (a TraceContext), not a span in this process. */
  readonly remoteParent: boolean;

  constructor(
    readonly name: string,
    readonly kind: SpanKindLike,
    readonly parent: SpanLike | TraceContextLike | undefined,
    attributes: StartSpanOptionsLike['attributes'],
  ) {
    this.attributes = { ...attributes };
    this.spanId = randomBytes(8).toString('hex');
    if (parent instanceof RecordedSpan) {
      this.traceId = parent.traceId;
      this.parentSpanId = parent.spanId;
      this.remoteParent = false;
    } else if (parent !== undefined && typeof (parent as TraceContextLike).traceparent === 'string') {
      const match = TRACEPARENT.exec((parent as TraceContextLike).traceparent);
      this.traceId = match?.[1] ?? randomBytes(16).toString('hex');
      this.parentSpanId = match?.[2];
      this.remoteParent = true;
    } else {
      this.traceId = randomBytes(16).toString('hex');
      this.parentSpanId = undefined;
      this.remoteParent = false;
    }
  }

  /** This span's W3C traceparent header value. */
  get traceparent(): string {
    return `00-${this.traceId}-${this.spanId}-01`;
  }

  setAttribute(key: string, value: SpanAttributeValue): void {
    this.attributes[key] = value;
  }
  recordException(error: unknown): void {
    this.exceptions.push(error);
  }
  setStatus(code: 'ok' | 'error', message?: string): void {
    this.status = { code, message };
  }
  end(): void {
    this.ended = true;
    this.endCount++;
  }
  run<T>(fn: () => T): T {
    return fn();
  }
}

export interface RecordingTracerOptions {
  /** Written as `tracestate` next to every injected `traceparent`, to check it travels too. */
  readonly tracestate?: string;
}

/** A tracer for tests: keeps every span, injects and extracts real W3C trace context. */
export class RecordingTracer {
  readonly enabled = true;
  readonly spans: RecordedSpan[] = [];
  readonly #tracestate: string | undefined;

  constructor(options: RecordingTracerOptions = {}) {
    this.#tracestate = options.tracestate;
  }

  startSpan(name: string, options: StartSpanOptionsLike): RecordedSpan {
    const span = new RecordedSpan(name, options.kind, options.parent, options.attributes);
    this.spans.push(span);
    return span;
  }

  inject(span: SpanLike, headers: Record<string, string>): void {
    if (!(span instanceof RecordedSpan)) return;
    headers.traceparent = span.traceparent;
    if (this.#tracestate !== undefined) headers.tracestate = this.#tracestate;
  }

  /** The W3C rules core applies (version ff and all-zero ids are invalid). */
  extract(headers: Readonly<Record<string, string | undefined>> | undefined): TraceContextLike | undefined {
    const traceparent = headers?.traceparent?.trim().toLowerCase();
    const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
    if (!traceparent || !match || traceparent.startsWith('ff-') || /^0+$/.test(match[1]!) || /^0+$/.test(match[2]!)) return undefined;
    const tracestate = headers?.tracestate;
    return tracestate ? { traceparent, tracestate } : { traceparent };
  }

  named(name: string): RecordedSpan[] {
    return this.spans.filter((span) => span.name === name);
  }
}
