import { expect } from 'vitest';
import { ConformanceEvents, pings } from '../events.js';
import type { Scenario } from '../scenario.js';

const { Ping } = ConformanceEvents;

export const orderingScenarios: readonly Scenario[] = [
  {
    area: 'ordering',
    title: 'the events of one publish call are handled in list order',
    requires: ['orderedPerPublish'],
    async run(env) {
      const seen: number[] = [];
      const { bus } = await env.startBus((b) =>
        b.subscribe(Ping, async (event) => {
          seen.push(event.seq);
          // Uneven handler durations would reorder events if they were dispatched concurrently.
          for (let i = 0; i < (event.seq * 7) % 4; i++) await new Promise((resolve) => setImmediate(resolve));
        }),
      );
      const events = pings(200, 'ordering', env.uniqueId('probe'));
      await bus.publish(events);
      await env.eventually(() => expect(seen).toHaveLength(200));
      expect(seen).toEqual(events.map((e) => e.seq));
    },
  },
  {
    area: 'ordering',
    title: "every handler of an event finishes before the next event's handlers start",
    requires: ['orderedPerPublish'],
    async run(env) {
      const log: string[] = [];
      const slowThenFast = (label: string, turns: number) => async (event: { seq: number }) => {
        log.push(`start ${label} ${event.seq}`);
        for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
        log.push(`end ${label} ${event.seq}`);
      };
      const { bus } = await env.startBus((b) => {
        b.subscribe(Ping, slowThenFast('a', 3));
        b.subscribe(Ping, slowThenFast('b', 0));
      });
      await bus.publish(pings(3, 'ordering', env.uniqueId('probe')));
      await env.eventually(() => expect(log).toHaveLength(12));
      for (let seq = 0; seq < 3; seq++) {
        const lastEnd = Math.max(log.indexOf(`end a ${seq}`), log.indexOf(`end b ${seq}`));
        for (const line of log.filter((l) => l.startsWith('start') && Number(l.split(' ')[2]) > seq)) {
          expect(log.indexOf(line), `${line} after event ${seq} finished`).toBeGreaterThan(lastEnd);
        }
      }
    },
  },
];
