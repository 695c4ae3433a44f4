import { describe, expect, it, vi } from 'vitest';
import { RecordingLogger, nextTurn } from '@eventsource/testkit';
import { Backoff, Batcher, Claim, OffsetLedger, sleep, writeDurably, type DurableResult, type DurableWriteOptions } from '../../src/transport.js';
import type { Logger } from '../../src/index.js';
import { PermanentFault, TransientFault } from './fake-adapter.js';
import { OrderPlaced, consuming, newBus, placed, soon } from './kit-fixtures.js';

function durable(overrides: Partial<DurableWriteOptions> = {}): DurableWriteOptions & { logger: RecordingLogger } {
  return {
    backoff: new Backoff(1, 2),
    logger: new RecordingLogger() as RecordingLogger & Logger,
    isPermanent: (error) => error instanceof PermanentFault,
    deadline: () => Number.POSITIVE_INFINITY,
    ...overrides,
  } as DurableWriteOptions & { logger: RecordingLogger };
}

/** A write that fails `failures` times with `error`, then returns `value`. */
function flaky<T>(failures: number, error: unknown, value: T): { write: () => Promise<T>; readonly calls: number } {
  let calls = 0;
  return {
    write: async () => {
      calls++;
      if (calls <= failures) throw error;
      return value;
    },
    get calls() {
      return calls;
    },
  };
}

describe('writeDurably', () => {
  it('returns what the write returned', async () => {
    await expect(writeDurably('ack', async () => 'settled', durable())).resolves.toEqual({ status: 'ok', value: 'settled' });
  });

  it('tries a write that fails for a passing reason again until it succeeds, logging the first failure with credentials masked', async () => {
    const options = durable();
    const write = flaky(3, new TransientFault('ECONNRESET amqp://svc:s3cret@rabbit:5672'), 'written');
    await expect(writeDurably('write a dead letter', write.write, options)).resolves.toEqual({ status: 'ok', value: 'written' });
    expect(write.calls).toBe(4);
    const warnings = options.logger.at('warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toBe('Could not write a dead letter; trying again');
    expect(warnings[0]!.fields).toEqual({ attempt: 1, error: 'ECONNRESET amqp://svc:***@rabbit:5672' });
  });

  it('gives up at once on a permanent refusal', async () => {
    const options = durable();
    const error = new PermanentFault('NOPERM this user has no permissions to run the xack command');
    const write = flaky(Infinity, error, 'never');
    await expect(writeDurably('acknowledge messages', write.write, options)).resolves.toEqual({ status: 'failed', error });
    expect(write.calls).toBe(1);
    expect(options.logger.at('error')[0]!.message).toContain('the broker refused it, so trying again cannot help');
  });

  it('abandons a failing write once the next try would be past the deadline', async () => {
    let deadline = Number.POSITIVE_INFINITY;
    const options = durable({ deadline: () => deadline });
    let calls = 0;
    const result = await writeDurably(
      'commit offsets',
      async () => {
        calls++;
        if (calls === 3) deadline = Date.now();
        throw new TransientFault('broker unreachable');
      },
      options,
    );
    expect(result).toEqual({ status: 'abandoned' });
    expect(calls).toBe(3);
    expect(options.logger.at('error')[0]!.message).toContain('before the shutdown deadline');
  });
  it('does not try again once a deadline set while it waited has passed', async () => {
    let deadline = Number.POSITIVE_INFINITY;
    const options = durable({ backoff: new Backoff(20, 20, { jitter: 0 }), deadline: () => deadline });
    let calls = 0;
    setTimeout(() => (deadline = Date.now()), 5);
    const result = await writeDurably(
      'acknowledge messages',
      async () => {
        calls++;
        throw new TransientFault('connection closed');
      },
      options,
    );
    expect(result).toEqual({ status: 'abandoned' });
    expect(calls).toBe(1);
  });
});

describe('Batcher', () => {
  it('writes everything added in one tick in one call, and resolves each add() once its batch is written', async () => {
    const batches: number[][] = [];
    const results: Array<DurableResult<unknown>> = [];
    const batcher = new Batcher<number>(
      async (items) => {
        batches.push([...items]);
        return { status: 'ok', value: undefined };
      },
      (_items, result) => results.push(result),
    );
    const first = [batcher.add(1), batcher.add(2), batcher.add(3)];
    expect(batches).toEqual([]);
    await Promise.all(first);
    expect(batches).toEqual([[1, 2, 3]]);
    await batcher.add(4);
    expect(batches).toEqual([[1, 2, 3], [4]]);
    expect(results).toHaveLength(2);
  });

  it('flush() writes what is pending now and waits for writes already running', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const batcher = new Batcher<number>(
      async (items) => {
        batches.push([...items]);
        if (items.includes(1)) await slow;
        return { status: 'ok', value: undefined };
      },
      () => undefined,
    );
    void batcher.add(1);
    await nextTurn();
    void batcher.add(2);
    let flushed = false;
    const flushing = batcher.flush().then(() => (flushed = true));
    expect(batches).toEqual([[1], [2]]);
    await nextTurn();
    expect(flushed).toBe(false);
    release();
    await flushing;
    await expect(batcher.flush()).resolves.toBeUndefined();
  });
});

