import { expect } from 'vitest';
import { ConformanceEvents, pings } from '../events.js';
import type { Scenario } from '../scenario.js';

const { Ping } = ConformanceEvents;

export const loadScenarios: readonly Scenario[] = [
  {
    area: 'volume',
    title: '10,000 events: every one is delivered',
    budget: 10,
    async run(env) {
      const seen = new Set<string>();
      const { bus } = await env.startBus((b) =>
        b.subscribe(Ping, (event) => {
          seen.add(event.eventId);
        }),
      );
      const total = 10_000;
      const batch = 500;
      const sent = new Set<string>();
      for (let offset = 0; offset < total; offset += batch) {
        // Spread over aggregates so partitioned transports use every partition.
        const events = pings(batch, 'volume', env.uniqueId(`probe-${offset / batch}`));
        for (const event of events) sent.add(event.eventId);
        await bus.publish(events);
      }
      expect(sent.size).toBe(total);
      await env.eventually(() => expect(seen.size).toBe(total), env.timeoutMs * 8);
      for (const id of sent) if (!seen.has(id)) expect.fail(`event ${id} was never delivered`);
    },
  },
  {
    area: 'volume',
    title: '10 concurrent publishers × 200 events: every one is delivered',
    budget: 6,
    async run(env) {
      const seen = new Map<string, number>();
      const consumer = await env.startBus((b) =>
        b.subscribe(Ping, (event) => {
          seen.set(event.eventId, (seen.get(event.eventId) ?? 0) + 1);
        }),
      );
      // Two buses share the publishers: several publishers on one bus, and more than one bus.
      const second = await env.context.createBus();
      const buses = [consumer.bus, second.bus];
      const sent = new Set<string>();
      await Promise.all(
        Array.from({ length: 10 }, async (_, publisher) => {
          const bus = buses[publisher % buses.length]!;
          const events = pings(200, `publisher-${publisher}`, env.uniqueId(`publisher-${publisher}`));
          for (const event of events) sent.add(event.eventId);
          for (let offset = 0; offset < events.length; offset += 10) {
            await bus.publish(events.slice(offset, offset + 10));
          }
        }),
      );
      expect(sent.size).toBe(2000);
      await env.eventually(() => expect(seen.size).toBe(2000), env.timeoutMs * 4);
      for (const id of sent) expect(seen.has(id), `event ${id} delivered`).toBe(true);
    },
  },
];
