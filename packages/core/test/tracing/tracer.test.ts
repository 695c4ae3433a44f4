import { describe, expect, it } from 'vitest';
import {
  EnvelopeCodec,
  InvalidEventError,
  EventRegistry,
  InMemoryEventBus,
  RetryPolicy,
  SPAN_NAMES,
  defineEvent,
  extractTraceContext,
  fields,
  noopTracer,
  silentLogger,
  type TraceContext,
} from '../../src/index.js';
import { MessageProcessor, SubscriptionRegistry, dispatch, isTraceContext, normalizeHandler } from '../../src/transport.js';
import { RecordingTracer, type RecordedSpan } from '@eventsource/testkit';

const registry = new EventRegistry();
const Reserved = defineEvent('TracerTest.Reserved', {
  aggregateType: 'Room',
  payload: fields<{ nights: number }>(),
  registry,
});
const reserved = (nights: number) => new Reserved({ aggregateId: 'room-1', nights });

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('span names', () => {
  it('are fixed across transports', () => {
    expect(SPAN_NAMES).toEqual({
      publish: 'eventsource.event_bus.publish',
      dispatch: 'eventsource.event_bus.dispatch',
      handle: 'eventsource.event_bus.handle',
    });
  });
});

describe('in-memory bus spans', () => {
  it('builds publish → dispatch → handle, with error status where a handler failed', async () => {
    const tracer = new RecordingTracer();
    const bus = new InMemoryEventBus({ tracer, logger: silentLogger });
    bus.subscribe(Reserved, function record() {});
    bus.subscribe(Reserved, function rejectLongStays(event) {
      if (event.nights > 3) throw new RangeError('too long');
    });
    const events = [reserved(1), reserved(5)];
    await bus.publish(events);

    const [publish, ...others] = tracer.spans;
    expect(publish!.name).toBe('eventsource.event_bus.publish');
    expect(publish!.kind).toBe('producer');
    expect(publish!.parent).toBeUndefined();
    expect(publish!.attributes).toMatchObject({
      'messaging.system': 'eventsource',
      'messaging.operation.type': 'publish',
      'messaging.destination.name': 'in-memory',
      'messaging.batch.message_count': 2,
    });
    expect(publish!.status).toEqual({ code: 'ok', message: undefined });
    expect(others.map((span) => span.name)).toEqual([
      'eventsource.event_bus.dispatch',
      'eventsource.event_bus.handle',
      'eventsource.event_bus.handle',
      'eventsource.event_bus.dispatch',
      'eventsource.event_bus.handle',
      'eventsource.event_bus.handle',
    ]);

    const dispatches = tracer.named(SPAN_NAMES.dispatch);
    for (const span of dispatches) {
      expect(span.parent).toBe(publish);
      expect(span.kind).toBe('internal');
      expect(span.attributes).toMatchObject({
        'messaging.system': 'eventsource',
        'messaging.operation.type': 'process',
        'eventsource.event.type': 'TracerTest.Reserved',
        'eventsource.aggregate.type': 'Room',
        'eventsource.aggregate.id': 'room-1',
        'eventsource.handler.count': 2,
      });
    }
    const handles = tracer.named(SPAN_NAMES.handle);
    expect(handles.map((span) => span.parent)).toEqual([dispatches[0], dispatches[0], dispatches[1], dispatches[1]]);
    expect(handles.map((span) => span.attributes['eventsource.handler.name'])).toEqual([
      'record',
      'rejectLongStays',
      'record',
      'rejectLongStays',
    ]);
    expect(handles.map((span) => span.status?.code)).toEqual(['ok', 'ok', 'ok', 'error']);
    expect(handles[3]!.status?.message).toBe('too long');
    expect(handles[3]!.exceptions).toEqual([new RangeError('too long')]);

    expect(dispatches[0]!.status?.code).toBe('ok');
    expect(dispatches[1]!.status?.code).toBe('error');
    expect(dispatches[1]!.status?.message).toMatch(/^1 handler\(s\) failed for TracerTest\.Reserved/);
    expect(dispatches[1]!.exceptions).toHaveLength(1);
    expect(dispatches.map((span) => span.attributes['messaging.message.id'])).toEqual(events.map((event) => event.eventId));

    expect(tracer.spans.every((span: RecordedSpan) => span.endCount === 1)).toBe(true);
    await bus.shutdown(100);
  });

  it('records a failed publish on the publish span and rethrows', async () => {
    const tracer = new RecordingTracer();
    const bus = new InMemoryEventBus({ tracer, logger: silentLogger, roundTrip: true, registry });
    const Bad = defineEvent('TracerTest.Bad', { aggregateType: 'B', payload: fields<{ n: bigint }>(), registry });
    await expect(bus.publish([new Bad({ aggregateId: 'b', n: 1n })])).rejects.toThrow(InvalidEventError);
    const [publish] = tracer.spans;
    expect(tracer.spans).toHaveLength(1);
    expect(publish!.status?.code).toBe('error');
    expect(publish!.exceptions[0]).toBeInstanceOf(InvalidEventError);
    expect(publish!.ended).toBe(true);
    await bus.shutdown(100);
  });

  it('creates no span for an event without handlers besides the publish span', async () => {
    const tracer = new RecordingTracer();
    const bus = new InMemoryEventBus({ tracer, logger: silentLogger });
    await bus.publish([reserved(1)]);
    expect(tracer.spans.map((span) => span.name)).toEqual([SPAN_NAMES.publish]);
    await bus.shutdown(100);
  });
});

