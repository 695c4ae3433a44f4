import { InMemoryEventBus, SPAN_NAMES, silentLogger } from '@eventsource/core';
import { SpanKind, context, propagation, trace, type SpanContext } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otelTracer } from '../src/index.js';
import { OrderPlaced, order, registry } from './support/events.js';
import { registerGlobals } from './support/telemetry.js';

// No tracer provider is registered until the last test: the global API hands out its no-op
// tracer, which the tracer takes a shortcut around. These tests pin what must survive the shortcut.
beforeAll(registerGlobals);
afterAll(() => trace.disable());

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe('without an SDK (the API alone)', () => {
  it('a remote parent, its tracestate and baggage pass through dispatch and handle spans into the headers a handler would publish with', () => {
    const tracer = otelTracer();
    const remote = tracer.extract({ traceparent: TRACEPARENT, tracestate: 'vendor=abc', baggage: 'tenant=acme' });
    const dispatch = tracer.startSpan(SPAN_NAMES.dispatch, { kind: 'consumer', parent: remote });
    const handle = tracer.startSpan(SPAN_NAMES.handle, { kind: 'internal', parent: dispatch, attributes: { 'eventsource.handler.name': 'billing' } });
    const headers: Record<string, string> = {};
    const seen = handle.run(() => {
      tracer.inject(handle, headers);
      const active = trace.getActiveSpan();
      return {
        recording: active?.isRecording(),
        spanContext: active?.spanContext(),
        tenant: propagation.getActiveBaggage()?.getEntry('tenant')?.value,
      };
    });
    handle.end();
    dispatch.end();

    expect(seen.recording).toBe(false);
    expect(seen.spanContext).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID });
    expect(seen.tenant).toBe('acme');
    expect(headers).toEqual({ traceparent: TRACEPARENT, tracestate: 'vendor=abc', baggage: 'tenant=acme' });
  });

  it('handlers on the in-memory bus run inside the publisher’s trace context', async () => {
    const bus = new InMemoryEventBus({ tracer: otelTracer(), logger: silentLogger, registry });
    const seen: Array<SpanContext | undefined> = [];
    bus.subscribe(OrderPlaced, () => void seen.push(trace.getActiveSpan()?.spanContext()), { name: 'billing' });
    bus.subscribe(OrderPlaced, async () => void seen.push(trace.getActiveSpan()?.spanContext()), { name: 'shipping' });
    const parent = trace.setSpanContext(context.active(), { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1, isRemote: true });
    await context.with(parent, () => bus.publish([order(1)]));

    expect(seen).toHaveLength(2);
    for (const spanContext of seen) expect(spanContext).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID });
  });

  it('an SDK registered after the tracer was made records its spans from then on, attributes and kind included', async () => {
    const tracer = otelTracer();
    const bus = new InMemoryEventBus({ tracer, logger: silentLogger, registry });
    bus.subscribe(OrderPlaced, () => {}, { name: 'billing' });
    await bus.publish([order(1)]);

    const exporter = new InMemorySpanExporter();
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    await bus.publish([order(2)]);

    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual([SPAN_NAMES.dispatch, SPAN_NAMES.handle, SPAN_NAMES.publish].sort());
    const handle = spans.find((s) => s.name === SPAN_NAMES.handle)!;
    expect(handle.kind).toBe(SpanKind.INTERNAL);
    expect(handle.attributes['eventsource.handler.name']).toBe('billing');
    expect(handle.attributes['eventsource.attempt']).toBe(1);
    const publish = spans.find((s) => s.name === SPAN_NAMES.publish)!;
    expect(publish.kind).toBe(SpanKind.PRODUCER);
    expect(handle.spanContext().traceId).toBe(publish.spanContext().traceId);
  });
});
