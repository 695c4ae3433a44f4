import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecordingTracer, deferred } from '@eventsource/testkit';
import { HandlerDispatchError, HandlerTimeoutError, defineEvent, noopTracer, type DispatchOutcome, type DomainEvent } from '../../src/index.js';
import { HandlerWatch, dispatch, normalizeHandler, type DispatchContext } from '../../src/transport.js';

const Shipped = defineEvent('HandlerTimeoutTest.Shipped', { aggregateType: 'Parcel' });
const shipped = () => new Shipped({ aggregateId: 'parcel-1', eventId: 'evt-1' });
const hang = () => new Promise<never>(() => undefined);

/** Starts a dispatch and lets the test look at its outcome as soon as there is one. */
function start(handlers: Parameters<typeof dispatch>[1], context: DispatchContext) {
  let outcome: DispatchOutcome | undefined;
  const done = dispatch(shipped(), handlers, context).then((o) => (outcome = o));
  return {
    done,
    get outcome() {
      return outcome;
    },
  };
}

function failures(outcome: DispatchOutcome | undefined): unknown[] {
  if (!outcome || outcome.ok) throw new Error(`expected a failed outcome, got ${JSON.stringify(outcome)}`);
  expect(outcome.error).toBeInstanceOf(HandlerDispatchError);
  return outcome.error.failures.map((f) => f.error);
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('handler timeout', () => {
  it("fails the attempt of a handler that has not settled within the bus's handlerTimeoutMs", async () => {
    const watch = new HandlerWatch();
    const run = start([normalizeHandler(hang, 'reserveStock')], { tracer: noopTracer, handlerTimeoutMs: 50, watch });
    await vi.advanceTimersByTimeAsync(49);
    expect(run.outcome).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    const [error] = failures(run.outcome);
    expect(error).toBeInstanceOf(HandlerTimeoutError);
    expect(error).toMatchObject({ code: 'ES_HANDLER_TIMEOUT', handlerName: 'reserveStock', eventType: Shipped.eventType, timeoutMs: 50 });
    expect((error as Error).message).toContain('did not finish HandlerTimeoutTest.Shipped within 50 ms');
    expect((run.outcome as { error: HandlerDispatchError }).error.errorType).toBe('HandlerTimeoutError');
  });

  it("uses the subscription's own limit over the bus's, longer or shorter", async () => {
    const longer = start([normalizeHandler(hang, 'slowReport', 1000)], { tracer: noopTracer, handlerTimeoutMs: 10 });
    const shorter = start([normalizeHandler(hang, 'quickCheck', 10)], { tracer: noopTracer, handlerTimeoutMs: 1000 });
    await vi.advanceTimersByTimeAsync(10);
    expect(longer.outcome).toBeUndefined();
    expect(failures(shorter.outcome)[0]).toMatchObject({ timeoutMs: 10 });
    await vi.advanceTimersByTimeAsync(990);
    expect(failures(longer.outcome)[0]).toMatchObject({ handlerName: 'slowReport', timeoutMs: 1000 });
  });

  it('counts a timed-out handler as stuck until it settles, however it settles', async () => {
    const watch = new HandlerWatch();
    const late = deferred();
    const later = deferred();
    const run = start(
      [normalizeHandler(() => late.promise, 'a'), normalizeHandler(() => later.promise, 'b')],
      { tracer: noopTracer, handlerTimeoutMs: 20, watch },
    );
    await vi.advanceTimersByTimeAsync(20);
    expect(failures(run.outcome)).toHaveLength(2);
    expect(watch).toMatchObject({ stuck: 2, timedOut: 2 });
    late.resolve();
    await vi.advanceTimersByTimeAsync(0);
    expect(watch).toMatchObject({ stuck: 1, timedOut: 2 });
    later.reject(new Error('gave up on its own'));
    await vi.advanceTimersByTimeAsync(0);
    expect(watch).toMatchObject({ stuck: 0, timedOut: 2 });
  });

  it('leaves handlers that finish in time alone: their result, or their own error, and no timer left behind', async () => {
    const watch = new HandlerWatch();
    const ok = start([normalizeHandler(async () => undefined, 'ok')], { tracer: noopTracer, handlerTimeoutMs: 20, watch });
    const own = new RangeError('bad weight');
    const failing = start([normalizeHandler(() => Promise.reject(own), 'failing')], { tracer: noopTracer, handlerTimeoutMs: 20, watch });
    await vi.advanceTimersByTimeAsync(0);
    expect(ok.outcome).toEqual({ ok: true, invoked: 1 });
    expect(failures(failing.outcome)).toEqual([own]);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    expect(watch).toMatchObject({ stuck: 0, timedOut: 0 });
  });

  it('sets no timer without a limit, and never limits a synchronous handler', async () => {
    const none = start([normalizeHandler(hang, 'h')], { tracer: noopTracer });
    expect(vi.getTimerCount()).toBe(0);
    const sync = start([normalizeHandler(() => 'done', 'sync')], { tracer: noopTracer, handlerTimeoutMs: 5 });
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(sync.outcome).toEqual({ ok: true, invoked: 1 });
    expect(none.outcome).toBeUndefined();
  });

  it('times out only the slow handler among several; the others still count as invoked and succeeded', async () => {
    const seen: string[] = [];
    const run = start(
      [normalizeHandler(hang, 'slow'), normalizeHandler(async (e: DomainEvent) => void seen.push(e.eventId), 'fast')],
      { tracer: noopTracer, handlerTimeoutMs: 30 },
    );
    await vi.advanceTimersByTimeAsync(30);
    expect(run.outcome).toMatchObject({ ok: false, invoked: 2 });
    expect((run.outcome as { error: HandlerDispatchError }).error.failures.map((f) => f.handlerName)).toEqual(['slow']);
    expect(seen).toEqual(['evt-1']);
  });

  it('marks the handle span of a timed-out handler failed when tracing', async () => {
    const tracer = new RecordingTracer();
    const run = start([normalizeHandler(hang, 'slow'), normalizeHandler(async () => undefined, 'fast')], { tracer, handlerTimeoutMs: 15 });
    await vi.advanceTimersByTimeAsync(15);
    expect(failures(run.outcome)[0]).toBeInstanceOf(HandlerTimeoutError);
    const spans = tracer.named('eventsource.event_bus.handle');
    expect(spans.map((s) => [s.attributes['eventsource.handler.name'], s.status?.code])).toEqual([
      ['slow', 'error'],
      ['fast', 'ok'],
    ]);
    expect(spans[0]!.exceptions[0]).toBeInstanceOf(HandlerTimeoutError);
    expect(tracer.named('eventsource.event_bus.dispatch')[0]!.status?.code).toBe('error');
  });
});
