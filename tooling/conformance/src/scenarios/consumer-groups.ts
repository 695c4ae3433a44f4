import { expect } from 'vitest';
import { ConformanceEvents, orderPlaced, type OrderPlacedEvent } from '../events.js';
import { gate, work } from '@eventsource/testkit';
import { Recorder, requireKill, type Scenario } from '../scenario.js';

const { OrderPlaced } = ConformanceEvents;

export const consumerGroupScenarios: readonly Scenario[] = [
  {
    area: 'consumer groups',
    title: 'buses in one group compete: each event is handled once, and the work is spread',
    requires: ['competingConsumers'],
    budget: 4,
    async run(env) {
      const members = [new Recorder(), new Recorder(), new Recorder()];
      const buses = [];
      for (const [index, member] of members.entries()) {
        buses.push(
          await env.startBus(
            (b) =>
              b.subscribe(OrderPlaced, async (event) => {
                member.handle(event);
                // Some work per message, so a member that is busy leaves the next message to the others.
                await work(10);
              }),
            { group: 'workers', consumerName: `worker-${index + 1}` },
          ),
        );
      }
      const events = Array.from({ length: 30 }, () => orderPlaced({ aggregateId: env.uniqueId('order') }));
      for (const event of events) await buses[0]!.bus.publish([event]);

      const ids = new Set(events.map((e) => e.eventId));
      const union = (): Set<string> => new Set(members.flatMap((m) => m.ids));
      await env.eventually(() => expect(union()).toEqual(ids), env.timeoutMs * 2);
      expect(members.reduce((sum, m) => sum + m.events.length, 0)).toBe(events.length);
      const working = members.filter((m) => m.events.length > 0).length;
      expect(working, `members that handled something: ${members.map((m) => m.events.length).join('/')}`).toBeGreaterThanOrEqual(2);
    },
  },
  {
    area: 'consumer groups',
    title: 'buses in different groups each get every event once',
    requires: ['fanOutAcrossGroups'],
    budget: 3,
    async run(env) {
      const billing = new Recorder();
      const shipping = new Recorder();
      const publisher = await env.startBus((b) => b.subscribe(OrderPlaced, billing.handle), { group: 'billing' });
      await env.startBus((b) => b.subscribe(OrderPlaced, shipping.handle), { group: 'shipping' });
      const events = Array.from({ length: 20 }, () => orderPlaced({ aggregateId: env.uniqueId('order') }));
      await publisher.bus.publish(events);

      const ids = new Set(events.map((e) => e.eventId));
      await env.eventually(() => {
        expect(billing.distinct()).toEqual(ids);
        expect(shipping.distinct()).toEqual(ids);
      });
      expect(billing.events).toHaveLength(20);
      expect(shipping.events).toHaveLength(20);
    },
  },
  {
    area: 'consumer groups',
    title: 'a consumer that dies mid-handler leaves the message to another member of its group',
    requires: ['redeliveryAfterCrash'],
    budget: 6,
    async run(env) {
      const stuck = gate();
      env.onCleanup(() => stuck.open());
      const victimSaw = new Recorder<OrderPlacedEvent>();
      const survivorSaw = new Recorder<OrderPlacedEvent>();
      const victim = await env.startBus(
        (b) =>
          b.subscribe(OrderPlaced, async (event) => {
            victimSaw.handle(event);
            await stuck.promise;
          }),
        { group: 'crash', consumerName: 'victim' },
      );
      const kill = requireKill(victim);
      const event = orderPlaced({ aggregateId: env.uniqueId('order'), giftNote: 'survives a crash' });
      await victim.bus.publish([event]);
      await env.eventually(() => expect(victimSaw.ids).toEqual([event.eventId]));

      // Joins only now, so the first delivery certainly went to the victim.
      await env.startBus((b) => b.subscribe(OrderPlaced, survivorSaw.handle), { group: 'crash', consumerName: 'survivor' });
      await kill();
      await env.eventually(() => expect(survivorSaw.ids).toContain(event.eventId), env.timeoutMs * 4);
      const redelivered = survivorSaw.events.find((e) => e.eventId === event.eventId)!;
      expect(redelivered.giftNote).toBe('survives a crash');
      expect(redelivered.customerId).toBe(event.customerId);
    },
  },
];
