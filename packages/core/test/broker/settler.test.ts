import { describe, expect, it } from 'vitest';
import { deferred, nextTurn, type Deferred } from '@eventsource/testkit';
import { HEADER, type DomainEvent } from '../../src/index.js';
import { PermanentFault, TransientFault } from './fake-adapter.js';
import { OrderPlaced, consuming, newBus, placed, soon } from './kit-fixtures.js';

describe('Settler, ack settlement', () => {
  it('acknowledges the messages settled in one tick with one adapter.ack call', async () => {
    const { bus } = newBus();
    const seen: number[] = [];
    bus.subscribe(OrderPlaced, (event) => {
      seen.push(event.n);
    });
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: 'a' }), bus.fake.delivery(placed(2), { id: 'b' }), bus.fake.delivery(placed(3), { id: 'c' }));
    await soon(() => expect(bus.fake.acks.flat()).toHaveLength(3));
    expect(bus.fake.acks).toEqual([['a', 'b', 'c']]);
    expect(seen).toEqual([1, 2, 3]);
    expect(bus.getStats()).toMatchObject({ eventsConsumed: 3, eventsProcessed: 3, handlersInvoked: 3 });
  });

  it('starts the next suspect only once the previous one is acknowledged, so a crash cannot leave a handled suspect pending', async () => {
    const { bus } = newBus();
    const started: number[] = [];
    bus.subscribe(OrderPlaced, (event) => {
      started.push(event.n);
    });
    await consuming(bus);
    const ackWritten = deferred();
    bus.fake.before('ack', () => ackWritten.promise);
    bus.fake.push(bus.fake.delivery(placed(1), { id: 's1', suspect: true }), bus.fake.delivery(placed(2), { id: 's2', suspect: true }));
    await soon(() => expect(started).toEqual([1]));
    await nextTurn();
    await nextTurn();
    // s1 is handled, its ack not yet written: s2 waits.
    expect(started).toEqual([1]);
    ackWritten.resolve();
    await soon(() => expect(started).toEqual([1, 2]));
    await soon(() => expect(bus.fake.acks.flat()).toEqual(['s1', 's2']));
  });

  it('writes the retry copy first and acknowledges the original after it', async () => {
    const { bus } = newBus({ maxRetries: 2 });
    bus.subscribe(OrderPlaced, () => {
      throw new TypeError('card declined');
    });
    await consuming(bus);
    const [delivery] = bus.fake.push(bus.fake.delivery(placed(1), { id: '7-0' }));
    await soon(() => expect(bus.fake.log).toEqual(['retry:7-0', 'ack:7-0']));
    const { write } = bus.fake.retries[0]!;
    expect(write.attempt).toBe(1);
    expect(write.delayMs).toBe(10);
    expect(write.headers[HEADER.eventId]).toBe(delivery!.envelope.headers?.[HEADER.eventId]);
    expect(write.headers[HEADER.attempt]).toBe('1');
    expect(write.headers[HEADER.lastError]).toContain('card declined');
    expect(bus.getStats()).toMatchObject({ eventsFailed: 1, eventsRetried: 1, handlerErrors: 1, eventsProcessed: 0 });
  });

  it("does not acknowledge again when the adapter settled the original in the same write ('settled')", async () => {
    const { bus } = newBus();
    bus.fake.retryResult = 'settled';
    bus.subscribe(OrderPlaced, () => Promise.reject(new Error('down')));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(bus.getStats().eventsRetried).toBe(1));
    await bus.stopConsuming();
    expect(bus.fake.log).toEqual(['retry:1-0']);
  });

  it("counts a retry another member already settled ('already-settled') as not retried, and does not ack it", async () => {
    const { bus } = newBus();
    bus.fake.retryResult = 'already-settled';
    bus.subscribe(OrderPlaced, () => Promise.reject(new Error('down')));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(bus.fake.retries).toHaveLength(1));
    await bus.stopConsuming();
    expect(bus.fake.acks).toEqual([]);
    expect(bus.getStats()).toMatchObject({ eventsFailed: 1, eventsRetried: 0 });
  });

  it('dead-letters a message out of retries with its reason, then acknowledges it', async () => {
    const { bus } = newBus({ maxRetries: 2 });
    bus.subscribe(OrderPlaced, () => {
      throw new RangeError('quantity out of range');
    });
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '9-0', headers: { [HEADER.attempt]: '2', [HEADER.firstFailureAt]: '2024-01-01T00:00:00.000Z' } }));
    await soon(() => expect(bus.fake.log).toEqual(['dead-letter:9-0', 'ack:9-0']));
    const { write } = bus.fake.deadLettered[0]!;
    expect(write.info).toMatchObject({
      reason: 'max_retries_exceeded',
      attempts: 3,
      firstFailureAt: '2024-01-01T00:00:00.000Z',
      originalDestination: 'orders-stream',
      originalId: '9-0',
      consumerGroup: 'billing',
    });
    expect(write.info.errorMessage).toContain('quantity out of range');
    expect(write.headers[HEADER.dlqReason]).toBe('max_retries_exceeded');
    // The copy carries the original envelope without the retry bookkeeping.
    expect(write.headers[HEADER.attempt]).toBeUndefined();
    expect(write.headers[HEADER.eventType]).toBe(OrderPlaced.eventType);
    expect(bus.getStats()).toMatchObject({ eventsDeadLettered: 1, eventsRetried: 0, eventsFailed: 1 });
  });

  it('dead-letters a message that does not decode without running any handler', async () => {
    const { bus } = newBus();
    let calls = 0;
    bus.subscribe(OrderPlaced, () => void calls++);
    await consuming(bus);
    bus.fake.push({ ...bus.fake.delivery(placed(1), { id: 'bad' }), envelope: { headers: { [HEADER.eventType]: OrderPlaced.eventType }, body: '[1,2]' } });
    await soon(() => expect(bus.fake.log).toEqual(['dead-letter:bad', 'ack:bad']));
    expect(bus.fake.deadLettered[0]!.write.info.reason).toBe('not_an_object');
    expect(calls).toBe(0);
    expect(bus.getStats()).toMatchObject({ eventsDeadLettered: 1, eventsFailed: 0, handlersInvoked: 0 });
  });

  it('drops a failed message without a dead letter when enableDlq is false, and logs why', async () => {
    const { bus, logger } = newBus({ maxRetries: 0, enableDlq: false });
    bus.subscribe(OrderPlaced, () => {
      throw new Error('nope');
    });
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(bus.fake.log).toEqual(['ack:1-0']));
    expect(bus.fake.deadLettered).toEqual([]);
    expect(bus.getStats()).toMatchObject({ eventsDropped: 1, eventsDeadLettered: 0 });
    expect(logger.at('error').map((e) => e.message)).toContain('Message dropped: it failed for good and enableDlq is false');
  });

  it('acknowledges a message nobody here subscribes to as skipped', async () => {
    const { bus } = newBus();
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(bus.fake.acks).toEqual([['1-0']]));
    expect(bus.getStats()).toMatchObject({ eventsSkipped: 1, eventsProcessed: 0 });
  });

  it('tries a retry write that fails for a passing reason again, with backoff, until it succeeds', async () => {
    const { bus, logger } = newBus();
    bus.fake.fail('writeRetry', new TransientFault('connection reset by redis://app:hunter2@cache:6379'), 3);
    bus.subscribe(OrderPlaced, () => Promise.reject(new Error('down')));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(bus.fake.log).toEqual(['retry:1-0', 'ack:1-0']));
    expect(bus.fake.callsOf('writeRetry')).toBe(4);
    expect(bus.getStats().eventsRetried).toBe(1);
    expect(logger.text).toContain('redis://app:***@cache:6379');
    expect(logger.text).not.toContain('hunter2');
  });

  it('does not try again a write the broker refused for good: the message stays unsettled for redelivery', async () => {
    const { bus, logger } = newBus();
    bus.fake.fail('writeRetry', new PermanentFault('WRONGTYPE Operation against a key holding the wrong kind of value'), Infinity);
    bus.subscribe(OrderPlaced, () => Promise.reject(new Error('down')));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(logger.text).toContain('stays unsettled and is redelivered'));
    await bus.stopConsuming();
    expect(bus.fake.callsOf('writeRetry')).toBe(1);
    expect(bus.fake.acks).toEqual([]);
    expect(bus.getStats().eventsRetried).toBe(0);
  });

  it('tries an ack batch that fails for a passing reason again until it is written', async () => {
    const { bus } = newBus();
    bus.fake.fail('ack', new TransientFault('socket closed'), 2);
    bus.subscribe(OrderPlaced, () => undefined);
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(bus.fake.acks).toEqual([['1-0']]));
    expect(bus.fake.callsOf('ack')).toBe(3);
    // Acked: no longer reported as in progress (a lease keep-alive would stop refreshing it).
    expect([...bus.fake.sink.inProgress()]).toEqual([]);
  });

  it('reports a message waiting for its batched ack as in progress until the ack is written', async () => {
    const { bus } = newBus();
    const ackGate = deferred();
    bus.fake.before('ack', () => ackGate.promise);
    bus.subscribe(OrderPlaced, () => undefined);
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { id: '1-0' }));
    await soon(() => expect(bus.fake.callsOf('ack')).toBe(1));
    expect([...bus.fake.sink.inProgress()].map((d) => d.id)).toEqual(['1-0']);
    ackGate.resolve();
    await soon(() => expect([...bus.fake.sink.inProgress()]).toEqual([]));
  });
});

