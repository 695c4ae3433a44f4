import { InMemoryEventBus, SPAN_NAMES, extractTraceContext, silentLogger } from '@eventsource/core';
import { SpanKind, SpanStatusCode, context, createTraceState, propagation, trace } from '@opentelemetry/api';
import { W3CBaggagePropagator } from '@opentelemetry/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { otelTracer } from '../src/index.js';
import { OrderPlaced, order, registry, unencodable } from './support/events.js';
import { documentedPairs, pairsOf } from './support/readme.js';
import { registerGlobals, telemetry, toRecord } from './support/telemetry.js';

beforeAll(registerGlobals);

const t = telemetry();
afterEach(() => t.reset());

function byName(name: string) {
  return t.spans().filter((s) => s.name === name);
}

describe('in-memory bus spans', () => {
  it('publish (PRODUCER) → dispatch (INTERNAL) → one handle span (INTERNAL) per handler, one trace', async () => {
    const bus = new InMemoryEventBus({ tracer: t.tracer, logger: silentLogger, registry });
    bus.subscribe(OrderPlaced, () => {}, { name: 'billing' });
    bus.subscribe(OrderPlaced, async () => {}, { name: 'shipping' });
    const event = order(1);
    await bus.publish([event]);

    const [publish] = byName(SPAN_NAMES.publish);
    const [dispatch] = byName(SPAN_NAMES.dispatch);
    const handles = byName(SPAN_NAMES.handle);
    expect(t.spans()).toHaveLength(4);
    expect(publish!.kind).toBe(SpanKind.PRODUCER);
    expect(publish!.parentSpanContext).toBeUndefined();
    expect(dispatch!.kind).toBe(SpanKind.INTERNAL);
    expect(dispatch!.parentSpanContext?.spanId).toBe(publish!.spanContext().spanId);
    expect(handles.map((h) => h.attributes['eventsource.handler.name']).sort()).toEqual(['billing', 'shipping']);
    for (const handle of handles) {
      expect(handle.kind).toBe(SpanKind.INTERNAL);
      expect(handle.parentSpanContext?.spanId).toBe(dispatch!.spanContext().spanId);
      expect(handle.status.code).toBe(SpanStatusCode.UNSET);
    }
    expect(new Set(t.spans().map((s) => s.spanContext().traceId)).size).toBe(1);
    expect(t.spans().every((s) => s.instrumentationScope.name === '@eventsource/otel')).toBe(true);

    expect(publish!.attributes).toEqual({
      'messaging.system': 'eventsource',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': 'in-memory',
      'messaging.batch.message_count': 1,
    });
    expect(dispatch!.attributes).toEqual({
      'messaging.system': 'eventsource',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.message.id': event.eventId,
      'eventsource.event.id': event.eventId,
      'eventsource.event.type': 'OtelTestOrderPlaced',
      'eventsource.aggregate.type': 'Order',
      'eventsource.aggregate.id': 'order-1',
      'eventsource.handler.count': 2,
      'eventsource.attempt': 1,
    });
    expect(handles[0]!.attributes).toMatchObject({ 'eventsource.event.type': 'OtelTestOrderPlaced', 'eventsource.attempt': 1 });
    await bus.shutdown();
  });

  it('a publish inside an application span joins its trace, and spans a handler starts are children of its handle span', async () => {
    const bus = new InMemoryEventBus({ tracer: t.tracer, logger: silentLogger, registry });
    const appTracer = t.tracerProvider.getTracer('app');
    bus.subscribe(OrderPlaced, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      appTracer.startActiveSpan('charge card', (span) => span.end());
    });
    await appTracer.startActiveSpan('http request', async (root) => {
      await bus.publish([order(2)]);
      root.end();
    });
    const root = t.spans().find((s) => s.name === 'http request')!;
    const [publish] = byName(SPAN_NAMES.publish);
    const [handle] = byName(SPAN_NAMES.handle);
    const charge = t.spans().find((s) => s.name === 'charge card')!;
    expect(publish!.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(charge.parentSpanContext?.spanId).toBe(handle!.spanContext().spanId);
    expect(new Set(t.spans().map((s) => s.spanContext().traceId))).toEqual(new Set([root.spanContext().traceId]));
    await bus.shutdown();
  });

  it('a failing handler: error status, the exception recorded and error.type on its span and on the dispatch span; the other handler is unaffected', async () => {
    const bus = new InMemoryEventBus({ tracer: t.tracer, logger: silentLogger, registry });
    bus.subscribe(OrderPlaced, () => {
      throw new TypeError('card declined');
    }, { name: 'billing' });
    bus.subscribe(OrderPlaced, () => {}, { name: 'shipping' });
    await bus.publish([order(3)]);

    const billing = byName(SPAN_NAMES.handle).find((s) => s.attributes['eventsource.handler.name'] === 'billing')!;
    const shipping = byName(SPAN_NAMES.handle).find((s) => s.attributes['eventsource.handler.name'] === 'shipping')!;
    const [dispatch] = byName(SPAN_NAMES.dispatch);
    const [publish] = byName(SPAN_NAMES.publish);
    expect(billing.status).toEqual({ code: SpanStatusCode.ERROR, message: 'card declined' });
    expect(billing.attributes['error.type']).toBe('TypeError');
    expect(billing.events).toHaveLength(1);
    expect(billing.events[0]!.name).toBe('exception');
    expect(billing.events[0]!.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'card declined' });
    expect(String(billing.events[0]!.attributes?.['exception.stacktrace'])).toContain('card declined');
    expect(shipping.status.code).toBe(SpanStatusCode.UNSET);
    expect(shipping.attributes['error.type']).toBeUndefined();
    expect(dispatch!.status.code).toBe(SpanStatusCode.ERROR);
    expect(dispatch!.status.message).toContain('billing: card declined');
    // The dispatch failure names its first failure's class, as the dead letter's dlq-error-type does.
    expect(dispatch!.attributes['error.type']).toBe('TypeError');
    // The in-memory bus logs handler errors and does not throw from publish: its span succeeded.
    expect(publish!.status.code).toBe(SpanStatusCode.UNSET);
    await bus.shutdown();
  });

  it('a handler that throws a non-Error still records an exception and error.type', async () => {
    const bus = new InMemoryEventBus({ tracer: t.tracer, logger: silentLogger, registry });
    bus.subscribe(OrderPlaced, () => {
      throw 'out of stock';
    });
    await bus.publish([order(4)]);
    const [handle] = byName(SPAN_NAMES.handle);
    expect(handle!.status.code).toBe(SpanStatusCode.ERROR);
    expect(handle!.attributes['error.type']).toBe('string');
    expect(handle!.events[0]!.attributes).toMatchObject({ 'exception.message': 'out of stock' });
    await bus.shutdown();
  });

  it('enableTracing: false emits no span at all', async () => {
    const bus = new InMemoryEventBus({ tracer: t.tracer, enableTracing: false, logger: silentLogger, registry });
    let handled = 0;
    bus.subscribe(OrderPlaced, () => {
      handled++;
    });
    await bus.publish([order(5), order(6)]);
    expect(handled).toBe(2);
    expect(t.spans()).toEqual([]);
    await bus.shutdown();
  });
});

