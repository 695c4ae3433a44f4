import { eventually } from '@eventsource/conformance';
import { afterEach, describe, expect, it } from 'vitest';
import { KafkaEventBus } from '../src/index.js';
import { OrderPlaced, broker, busOptions, deleteTopics, order, uniquePrefix } from './support/kafka.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function track(prefix: string, ...buses: KafkaEventBus[]): void {
  cleanups.push(async () => {
    await Promise.all(buses.map((bus) => bus.shutdown(5000)));
    await deleteTopics(prefix);
  });
}

async function startAll(buses: KafkaEventBus[], expectPartitions: number): Promise<void> {
  for (const bus of buses) bus.startConsumingInBackground();
  await eventually(() => buses.reduce((n, b) => n + b.getStats().assignedPartitions, 0) === expectPartitions && buses.every((b) => b.getStats().assignedPartitions > 0), {
    timeoutMs: 30_000,
  });
}

describe.skipIf(!broker)('KafkaEventBus on a real broker', () => {
  it('keeps per-aggregate order with 3 consumers on 6 partitions: 50 aggregates × 200 events', async () => {
    const prefix = uniquePrefix('order');
    const buses = [0, 1, 2].map((i) => new KafkaEventBus(busOptions(prefix, { partitions: 6, consumerName: `c${i}`, maxInFlight: 20 })));
    track(prefix, ...buses);
    const seen = new Map<string, number[]>();
    let handled = 0;
    for (const bus of buses) {
      await bus.connect();
      bus.subscribe(OrderPlaced, async (event) => {
        // Yield, so other keys of the same partition overlap with this one.
        if (event.n % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
        const list = seen.get(event.aggregateId) ?? [];
        list.push(event.aggregateVersion);
        seen.set(event.aggregateId, list);
        handled++;
      });
    }
    // 6 main + 6 retry partitions shared by three members.
    await startAll(buses, 12);
    for (let version = 1; version <= 200; version += 10) {
      const batch = [];
      for (let v = version; v < version + 10; v++) for (let a = 0; a < 50; a++) batch.push(order(v, `agg-${a}`, v));
      await buses[v0(version)]!.publish(batch);
    }
    await eventually(() => expect(handled).toBe(10_000), { timeoutMs: 60_000 });
    expect(seen.size).toBe(50);
    for (const versions of seen.values()) expect(versions).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    // The work was shared. (Not necessarily by all three: the sticky assignor balances main and
    // retry partitions together, so a member may hold only retry partitions.)
    expect(buses.filter((b) => b.getStats().eventsProcessed > 0).length).toBeGreaterThan(1);
  });

  it('a handler running 3× maxPollIntervalMs causes no rebalance and no duplicate: the consumer keeps polling', async () => {
    const prefix = uniquePrefix('longhandler');
    const bus = new KafkaEventBus(busOptions(prefix, { sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000, maxPollIntervalMs: 6000, batchSize: 5, maxInFlight: 2 }));
    track(prefix, bus);
    await bus.connect();
    const counts = new Map<string, number>();
    bus.subscribe(OrderPlaced, async (event) => {
      counts.set(event.eventId, (counts.get(event.eventId) ?? 0) + 1);
      if (event.n === 0) await new Promise((resolve) => setTimeout(resolve, 18_000));
    });
    await startAll([bus], 6);
    const rebalancesBefore = bus.getStats().rebalances;
    const events = [order(0, 'slow'), ...Array.from({ length: 60 }, (_, i) => order(i + 1, `fast-${i % 6}`))];
    await bus.publish(events);
    await eventually(() => expect(counts.size).toBe(events.length), { timeoutMs: 30_000 });
    // The slow partition was paused while its handler ran, not abandoned by the group.
    expect(bus.getStats().rebalances).toBe(rebalancesBefore);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(bus.health().healthy).toBe(true);
  }, 60_000);

  it('a retry due in 5 s does not hold back its partition; a poison message gets 1 + maxRetries attempts, then the DLQ with its origin', async () => {
    const prefix = uniquePrefix('retry');
    const bus = new KafkaEventBus(busOptions(prefix, { partitions: 1, maxRetries: 2, retryBaseDelayMs: 5000, retryMaxDelayMs: 5000, retryJitter: 0 }));
    track(prefix, bus);
    await bus.connect();
    const attempts = new Map<number, number>();
    const handledWhileWaiting: number[] = [];
    bus.subscribe(OrderPlaced, (event) => {
      attempts.set(event.n, (attempts.get(event.n) ?? 0) + 1);
      if (event.n === 0) throw new TypeError('poison');
      if ((attempts.get(0) ?? 0) === 1) handledWhileWaiting.push(event.n);
    });
    await startAll([bus], 2);
    await bus.publish([order(0, 'same-aggregate')]);
    await eventually(() => expect(attempts.get(0)).toBe(1), { timeoutMs: 10_000 });
    await bus.publish(Array.from({ length: 20 }, (_, i) => order(i + 1, 'same-aggregate', i + 2)));
    // All 20 behind it on the same partition (and key) are handled before the retry is due.
    await eventually(() => expect(handledWhileWaiting).toHaveLength(20), { timeoutMs: 10_000 });
    expect(attempts.get(0)).toBe(1);

    await eventually(async () => expect(await bus.getDlqMessageCount()).toBe(1), { timeoutMs: 30_000 });
    expect(attempts.get(0)).toBe(3);
    const [letter] = await bus.getDlqMessages({ count: 10 });
    expect(letter!.info).toMatchObject({ reason: 'max_retries_exceeded', errorType: 'TypeError', errorMessage: expect.stringContaining('poison'), attempts: 3, consumerGroup: 'g1' });
    expect(letter!.info.originalId).toBe(`${prefix}/0/0`);
    expect(letter!.event?.aggregateId).toBe('same-aggregate');
    const info = await bus.getTopicInfo();
    expect(info.dlqMessages).toBe(1);
    expect(info.partitions).toHaveLength(1);
    await eventually(async () => expect((await bus.getTopicInfo()).totalLag).toBe(0), { timeoutMs: 10_000 });

    // Replay: back to this group for a fresh set of attempts, gone from the DLQ.
    await bus.replayDlqMessage(letter!.id);
    await eventually(() => expect(attempts.get(0)).toBe(4), { timeoutMs: 10_000 });
    expect(await bus.getDlqMessageCount()).toBe(0);
  }, 90_000);
});

function v0(version: number): number {
  return Math.floor(version / 10) % 3;
}