describe('Settler, offset settlement', () => {
  function offsetBus() {
    const t = newBus({}, { settlement: 'offset' });
    const gates = new Map<number, Deferred>();
    const gate = (n: number) => {
      let g = gates.get(n);
      if (!g) gates.set(n, (g = deferred()));
      return g;
    };
    return { ...t, gate };
  }

  it('commits a lane only past contiguous settled offsets: settled 3 before 2 holds the commit at 2 until 2 settles', async () => {
    const { bus, gate } = offsetBus();
    bus.subscribe(OrderPlaced, (event) => gate(event.n).promise);
    await consuming(bus);
    for (const n of [1, 2, 3]) bus.fake.push(bus.fake.delivery(placed(n), { lane: 'orders/0', offset: n }));

    gate(1).resolve();
    await soon(() => expect(bus.fake.commits).toEqual([new Map([['orders/0', 2]])]));
    gate(3).resolve();
    await soon(() => expect(bus.getStats().eventsProcessed).toBe(2));
    await nextTurn();
    expect(bus.fake.commits).toHaveLength(1);
    gate(2).resolve();
    await soon(() => expect(bus.fake.commits.at(-1)).toEqual(new Map([['orders/0', 4]])));
    expect(bus.fake.commits).toHaveLength(2);
  });

  it('moves the commit point only after a retry copy or dead letter is written', async () => {
    const { bus } = newBus({ maxRetries: 1 }, { settlement: 'offset' });
    bus.subscribe(OrderPlaced, () => Promise.reject(new Error('down')));
    await consuming(bus);
    bus.fake.push(
      bus.fake.delivery(placed(1), { id: 'p0/10', lane: 'orders/0', offset: 10 }),
      bus.fake.delivery(placed(2), { id: 'p0/11', lane: 'orders/0', offset: 11, headers: { [HEADER.attempt]: '1' } }),
    );
    await soon(() => expect(bus.fake.commits.at(-1)).toEqual(new Map([['orders/0', 12]])));
    const commitAt = bus.fake.log.findIndex((entry) => entry.startsWith('commit:'));
    expect(bus.fake.log.indexOf('retry:p0/10')).toBeLessThan(commitAt);
    expect(bus.fake.log.indexOf('dead-letter:p0/11')).toBeLessThan(bus.fake.log.lastIndexOf('commit:orders/0=12'));
  });

  it('merges the moves of one tick into one commit, one offset per lane', async () => {
    const { bus } = newBus({}, { settlement: 'offset' });
    bus.subscribe(OrderPlaced, () => undefined);
    await consuming(bus);
    bus.fake.push(
      bus.fake.delivery(placed(1), { lane: 'orders/0', offset: 0 }),
      bus.fake.delivery(placed(2), { lane: 'orders/1', offset: 5 }),
      bus.fake.delivery(placed(3), { lane: 'orders/0', offset: 1 }),
      bus.fake.delivery(placed(4), { lane: 'orders/0', offset: 2 }),
    );
    await soon(() => expect(bus.fake.commits).toHaveLength(1));
    expect(bus.fake.commits[0]).toEqual(
      new Map([
        ['orders/0', 3],
        ['orders/1', 6],
      ]),
    );
  });

  it('never moves a committed offset backwards when an earlier commit is retried after a later one', async () => {
    const { bus } = newBus({}, { settlement: 'offset' });
    const firstCommit = deferred();
    bus.fake.before('commit', async (call) => {
      if (call === 1) {
        await firstCommit.promise;
        throw new TransientFault('coordinator not available');
      }
    });
    bus.subscribe(OrderPlaced, () => undefined);
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { lane: 'orders/0', offset: 0 }));
    await soon(() => expect(bus.fake.callsOf('commit')).toBe(1));
    bus.fake.push(bus.fake.delivery(placed(2), { lane: 'orders/0', offset: 1 }));
    await soon(() => expect(bus.getStats().eventsProcessed).toBe(2));
    await nextTurn();
    firstCommit.resolve();
    await bus.stopConsuming();
    const committed = bus.fake.commits.map((offsets) => offsets.get('orders/0'));
    expect(committed.at(-1)).toBe(2);
    expect(committed).toEqual([...committed].sort((a, b) => a! - b!));
  });

  it('holds the commit point at a message whose retry write the broker refused for good', async () => {
    const { bus } = newBus({}, { settlement: 'offset' });
    bus.fake.fail('writeRetry', new PermanentFault('topic authorization failed'), Infinity);
    bus.subscribe(OrderPlaced, (event: DomainEvent & { n: number }) => (event.n === 1 ? Promise.reject(new Error('down')) : undefined));
    await consuming(bus);
    bus.fake.push(bus.fake.delivery(placed(1), { lane: 'orders/0', offset: 0 }), bus.fake.delivery(placed(2), { lane: 'orders/0', offset: 1 }));
    await soon(() => expect(bus.getStats().eventsProcessed).toBe(1));
    await bus.stopConsuming();
    expect(bus.fake.commits).toEqual([]);
  });
});
