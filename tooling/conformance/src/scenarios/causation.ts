import { expect } from 'vitest';
import { withCausation } from '@eventsource/core';
import { ConformanceEvents, orderPlaced, type OrderShippedEvent } from '../events.js';
import { withTimeout } from '@eventsource/testkit';
import type { Scenario } from '../scenario.js';

const { OrderPlaced, OrderShipped } = ConformanceEvents;

export const causationScenarios: readonly Scenario[] = [
  {
    area: 'handlers that publish',
    title: 'a handler can publish a follow-up event that records its cause, without deadlock',
    async run(env) {
      const children: OrderShippedEvent[] = [];
      const { bus } = await env.startBus((b) => {
        b.subscribe(OrderPlaced, async (placed) => {
          const shipped = new OrderShipped({ aggregateId: placed.aggregateId, aggregateVersion: placed.aggregateVersion + 1, carrier: 'conformance-post' });
          await b.publish([withCausation(shipped, placed)]);
        });
        b.subscribe(OrderShipped, (shipped) => {
          children.push(shipped);
        });
      });
      const parent = orderPlaced({ aggregateId: env.uniqueId('order'), tenantId: 'tenant-9', correlationId: 'saga-1' });
      await withTimeout(bus.publish([parent]), env.timeoutMs, 'publish of an event whose handler publishes');

      await env.eventually(() => expect(children).toHaveLength(1));
      const child = children[0]!;
      expect(child.causationId).toBe(parent.eventId);
      expect(child.correlationId).toBe('saga-1');
      expect(child.tenantId).toBe('tenant-9');
      expect(child.aggregateVersion).toBe(parent.aggregateVersion + 1);
      expect(child.eventId).not.toBe(parent.eventId);
    },
  },
  {
    area: 'handlers that publish',
    title: 'handlers publishing in the background at the in-flight cap neither deadlock nor drop events',
    async run(env) {
      const children: OrderShippedEvent[] = [];
      const { bus } = await env.startBus(
        (b) => {
          b.subscribe(OrderPlaced, async (placed) => {
            for (let i = 0; i < 3; i++) {
              const shipped = new OrderShipped({ aggregateId: placed.aggregateId, aggregateVersion: placed.aggregateVersion + 1 + i, carrier: `carrier-${i}` });
              await b.publish([shipped.withCausation(placed)], { background: true });
            }
          });
          b.subscribe(OrderShipped, (shipped) => {
            children.push(shipped);
          });
        },
        { maxBackgroundTasks: 1 },
      );
      const parents = Array.from({ length: 5 }, () => orderPlaced({ aggregateId: env.uniqueId('order') }));
      for (const parent of parents) {
        await withTimeout(bus.publish([parent], { background: true }), env.timeoutMs, 'background publish at the cap');
      }

      await env.eventually(() => expect(children).toHaveLength(15));
      for (const parent of parents) {
        const own = children.filter((c) => c.causationId === parent.eventId);
        expect(own.map((c) => c.carrier).sort()).toEqual(['carrier-0', 'carrier-1', 'carrier-2']);
        for (const child of own) expect(child.correlationId).toBe(parent.correlationId);
      }
      await expect(bus.shutdown(env.timeoutMs)).resolves.toMatchObject({ drained: true });
    },
  },
];