describe('dispatch spans', () => {
  it('is a consumer span when the parent is a remote trace context, with extra attributes', async () => {
    const tracer = new RecordingTracer();
    const parent: TraceContext = { traceparent: TRACEPARENT };
    await dispatch(reserved(1), [normalizeHandler(() => undefined, 'h')], {
      tracer,
      parent,
      attributes: { 'messaging.destination.name': 'rooms', 'messaging.consumer.group.name': 'billing' },
    });
    const [span] = tracer.named(SPAN_NAMES.dispatch);
    expect(span!.kind).toBe('consumer');
    expect(span!.parent).toBe(parent);
    expect(span!.attributes).toMatchObject({
      'messaging.destination.name': 'rooms',
      'messaging.consumer.group.name': 'billing',
    });
  });

  it('is an internal root span without a parent', async () => {
    const tracer = new RecordingTracer();
    await dispatch(reserved(1), [normalizeHandler(() => undefined, 'h')], { tracer });
    expect(tracer.named(SPAN_NAMES.dispatch)[0]!.kind).toBe('internal');
  });

  it('records sync throws, async rejections and non-Error failures on the handle spans', async () => {
    const tracer = new RecordingTracer();
    await dispatch(
      reserved(1),
      [
        normalizeHandler(() => {
          throw new Error('sync');
        }),
        normalizeHandler(async () => {
          throw new Error('async');
        }),
        normalizeHandler(() => Promise.reject('plain')),
      ],
      { tracer },
    );
    const handles = tracer.named(SPAN_NAMES.handle);
    expect(handles.map((span) => span.status)).toEqual([
      { code: 'error', message: 'sync' },
      { code: 'error', message: 'async' },
      { code: 'error', message: 'plain' },
    ]);
    expect(handles.every((span) => span.ended)).toBe(true);
  });

  it('creates no spans with the no-op tracer', async () => {
    const outcome = await dispatch(reserved(1), [normalizeHandler(() => undefined)], { tracer: noopTracer });
    expect(outcome).toEqual({ ok: true, invoked: 1 });
  });
});

