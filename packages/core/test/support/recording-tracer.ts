import type { EnvelopeHeaders } from '../../src/envelope/headers.js';
import {
  extractTraceContext,
  type Span,
  type SpanAttributeValue,
  type SpanKind,
  type SpanName,
  type StartSpanOptions,
  type TraceContext,
  type Tracer,
} from '../../src/tracing/tracer.js';

/** A span that remembers everything done to it, so tests can check the tree a bus produced. */
export class RecordedSpan implements Span {
  readonly attributes: Record<string, SpanAttributeValue | undefined>;
  readonly exceptions: unknown[] = [];
  status: { code: 'ok' | 'error'; message?: string | undefined } | undefined;
  ended = false;
  endCount = 0;

  constructor(
    readonly name: SpanName,
    readonly kind: SpanKind,
    readonly parent: Span | TraceContext | undefined,
    attributes: StartSpanOptions['attributes'],
  ) {
    this.attributes = { ...attributes };
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

export class RecordingTracer implements Tracer {
  readonly enabled = true;
  readonly spans: RecordedSpan[] = [];

  startSpan(name: SpanName, options: StartSpanOptions): RecordedSpan {
    const span = new RecordedSpan(name, options.kind, options.parent, options.attributes);
    this.spans.push(span);
    return span;
  }

  inject(_span: Span, headers: Record<string, string>): void {
    headers.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  }

  extract(headers: EnvelopeHeaders | undefined): TraceContext | undefined {
    return extractTraceContext(headers);
  }

  named(name: SpanName): RecordedSpan[] {
    return this.spans.filter((span) => span.name === name);
  }
}