describe('OffsetLedger', () => {
  it('moves a lane only past a contiguous run of settled offsets', () => {
    const ledger = new OffsetLedger();
    for (const offset of [1, 2, 3, 4]) ledger.track('orders/0', offset);
    expect(ledger.settle('orders/0', 1)).toBe(2);
    expect(ledger.settle('orders/0', 3)).toBeUndefined();
    expect(ledger.outstanding('orders/0')).toBe(2);
    expect(ledger.settle('orders/0', 2)).toBe(4);
    expect(ledger.settle('orders/0', 4)).toBe(5);
    expect(ledger.outstanding('orders/0')).toBe(0);
  });

  it('keeps lanes apart, and skips gaps in a lane (compacted topics, transaction markers)', () => {
    const ledger = new OffsetLedger();
    ledger.track('orders/0', 10);
    ledger.track('orders/1', 10);
    ledger.track('orders/0', 14);
    expect(ledger.settle('orders/1', 10)).toBe(11);
    expect(ledger.settle('orders/0', 14)).toBeUndefined();
    expect(ledger.settle('orders/0', 10)).toBe(15);
  });

  it('forgets a revoked lane: its late settlements move nothing', () => {
    const ledger = new OffsetLedger();
    ledger.track('orders/0', 1);
    ledger.forget('orders/0');
    expect(ledger.settle('orders/0', 1)).toBeUndefined();
    expect(ledger.outstanding('orders/0')).toBe(0);
  });

  it('stays correct over a long-lived lane with out-of-order settlements', () => {
    const ledger = new OffsetLedger();
    const commits: number[] = [];
    for (let base = 0; base < 5000; base += 2) {
      ledger.track('orders/0', base);
      ledger.track('orders/0', base + 1);
      expect(ledger.settle('orders/0', base + 1)).toBeUndefined();
      commits.push(ledger.settle('orders/0', base)!);
    }
    expect(commits.at(-1)).toBe(5000);
    expect(commits.every((next, i) => next === (i + 1) * 2)).toBe(true);
    expect(ledger.outstanding('orders/0')).toBe(0);
  });

  it('keeps committing after a lane is fetched again from an earlier offset (a seek, or a partition reassigned)', () => {
    const ledger = new OffsetLedger();
    for (const offset of [0, 1, 2]) ledger.track('orders/0', offset);
    expect(ledger.settle('orders/0', 0)).toBe(1);
    // 1 and 2 were fenced when the partition was revoked; it comes back and is fetched from 1.
    for (const offset of [1, 2, 3]) ledger.track('orders/0', offset);
    expect(ledger.settle('orders/0', 1)).toBe(2);
    expect(ledger.settle('orders/0', 2)).toBe(3);
    expect(ledger.settle('orders/0', 3)).toBe(4);
    expect(ledger.outstanding('orders/0')).toBe(0);
  });
});

