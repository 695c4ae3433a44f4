/**
 * Regression tests for the defects a fault-injection review found (issue 7), one or more per
 * defect, numbered as in the issue. Each comment says why the test fails on the code before the
 * fixes (commit a8f92dc, before the broker kit).
 */
import { HEADER, type Logger } from '@eventsource/core';
import { TcpProxy } from '@eventsource/conformance';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEventBus, redisKeys } from '../src/index.js';
import { resolveConfig } from '../src/config.js';
import { OrderPlaced, OtherTeamEvent, REDIS_URL, broker, order, redisTestScope, waitFor } from './support/redis.js';
import { RedisServerProcess, freePort, toolsAvailable, within } from './support/private-redis.js';

/** A logger that keeps every line with its fields, for assertions. */
function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string, fields?: object) => void lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug() {}, info: keep('info'), warn: keep('warn'), error: keep('error') };
}

function gate(): { readonly wait: Promise<void>; readonly open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, n) => n);
}

describe.skipIf(!broker)('bus-redis under faults (issue 7)', () => {
  const scope = redisTestScope();
  const prefix = scope.prefix;
  const bus = scope.bus;
  let raw: Redis;
  const gates: Array<{ open: () => void }> = [];
  beforeAll(() => {
    raw = scope.raw();
  });
  afterAll(() => {
    for (const g of gates) g.open();
  });
  function held(): { readonly wait: Promise<void>; readonly open: () => void } {
    const g = gate();
    gates.push(g);
    return g;
  }
  async function pendingOwners(p: string, group = 'g1'): Promise<string[]> {
    const rows = (await raw.call('XPENDING', `${p}:stream`, group, '-', '+', '1000')) as Array<[string, string, number, number]>;
    return rows.map((row) => row[1]);
  }

  // Fails on a8f92dc: the keep-alive refreshed every fetched entry, started or not, so the 10
  // entries queued behind the hung handler were never idle long enough for B to reclaim them; and
  // there was no handler timeout, so health() stayed green.
  it('#1 a hung handler does not hold the entries queued behind it: another member handles them, and health() reports the stuck handler', async () => {
    const p = prefix('hung');
    const options = { reclaimIdleMs: 1000, maxRetries: 5, retryBaseDelayMs: 60_000, retryMaxDelayMs: 60_000 };
    const a = await bus(p, { ...options, consumerName: 'a', maxInFlight: 1, handlerTimeoutMs: 3000 });
    const hung = held();
    const startedOnA: number[] = [];
    a.subscribe(OrderPlaced, async (e) => {
      startedOnA.push(e.n);
      if (startedOnA.length === 1) await hung.wait;
    });
    a.startConsumingInBackground();
    await a.publish(range(11).map((n) => order(n)));
    await waitFor('A to fetch all 11 entries and start one', () => a.getStats().eventsConsumed === 11 && startedOnA.length === 1);

    const b = await bus(p, { ...options, consumerName: 'b' });
    const handledByB = new Set<number>();
    b.subscribe(OrderPlaced, (e) => void handledByB.add(e.n));
    b.startConsumingInBackground();
    const queued = range(11).filter((n) => n !== startedOnA[0]);
    await waitFor('B to handle the 10 entries queued behind the hung handler', () => queued.every((n) => handledByB.has(n)), 10_000);
    await waitFor('health() to report the stuck handler', () => a.health().stuckHandlers === 1 && !a.health().healthy);
    expect(a.health().lastError).toMatch(/handler\(s\) running past handlerTimeoutMs/);
    expect(startedOnA).toEqual([startedOnA[0]]);
    expect(a.getStats().handlerTimeouts).toBe(1);
  });

  // Fails on a8f92dc: its keep-alive (XCLAIM … 0 … JUSTID) took the running entry back from the
  // member holding it once the proxy was up again, never logging it; and after the handler
  // finished, it started the 9 entries it had queued, which had been taken over meanwhile.
  it('#2 after a partition longer than reclaimIdleMs, the cut-off member starts none of the entries taken over, and its keep-alive takes none back', async () => {
    const p = prefix('partition');
    const proxy = await TcpProxy.start(REDIS_URL);
    try {
      const logger = recordingLogger();
      const a = await bus(p, {
        redisUrl: proxy.url,
        consumerName: 'a',
        maxInFlight: 1,
        reclaimIdleMs: 1000,
        reconnectBaseDelayMs: 20,
        reconnectMaxDelayMs: 100,
        logger,
      });
      const handled = new Map<number, number>();
      const count = (n: number): void => void handled.set(n, (handled.get(n) ?? 0) + 1);
      const release = held();
      const startedOnA: number[] = [];
      a.subscribe(OrderPlaced, async (e) => {
        startedOnA.push(e.n);
        count(e.n);
        await release.wait;
      });
      a.startConsumingInBackground();
      await a.publish(range(10).map((n) => order(n)));
      await waitFor('A to fetch all 10 entries and start one', () => a.getStats().eventsConsumed === 10 && startedOnA.length === 1);
      const running = startedOnA[0]!;

      // Cut off, A cannot keep anything alive: member B takes everything over once idle long enough.
      await proxy.down();
      await waitFor(
        'B to take over all 10 entries',
        async () => {
          await raw.call('XAUTOCLAIM', `${p}:stream`, 'g1', 'b', '1000', '0-0', 'COUNT', '100', 'JUSTID');
          return (await pendingOwners(p)).filter((owner) => owner === 'b').length === 10;
        },
        10_000,
      );
      await proxy.up();
      await waitFor('A to find, by its keep-alive, that the running entry is B\u2019s now', () => logger.lines.some((line) => line.includes('taken over by another member')), 10_000);
      expect(await pendingOwners(p)).toEqual(Array<string>(10).fill('b'));

      release.open();
      await waitFor('A to settle the entry it was running', () => a.getStats().eventsProcessed === 1);
      expect(startedOnA).toEqual([running]);

      // B, a real member now, handles what it took over and was not settled.
      const b = await bus(p, { consumerName: 'b', reclaimIdleMs: 1000 });
      b.subscribe(OrderPlaced, (e) => count(e.n));
      b.startConsumingInBackground();
      await waitFor('every entry settled', async () => (await pendingOwners(p)).length === 0 && range(10).every((n) => handled.has(n)));
      expect([...handled.entries()].filter(([, times]) => times > 1)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  // Fails on a8f92dc: DLQ_TO_RETRY ran XDEL first, so the refused HSET left the dead letter deleted.
  it('#4 a replay Redis refuses keeps the dead letter', async () => {
    const p = prefix('replay-refused');
    const b = await bus(p, { maxRetries: 0 });
    b.subscribe(OrderPlaced, () => {
      throw new Error('always');
    });
    b.startConsumingInBackground();
    await b.publish([order(1)]);
    await waitFor('the dead letter', async () => (await b.getDlqMessageCount()) === 1);
    const [letter] = await b.getDlqMessages();
    await raw.set(b.config.keys.retryData, 'occupied by something else');

    await expect(b.replayDlqMessage(letter!.id)).rejects.toThrow(/WRONGTYPE/);
    await expect(b.replayAllDlqMessages()).rejects.toThrow(/WRONGTYPE/);
    expect(await b.getDlqMessageCount()).toBe(1);
    expect((await b.getDlqMessages()).map((m) => m.id)).toEqual([letter!.id]);
    expect(Number(await raw.zcard(b.config.keys.retrySchedule))).toBe(0);
  });

  // Fails on a8f92dc: group X's retry data hash `…:retry:X:data` was group X:data's retry
  // schedule, so one of them hit WRONGTYPE and its events were never retried.
  it('#5 groups X and X:data keep separate retry keys and both retry', async () => {
    const p = prefix('collide');
    const groups = ['X', 'X:data'];
    const attempts = new Map<string, number>();
    for (const group of groups) {
      const b = await bus(p, { consumerGroup: group, maxRetries: 2 });
      b.subscribe(OrderPlaced, (e) => {
        const key = `${group}/${e.n}`;
        attempts.set(key, (attempts.get(key) ?? 0) + 1);
        if (attempts.get(key) === 1) throw new Error('first attempt fails');
      });
      b.startConsumingInBackground();
    }
    const publisher = await bus(p);
    await publisher.publish(range(3).map((n) => order(n)));
    await waitFor('both groups to handle every event on its retry', () => groups.every((g) => range(3).every((n) => attempts.get(`${g}/${n}`) === 2)));
    const [x, xData] = groups.map((g) => redisKeys(p, g));
    // The stream is shared; every other key is the group's own.
    expect(new Set([...Object.values(x!), ...Object.values(xData!)]).size).toBe(9);
    for (const g of groups) expect(Number(await raw.xlen(redisKeys(p, g).dlq))).toBe(0);
  });

  // Fails on a8f92dc: ioredis kept the blocked read queued through the outage and disconnect()
  // never rejected it, so stopConsuming() waited for Redis to come back.
  it('#6 stopConsuming() and shutdown() during a Redis outage finish by their deadline, and startConsuming() settles', async () => {
    const p = prefix('stop-outage');
    const proxy = await TcpProxy.start(REDIS_URL);
    try {
      const b = await bus(p, { redisUrl: proxy.url, blockMs: 2000, reconnectBaseDelayMs: 20, reconnectMaxDelayMs: 100 });
      b.subscribe(OrderPlaced, () => {});
      b.startConsumingInBackground();
      await waitFor('the consumer', () => b.health().consuming && b.health().healthy);
      await proxy.down();
      await waitFor('the outage to show', () => !b.health().healthy);
      await within(5000, 'stopConsuming() during the outage', b.stopConsuming());

      const { done } = b.startConsumingInBackground();
      const settled = done.then(
        () => 'resolved',
        () => 'rejected',
      );
      await within(5000, 'shutdown(1000) during the outage', b.shutdown(1000));
      expect(await within(5000, 'the startConsuming() promise after shutdown()', settled)).toBe('resolved');
    } finally {
      await proxy.close();
    }
  });

  // Fails on a8f92dc: the blocked read timed out on the client after 200 ms while Redis still
  // held it, and the entries Redis then delivered to it sat pending until reclaim (60 s).
  it('#7 a redisOptions.commandTimeout shorter than blockMs does not strand delivered entries', async () => {
    const p = prefix('command-timeout');
    const b = await bus(p, { blockMs: 1000, redisOptions: { commandTimeout: 200 } });
    const seen = new Set<number>();
    b.subscribe(OrderPlaced, (e) => void seen.add(e.n));
    b.startConsumingInBackground();
    await waitFor('the consumer', () => b.health().consuming);
    const publisher = await bus(p);
    for (const n of range(5)) {
      // Published while a read has been blocked for a while, past the command timeout.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await publisher.publish([order(n)]);
      await waitFor(`event ${n} without waiting for a reclaim`, () => seen.has(n), 5000);
    }
    expect(b.getStats().eventsReclaimed).toBe(0);
  });

  // Fails on a8f92dc: describing the thrown value (or reading `then`) threw outside the handler's
  // try block, so the entry stayed pending, to be reclaimed after 60 s, and was never retried.
  it('#8 values that cannot be described, or a `then` getter that throws, go through the retry policy', async () => {
    const p = prefix('unprintable');
    const b = await bus(p, { maxRetries: 1 });
    const attempts = new Map<number, number>();
    b.subscribe(OrderPlaced, (e) => {
      attempts.set(e.n, (attempts.get(e.n) ?? 0) + 1);
      if (e.n === 1) {
        const circular = Object.create(null) as Record<string, unknown>;
        circular.self = circular;
        throw circular;
      }
      const thenable = {};
      Object.defineProperty(thenable, 'then', {
        get() {
          throw new Error('then getter throws');
        },
      });
      return thenable as unknown as void;
    });
    b.startConsumingInBackground();
    await b.publish([order(1), order(2)]);
    await waitFor('both dead-lettered after 1 + maxRetries attempts', async () => (await b.getDlqMessageCount()) === 2, 10_000);
    expect([attempts.get(1), attempts.get(2)]).toEqual([2, 2]);
    const letters = await b.getDlqMessages();
    expect(letters.map((m) => m.info.reason)).toEqual(['max_retries_exceeded', 'max_retries_exceeded']);
    expect(b.getStats().eventsReclaimed).toBe(0);
  });

  // Fails on a8f92dc: a missing group was always created again at 0, so with startFrom 'latest'
  // the 5 events handled before the XGROUP DESTROY were handled again.
  it('#9 a group an operator destroyed is created again where startFrom says; after a data loss the new stream is read from its start', async () => {
    const p = prefix('destroyed');
    const logger = recordingLogger();
    const b = await bus(p, { startFrom: 'latest', consumerName: 'a', logger });
    const handled: number[] = [];
    b.subscribe(OrderPlaced, (e) => void handled.push(e.n));
    b.startConsumingInBackground();
    await waitFor('the consumer', () => b.health().consuming);
    const publisher = await bus(p);
    await publisher.publish(range(5).map((n) => order(n)));
    await waitFor('the first five', () => handled.length === 5);

    await raw.call('XGROUP', 'DESTROY', `${p}:stream`, 'g1');
    await waitFor('the group to be created again', () => logger.lines.some((line) => line.includes('was removed (XGROUP DESTROY?)')));
    await publisher.publish([5, 6, 7, 8, 9].map((n) => order(n)));
    await waitFor('the five published after', () => [5, 6, 7, 8, 9].every((n) => handled.includes(n)));
    expect(handled).toEqual(range(10));

    // Redis lost its data: the stream is gone; new events make a new stream, read from its start.
    await raw.del(`${p}:stream`);
    await publisher.publish([10, 11, 12].map((n) => order(n)));
    await waitFor('the events in the new stream', () => [10, 11, 12].every((n) => handled.includes(n)));
    expect(logger.lines.join('\n')).toContain('Redis lost its data?');
  });

  // Fails on a8f92dc: nothing ever removed a member other than the bus's own at a clean shutdown.
  it('#10 members that crashed are removed once idle past staleConsumerIdleMs, after their entries were taken over', async () => {
    const p = prefix('stale-members');
    const stream = `${p}:stream`;
    await raw.call('XGROUP', 'CREATE', stream, 'g1', '$', 'MKSTREAM');
    await raw.call('XGROUP', 'CREATECONSUMER', stream, 'g1', 'crashed-empty');
    await raw.xadd(stream, '*', HEADER.eventType, 'RedisTestOrderPlaced', 'body', JSON.stringify(order(1).toJSON()));
    // A member that read an entry and died holding it.
    await raw.call('XREADGROUP', 'GROUP', 'g1', 'crashed-holding', 'COUNT', '1', 'STREAMS', stream, '>');

    const b = await bus(p, { consumerName: 'live', reclaimIdleMs: 300, staleConsumerIdleMs: 1000 });
    const seen: number[] = [];
    b.subscribe(OrderPlaced, (e) => void seen.push(e.n));
    b.startConsumingInBackground();
    const names = async (): Promise<string[]> => ((await raw.call('XINFO', 'CONSUMERS', stream, 'g1')) as unknown[][]).map((c) => String(c[1]));
    await waitFor('the crashed members to be removed', async () => (await names()).join() === 'live', 10_000);
    expect(seen).toEqual([1]);
    expect(b.config.staleConsumerIdleMs).toBe(1000);
    expect(resolveConfig({}).staleConsumerIdleMs).toBe(3_600_000);
  });

  // Fails on a8f92dc: a due retry whose data had vanished was dropped without a log line or a
  // counter (eventsMissingData did not exist).
  it('#11 a retry whose stored entry was evicted is counted and logged as an error', async () => {
    const p = prefix('evicted');
    const logger = recordingLogger();
    const b = await bus(p, { retryBaseDelayMs: 60_000, retryMaxDelayMs: 60_000, logger });
    b.subscribe(OrderPlaced, () => {
      throw new Error('fails');
    });
    b.startConsumingInBackground();
    await b.publish([order(1)]);
    await waitFor('the retry to be scheduled', async () => Number(await raw.zcard(b.config.keys.retrySchedule)) === 1);
    // What eviction does: the data hash is gone, the schedule is not. Then the retry comes due.
    await raw.del(b.config.keys.retryData);
    const [id] = await raw.zrange(b.config.keys.retrySchedule, '0', '0');
    await raw.zadd(b.config.keys.retrySchedule, 0, id!);
    await waitFor('the missing entry to be counted', () => b.getStats().eventsMissingData === 1);
    expect(logger.lines.filter((line) => line.startsWith('error') && line.includes('lost their stored entry'))).toHaveLength(1);
    expect(Number(await raw.zcard(b.config.keys.retrySchedule))).toBe(0);
  });

  // Fails on a8f92dc: startConsuming() returned the consumption being stopped, which then ended.
  it('#12 startConsuming() right after an un-awaited stopConsuming() waits for the stop, then consumes', async () => {
    const p = prefix('restart-consuming');
    const b = await bus(p);
    const seen: number[] = [];
    b.subscribe(OrderPlaced, (e) => void seen.push(e.n));
    b.startConsumingInBackground();
    await waitFor('the consumer', () => b.health().consuming);
    const stopped = b.stopConsuming();
    const { done } = b.startConsumingInBackground();
    await stopped;
    await b.publish([order(1)]);
    await waitFor('the event published after the restart', () => seen.includes(1));
    let settled = false;
    void done.finally(() => (settled = true));
    expect(settled).toBe(false);
    expect(b.health().consuming).toBe(true);
  });

  // Fails on a8f92dc: only the body was bounded, so the entry was handled and its 100 KB header
  // would have been copied into every retry and dead letter.
  it('bounds the whole entry, not only the body: one with a huge header gets a minimal too_large dead letter', async () => {
    const p = prefix('huge-header');
    // Entries may then carry 10 kB of body plus 64 KiB of everything else.
    const b = await bus(p, { maxBodyBytes: 10_000 });
    let handled = 0;
    b.subscribe(OrderPlaced, () => void handled++);
    b.startConsumingInBackground();
    await raw.xadd(`${p}:stream`, '*', HEADER.eventType, 'RedisTestOrderPlaced', 'x-huge', 'x'.repeat(100_000), 'body', JSON.stringify(order(1).toJSON()));
    await b.publish([order(2)]);
    await waitFor('the dead letter and the good event', async () => handled === 1 && (await b.getDlqMessageCount()) === 1);
    const [letter] = await b.getDlqMessages();
    expect(letter!.info.reason).toBe('too_large');
    expect(letter!.headers['x-huge']).toBeUndefined();
    expect(letter!.headers[HEADER.eventType]).toBe('RedisTestOrderPlaced');
  });

  // Fails on a8f92dc: there was no unsubscribedTypes option; such entries were always acknowledged.
  it("unsubscribedTypes: 'dead-letter' keeps a type nobody here handles in the group's DLQ as no_subscribers", async () => {
    const p = prefix('unsubscribed');
    const b = await bus(p, { unsubscribedTypes: 'dead-letter' });
    b.subscribe(OrderPlaced, () => {});
    b.startConsumingInBackground();
    await b.publish([new OtherTeamEvent({ aggregateId: 'o-1', aggregateVersion: 1, n: 1 })]);
    await waitFor('the dead letter', async () => (await b.getDlqMessageCount()) === 1);
    const [letter] = await b.getDlqMessages();
    expect(letter!.info.reason).toBe('no_subscribers');
    expect(b.getStats().eventsSkipped).toBe(0);
  });
});

const runPrivate = broker !== undefined && toolsAvailable(process.env.REDIS_SERVER_BIN ?? 'redis-server');

describe.skipIf(!runPrivate)('a Redis that may evict keys (issue 7, #11)', () => {
  // Fails on a8f92dc: nothing read maxmemory-policy; connecting was silent.
  it('connect() warns loudly when maxmemory-policy is not noeviction', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const server = await RedisServerProcess.start(['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--maxmemory-policy', 'allkeys-lru'], { url });
    try {
      const logger = recordingLogger();
      const b = new RedisEventBus({ redisUrl: url, logger });
      await b.connect();
      await b.shutdown(1000);
      expect(logger.lines.filter((line) => line.includes('maxmemory-policy is "allkeys-lru", not "noeviction"'))).toHaveLength(1);

      // The same server once it no longer evicts: connecting is quiet.
      const admin = new Redis(url);
      await admin.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      await admin.quit();
      const quiet = recordingLogger();
      const again = new RedisEventBus({ redisUrl: url, logger: quiet });
      await again.connect();
      await again.shutdown(1000);
      expect(quiet.lines.join('\n')).not.toContain('maxmemory-policy');
    } finally {
      await server.stop();
    }
  });
});