describe('consumer spans', () => {
  function processor(tracer: RecordingTracer | typeof noopTracer) {
    const subscriptions = new SubscriptionRegistry();
    subscriptions.add(Reserved.eventType, normalizeHandler(() => undefined, 'h'));
    return new MessageProcessor({
      codec: new EnvelopeCodec({ registry }),
      subscriptions,
      tracer,
      retryPolicy: new RetryPolicy(),
      spanAttributes: { 'messaging.destination.name': 'rooms' },
    });
  }

  it('continue the producer\'s trace from the traceparent header', async () => {
    const tracer = new RecordingTracer();
    const envelope = new EnvelopeCodec({ registry }).encode(reserved(2), { traceparent: TRACEPARENT, tracestate: 'k=v' });
    await processor(tracer).process(envelope);
    const [span] = tracer.named(SPAN_NAMES.dispatch);
    expect(span!.kind).toBe('consumer');
    expect(span!.parent).toEqual({ traceparent: TRACEPARENT, tracestate: 'k=v' });
    expect(span!.attributes['messaging.destination.name']).toBe('rooms');
  });

  it('start a new trace when the traceparent header is malformed', async () => {
    const tracer = new RecordingTracer();
    const envelope = new EnvelopeCodec({ registry }).encode(reserved(2), { traceparent: 'garbage' });
    await processor(tracer).process(envelope);
    const [span] = tracer.named(SPAN_NAMES.dispatch);
    expect(span!.parent).toBeUndefined();
    expect(span!.kind).toBe('internal');
  });

  it('are not created with the no-op tracer', async () => {
    const envelope = new EnvelopeCodec({ registry }).encode(reserved(2), { traceparent: TRACEPARENT });
    expect((await processor(noopTracer).process(envelope)).kind).toBe('ack');
  });
});

describe('extractTraceContext', () => {
  it('reads a valid traceparent, with and without tracestate', () => {
    expect(extractTraceContext({ traceparent: TRACEPARENT })).toEqual({ traceparent: TRACEPARENT });
    expect(extractTraceContext({ traceparent: TRACEPARENT, tracestate: 'congo=t61rcWkgMzE' })).toEqual({
      traceparent: TRACEPARENT,
      tracestate: 'congo=t61rcWkgMzE',
    });
  });

  it('normalises case and surrounding space', () => {
    expect(extractTraceContext({ traceparent: `  ${TRACEPARENT.toUpperCase()} ` })).toEqual({ traceparent: TRACEPARENT });
  });

  it.each([
    ['absent headers', undefined],
    ['no traceparent', {}],
    ['an empty traceparent', { traceparent: '' }],
    ['a short trace id', { traceparent: '00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01' }],
    ['a short span id', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033-01' }],
    ['non-hex characters', { traceparent: '00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01' }],
    ['missing flags', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331' }],
    ['wrong separators', { traceparent: '00_0af7651916cd43dd8448eb211c80319c_b7ad6b7169203331_01' }],
    ['the forbidden version ff', { traceparent: 'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }],
    ['an all-zero trace id', { traceparent: `00-${'0'.repeat(32)}-b7ad6b7169203331-01` }],
    ['an all-zero span id', { traceparent: `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01` }],
  ])('rejects %s', (_label, headers) => {
    expect(extractTraceContext(headers)).toBeUndefined();
  });
});

describe('noopTracer', () => {
  it('is disabled and does nothing, but still runs the code it wraps', () => {
    expect(noopTracer.enabled).toBe(false);
    const span = noopTracer.startSpan(SPAN_NAMES.publish, { kind: 'producer' });
    span.setAttribute('a', 1);
    span.recordException(new Error('x'));
    span.setStatus('error', 'x');
    span.end();
    expect(span.run(() => 42)).toBe(42);
    const headers: Record<string, string> = {};
    noopTracer.inject(span, headers);
    expect(headers).toEqual({});
    expect(noopTracer.extract({ traceparent: TRACEPARENT })).toEqual({ traceparent: TRACEPARENT });
  });
});

describe('isTraceContext', () => {
  it('tells a remote context from a local span', () => {
    expect(isTraceContext({ traceparent: TRACEPARENT })).toBe(true);
    expect(isTraceContext(noopTracer.startSpan(SPAN_NAMES.handle, { kind: 'internal' }))).toBe(false);
    expect(isTraceContext(undefined)).toBe(false);
  });
});