describe('offset settlement across a revoke', () => {
  it('commits the messages fetched again after their partition came back', async () => {
    const { bus } = newBus({ maxInFlight: 1 }, { settlement: 'offset' });
    let release!: () => void;
    const first = new Promise<void>((resolve) => (release = resolve));
    bus.subscribe(OrderPlaced, (event) => (event.n === 0 ? first : undefined));
    await consuming(bus);
    const generation1 = new Claim('orders/0 generation 1');
    for (const n of [0, 1, 2]) bus.fake.push(bus.fake.delivery(placed(n), { claim: generation1, lane: 'orders/0', offset: n }));
    generation1.revoke('rebalance');
    expect(bus.fake.sink.fence(generation1)).toHaveLength(2);
    release();
    await soon(() => expect(bus.fake.commits.at(-1)?.get('orders/0')).toBe(1));

    const generation2 = new Claim('orders/0 generation 2');
    for (const n of [1, 2, 3]) bus.fake.push(bus.fake.delivery(placed(n), { claim: generation2, lane: 'orders/0', offset: n }));
    await soon(() => expect(bus.fake.commits.at(-1)?.get('orders/0')).toBe(4));
    expect(bus.getStats()).toMatchObject({ eventsFenced: 2, eventsProcessed: 4 });
  });
});

describe('offset settlement: the sink side of a revoke', () => {
  it('forgetLane: late settlements of a revoked lane commit nothing', async () => {
    const { bus } = newBus({}, { settlement: 'offset' });
    let release!: () => void;
    const running = new Promise<void>((resolve) => (release = resolve));
    bus.subscribe(OrderPlaced, () => running);
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { lane: 'orders/2', offset: 40 }));
    bus.fake.sink.forgetLane('orders/2');
    release();
    await soon(() => expect(bus.getStats().eventsProcessed).toBe(1));
    await bus.stopConsuming();
    expect(bus.fake.commits).toEqual([]);
  });

  it('flushSettlements writes the batched commits handed over so far', async () => {
    const { bus } = newBus({}, { settlement: 'offset' });
    bus.subscribe(OrderPlaced, () => undefined);
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { lane: 'orders/2', offset: 40 }));
    await soon(() => expect(bus.getStats().eventsProcessed).toBe(1));
    await bus.fake.sink.flushSettlements();
    expect(bus.fake.commits).toEqual([new Map([['orders/2', 41]])]);
  });
});

describe('Backoff', () => {
  it('doubles from the base delay up to the cap', () => {
    const backoff = new Backoff(100, 1000, { jitter: 0 });
    expect([1, 2, 3, 4, 5, 40].map((n) => backoff.delay(n))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoff.delay(0)).toBe(100);
  });

  it('spreads delays by the jitter, never past the cap or below zero', () => {
    expect(new Backoff(100, 1000, { jitter: 0.5, random: () => 0 }).delay(1)).toBe(50);
    expect(new Backoff(100, 1000, { jitter: 0.5, random: () => 1 }).delay(1)).toBe(150);
    expect(new Backoff(100, 1000, { jitter: 0.5, random: () => 1 }).delay(10)).toBe(1000);
    expect(new Backoff(100, 1000, { jitter: 2, random: () => 0 }).delay(1)).toBe(0);
    const defaults = new Backoff(100, 1000);
    for (let i = 0; i < 50; i++) {
      const delay = defaults.delay(2);
      expect(delay).toBeGreaterThanOrEqual(160);
      expect(delay).toBeLessThanOrEqual(240);
    }
  });
});

describe('sleep', () => {
  it('resolves after the delay, or at once when aborted', async () => {
    vi.useFakeTimers();
    try {
      let done = false;
      const waiting = sleep(1000).then(() => (done = true));
      await vi.advanceTimersByTimeAsync(999);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await waiting;

      const controller = new AbortController();
      const aborted = sleep(60_000, controller.signal);
      controller.abort();
      await aborted;
      expect(vi.getTimerCount()).toBe(0);
      await sleep(60_000, controller.signal);
      await sleep(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('Claim', () => {
  it('is held until revoked, and keeps the first reason', () => {
    const claim = new Claim('channel 1');
    expect(claim.lost).toBe(false);
    expect(claim.lostBecause).toBeUndefined();
    claim.revoke('channel closed by the broker');
    claim.revoke('connection lost');
    expect(claim.lost).toBe(true);
    expect(claim.lostBecause).toBe('channel closed by the broker');
    expect(claim.label).toBe('channel 1');
  });
});
