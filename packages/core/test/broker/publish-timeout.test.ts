import { afterEach, describe, expect, it, vi } from 'vitest';
import { RecordingTracer, deferred, nextTurn, type Deferred } from '@eventsource/testkit';
import { PublishError, PublishTimeoutError, isEventSourceError } from '../../src/index.js';
import { FakeBus, TransientFault } from './fake-adapter.js';
import { newBus, placed, soon } from './kit-fixtures.js';

/** Makes every adapter publish wait for the returned gate; the test opens it (or never does). */
function holdPublishes(bus: FakeBus): Deferred {
  const release = deferred();
  bus.fake.before('publish', () => release.promise);
  return release;
}

/** What `run` rejects with; fails the test if it resolves. */
async function rejectionOf(run: Promise<unknown>): Promise<unknown> {
  try {
    await run;
  } catch (error) {
    return error;
  }
  throw new Error('expected the publish to reject, but it resolved');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('BrokerEventBusBase: publishTimeoutMs', () => {
  it('rejects a publish the broker has not confirmed in time with PublishTimeoutError, which says what happened and what to do', async () => {
    const { bus } = newBus({ publishTimeoutMs: 20 });
    await bus.connect();
    const release = holdPublishes(bus);

    const error = await rejectionOf(bus.publish([placed(1), placed(2)]));
    release.resolve();

    expect(error).toBeInstanceOf(PublishTimeoutError);
    // Code that already handles failed publishes handles this one too.
    expect(error).toBeInstanceOf(PublishError);
    expect(isEventSourceError(error)).toBe(true);
    const timeout = error as PublishTimeoutError;
    expect(timeout.code).toBe('ES_PUBLISH_TIMEOUT');
    expect(timeout.name).toBe('PublishTimeoutError');
    expect(timeout).toMatchObject({ eventCount: 2, destination: 'orders-stream', timeoutMs: 20 });
    expect(timeout.message).toContain('Publishing 2 event(s) to orders-stream did not finish within 20 ms (publishTimeoutMs)');
    expect(timeout.message).toContain('Some may have been written');
    expect(timeout.message).toContain('publishing again is safe for idempotent handlers');
    expect(timeout.message).toContain('Check that the broker is reachable');
    expect(timeout.message).toContain('raise publishTimeoutMs');
    expect(bus.getStats().publishTimeouts).toBe(1);
  });

  it("names the adapter's publishDestination in the timeout", async () => {
    const { bus } = newBus({ publishTimeoutMs: 10 }, { publishDestination: 'orders-exchange' });
    await bus.connect();
    const release = holdPublishes(bus);
    const error = await rejectionOf(bus.publish([placed(1)]));
    release.resolve();
    expect((error as PublishTimeoutError).destination).toBe('orders-exchange');
    expect((error as Error).message).toContain('to orders-exchange did not finish');
  });

  it('leaves a write that finishes in time alone', async () => {
    const { bus } = newBus({ publishTimeoutMs: 5000 });
    await bus.connect();
    bus.fake.before('publish', () => nextTurn());
    await expect(bus.publish([placed(1)])).resolves.toBeUndefined();
    expect(bus.fake.published).toHaveLength(1);
    expect(bus.getStats().eventsPublished).toBe(1);
  });

  it('keeps publishing after a timeout: the next write that the broker takes in time resolves', async () => {
    const { bus } = newBus({ publishTimeoutMs: 10 });
    await bus.connect();
    const hung = deferred();
    bus.fake.before('publish', (call) => (call === 1 ? hung.promise : undefined));
    await expect(bus.publish([placed(1)])).rejects.toBeInstanceOf(PublishTimeoutError);
    await expect(bus.publish([placed(2)])).resolves.toBeUndefined();
    expect(bus.fake.published.map((batch) => batch.length)).toEqual([1]);
    hung.resolve();
  });

  it('lets the abandoned write go on: events it writes late are on the broker and counted as published', async () => {
    const { bus } = newBus({ publishTimeoutMs: 10 });
    await bus.connect();
    const release = holdPublishes(bus);
    await expect(bus.publish([placed(1), placed(2)])).rejects.toBeInstanceOf(PublishTimeoutError);
    expect(bus.getStats().eventsPublished).toBe(0);

    release.resolve();
    await soon(() => expect(bus.fake.published).toHaveLength(1));
    expect(bus.fake.published[0]).toHaveLength(2);
    await soon(() => expect(bus.getStats().eventsPublished).toBe(2));
  });

  it('never turns a write that fails after its caller timed out into an unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      for (const failure of [new TransientFault('connection lost while waiting'), new PublishError('adapter gave up')]) {
        const { bus } = newBus({ publishTimeoutMs: 10 });
        await bus.connect();
        const release = deferred();
        bus.fake.before('publish', async () => {
          await release.promise;
          throw failure;
        });
        await expect(bus.publish([placed(1)])).rejects.toBeInstanceOf(PublishTimeoutError);
        release.resolve();
        await soon(() => expect(bus.fake.callsOf('publish')).toBe(1));
        // unhandledRejection is emitted after the microtask queue drains: give it a few macrotasks.
        for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
        expect(bus.fake.published).toEqual([]);
      }
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('shutdown still waits for an abandoned write before closing the connection, as it may yet succeed', async () => {
    const { bus } = newBus({ publishTimeoutMs: 10 });
    await bus.connect();
    const release = holdPublishes(bus);
    await expect(bus.publish([placed(1)])).rejects.toBeInstanceOf(PublishTimeoutError);

    const stopping = bus.shutdown(5000);
    await nextTurn();
    expect(bus.fake.closedAt).toBeUndefined();
    release.resolve();
    await expect(stopping).resolves.toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(bus.fake.published).toHaveLength(1);
    expect(bus.fake.closedAt).toBeDefined();
  });

  it("shutdown's deadline bounds that wait: it closes under an abandoned write that never ends and reports not drained", async () => {
    const { bus, logger } = newBus({ publishTimeoutMs: 10 });
    await bus.connect();
    const release = holdPublishes(bus);
    await expect(bus.publish([placed(1)])).rejects.toBeInstanceOf(PublishTimeoutError);

    await expect(bus.shutdown(30)).resolves.toEqual({ drained: false, pendingBackgroundTasks: 0 });
    expect(bus.fake.closedAt).toBeDefined();
    expect(logger.text).toContain('Stopped at the deadline while publishes were still being written');
    release.resolve();
  });

  it('bounds a background publish the same way: it fails with PublishTimeoutError, logged, and its slot is freed', async () => {
    const { bus, logger } = newBus({ publishTimeoutMs: 10 });
    await bus.connect();
    const release = holdPublishes(bus);
    await expect(bus.publish([placed(1)], { background: true })).resolves.toBeUndefined();

    await soon(() => expect(bus.getStats().backgroundTasksCompleted).toBe(1));
    expect(logger.text).toContain('Background publish failed');
    expect(logger.text).toContain('publishTimeoutMs');
    release.resolve();
  });

  it('ends the publish span as an error carrying the PublishTimeoutError', async () => {
    const tracer = new RecordingTracer();
    const { bus } = newBus({ tracer, publishTimeoutMs: 10 });
    await bus.connect();
    const release = holdPublishes(bus);
    const error = await rejectionOf(bus.publish([placed(1)]));
    release.resolve();

    const [span] = tracer.named('eventsource.event_bus.publish');
    expect(span!.ended).toBe(true);
    expect(span!.status?.code).toBe('error');
    expect(span!.status?.message).toContain('publishTimeoutMs');
    expect(span!.exceptions).toEqual([error]);
  });

  it('with publishTimeoutMs: Infinity waits as long as the adapter does', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { bus } = newBus({ publishTimeoutMs: Number.POSITIVE_INFINITY });
    await bus.connect();
    const release = holdPublishes(bus);
    let outcome: unknown = 'pending';
    const publishing = bus.publish([placed(1)]).then(
      () => (outcome = 'resolved'),
      (error: unknown) => (outcome = error),
    );

    await vi.advanceTimersByTimeAsync(24 * 60 * 60 * 1000);
    expect(outcome).toBe('pending');
    release.resolve();
    await publishing;
    expect(outcome).toBe('resolved');
  });

  it('times out at 30 s by default', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { bus } = newBus();
    await bus.connect();
    const release = holdPublishes(bus);
    const publishing = rejectionOf(bus.publish([placed(1)]));

    await vi.advanceTimersByTimeAsync(30_000);
    const error = await publishing;
    release.resolve();
    expect(error).toBeInstanceOf(PublishTimeoutError);
    expect((error as PublishTimeoutError).timeoutMs).toBe(30_000);
  });
});
