import { afterAll, describe, expect, it } from 'vitest';
import { KafkaEventBus } from '../src/index.js';
import { OrderPlaced, broker, busOptions, deleteTopics, order, uniquePrefix, waitFor } from './support/kafka.js';

const BATCHES = 300;
const BATCH = 20;

describe.skipIf(!broker)('a rebalance forced while events flow', () => {
  const prefix = uniquePrefix('rebalance');
  const buses: KafkaEventBus[] = [];
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.shutdown(5000)));
    await deleteTopics(prefix);
  });

  it('a consumer joins, then leaves, mid-stream: every published event is handled, the group commits to the end', { timeout: 150_000 }, async () => {
    const handled = new Map<string, number>();
    const byMember = new Map<string, number>();
    const member = async (name: string): Promise<KafkaEventBus> => {
      const bus = new KafkaEventBus(busOptions(prefix, { partitions: 6, consumerName: name, maxInFlight: 10 }));
      buses.push(bus);
      bus.subscribe(OrderPlaced, async (event) => {
        handled.set(event.eventId, (handled.get(event.eventId) ?? 0) + 1);
        byMember.set(name, (byMember.get(name) ?? 0) + 1);
        if (event.n % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 2));
      });
      await bus.connect();
      bus.startConsumingInBackground();
      return bus;
    };
    const assignedTotal = (members: KafkaEventBus[]) => members.reduce((sum, bus) => sum + bus.getStats().assignedPartitions, 0);

    const a = await member('a');
    const b = await member('b');
    await waitFor('a and b to share all 12 partitions', () => assignedTotal([a, b]) === 12 && a.getStats().assignedPartitions > 0 && b.getStats().assignedPartitions > 0, 60_000);
    const before = a.getStats().rebalances + b.getStats().rebalances;

    const published: string[] = [];
    let sent = 0;
    const publishing = (async () => {
      for (let i = 0; i < BATCHES; i++) {
        const events = Array.from({ length: BATCH }, (_, j) => order(i * BATCH + j, `agg-${j}`, i + 1));
        await a.publish(events);
        published.push(...events.map((e) => e.eventId));
        sent++;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    await waitFor('traffic before the join', () => handled.size >= 500, 30_000);
    const c = await member('c');
    await waitFor('c to take partitions and handle events', () => c.getStats().assignedPartitions > 0 && (byMember.get('c') ?? 0) > 0, 60_000);
    const sentWhenCLeft = sent;
    await c.shutdown(5000);
    await waitFor('a and b to take c’s partitions back', () => assignedTotal([a, b]) === 12, 60_000);

    await publishing;
    await waitFor('every published event handled', () => published.every((id) => handled.has(id)), 60_000);
    await waitFor('the group to have committed everything', async () => (await a.getTopicInfo()).totalLag === 0, 30_000);

    const duplicates = [...handled.values()].reduce((sum, n) => sum + n - 1, 0);
    const after = a.getStats().rebalances + b.getStats().rebalances;
    console.log(
      `rebalance: ${published.length} events; c joined and handled ${byMember.get('c')}, left after batch ${sentWhenCLeft} of ${BATCHES}; ` +
        `rebalance callbacks on a and b: ${after - before}; ${duplicates} duplicates`,
    );
    // The join and the leave each moved partitions away from and back to a and b, while events flowed.
    expect(after - before).toBeGreaterThanOrEqual(2);
    expect(sentWhenCLeft).toBeLessThan(BATCHES);
    expect(handled.size).toBe(BATCHES * BATCH);
    expect(await a.getDlqMessageCount()).toBe(0);
  });
});