describe('propagation through message headers', () => {
  it('inject writes traceparent, tracestate and baggage; extract makes a CONSUMER dispatch span the child of the publish span, baggage active in handlers', () => {
    const tracer = t.tracer;
    const baggage = propagation.createBaggage({ tenant: { value: 'acme' } });
    const headers: Record<string, string> = {};
    const parentState = trace.setSpanContext(context.active(), {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
      traceState: createTraceState('vendor=abc'),
    });
    const publish = context.with(propagation.setBaggage(parentState, baggage), () =>
      tracer.startSpan(SPAN_NAMES.publish, { kind: 'producer' }),
    );
    tracer.inject(publish, headers);
    publish.end();
    const publishSpan = byName(SPAN_NAMES.publish)[0]!;
    expect(headers.traceparent).toBe(`00-${publishSpan.spanContext().traceId}-${publishSpan.spanContext().spanId}-01`);
    expect(headers.tracestate).toBe('vendor=abc');
    expect(headers.baggage).toBe('tenant=acme');

    // The other side: only the headers cross.
    const remote = tracer.extract({ ...headers, attempt: '2' });
    expect(remote?.traceparent).toBe(headers.traceparent);
    expect(remote?.tracestate).toBe('vendor=abc');
    const dispatch = tracer.startSpan(SPAN_NAMES.dispatch, { kind: 'consumer', parent: remote });
    const seen = dispatch.run(() => propagation.getActiveBaggage()?.getEntry('tenant')?.value);
    dispatch.end();
    expect(seen).toBe('acme');
    const dispatchSpan = byName(SPAN_NAMES.dispatch)[0]!;
    expect(dispatchSpan.kind).toBe(SpanKind.CONSUMER);
    expect(dispatchSpan.parentSpanContext?.spanId).toBe(publishSpan.spanContext().spanId);
    expect(dispatchSpan.parentSpanContext?.isRemote).toBe(true);
    expect(dispatchSpan.spanContext().traceId).toBe(publishSpan.spanContext().traceId);
    // Two failed attempts so far: this is the third.
    expect(dispatchSpan.attributes['eventsource.attempt']).toBe(3);
  });

  it('extract returns undefined for missing or malformed trace context', () => {
    expect(t.tracer.extract(undefined)).toBeUndefined();
    expect(t.tracer.extract({})).toBeUndefined();
    expect(t.tracer.extract({ traceparent: 'garbage' })).toBeUndefined();
    expect(t.tracer.extract({ traceparent: `00-${'0'.repeat(32)}-b7ad6b7169203331-01` })).toBeUndefined();
  });

  it('with a propagator that carries no trace context, the W3C headers the envelope promises are still written and read', () => {
    const tracer = otelTracer({ tracerProvider: t.tracerProvider, propagator: new W3CBaggagePropagator() });
    const publish = tracer.startSpan(SPAN_NAMES.publish, { kind: 'producer' });
    const headers: Record<string, string> = {};
    tracer.inject(publish, headers);
    publish.end();
    const publishSpan = byName(SPAN_NAMES.publish)[0]!;
    expect(headers.traceparent).toBe(`00-${publishSpan.spanContext().traceId}-${publishSpan.spanContext().spanId}-01`);
    const dispatch = tracer.startSpan(SPAN_NAMES.dispatch, { kind: 'consumer', parent: tracer.extract(headers) });
    dispatch.end();
    expect(byName(SPAN_NAMES.dispatch)[0]!.parentSpanContext?.spanId).toBe(publishSpan.spanContext().spanId);
  });

  it("a parent read by core's own extractTraceContext works as a remote parent too", () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const span = t.tracer.startSpan(SPAN_NAMES.dispatch, { kind: 'consumer', parent: extractTraceContext({ traceparent }) });
    span.end();
    const [dispatch] = byName(SPAN_NAMES.dispatch);
    expect(dispatch!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(dispatch!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });
});

describe('the README lists every span attribute the in-memory bus emits, and nothing else', () => {
  it('compares (span, attribute) pairs over a success, a handler failure and a failed publish', async () => {
    const bus = new InMemoryEventBus({ tracer: t.tracer, logger: silentLogger, registry, roundTrip: true });
    bus.subscribe(OrderPlaced, (event) => {
      if (event.n === 2) throw new RangeError('no stock');
    });
    await bus.publish([order(1), order(2)]);
    // A payload JSON cannot carry: the round trip refuses it, so the publish span fails.
    await expect(bus.publish([unencodable()])).rejects.toThrow(/cannot be encoded as JSON/);
    await bus.shutdown();

    const { every, expected } = documentedPairs(['always', 'failure']);
    const emitted = pairsOf(t.spans().map(toRecord));
    expect([...emitted].filter((pair) => !every.has(pair)), 'emitted but not in the README').toEqual([]);
    expect([...expected].filter((pair) => !emitted.has(pair)), 'in the README but never emitted').toEqual([]);
  });
});
