import { expect } from 'vitest';
import { ConformanceEvents, orderPlaced } from '../events.js';
import { withTimeout } from '@eventsource/testkit';
import { Recorder, type Scenario } from '../scenario.js';

const { OrderPlaced, Unheard } = ConformanceEvents;

export const handlerErrorScenarios: readonly Scenario[] = [
  {
    area: 'error isolation',
    title: 'a throwing handler and a rejecting handler do not stop the other handlers or the next event',
    async run(env) {
      const before = new Recorder();
      const after = new Recorder();
      const wildcard = new Recorder();
      const failures: string[] = [];
      // maxRetries 0: on a broker the failure goes straight to the dead letters instead of re-running the healthy handlers.
      const { bus } = await env.startBus(
        (b) => {
          b.subscribe(OrderPlaced, before.handle);
          b.subscribe(OrderPlaced, (event) => {
            failures.push(`sync:${event.eventId}`);
            throw new Error('conformance: sync handler failure');
          });
          b.subscribe(OrderPlaced, async (event) => {
            failures.push(`async:${event.eventId}`);
            await Promise.resolve();
            throw new RangeError('conformance: async handler failure');
          });
          b.subscribe(OrderPlaced, after.handle);
          b.subscribeToAllEvents(wildcard.handle);
        },
        { maxRetries: 0 },
      );
      const events = [orderPlaced({ aggregateId: env.uniqueId('order') }), orderPlaced({ aggregateId: env.uniqueId('order') })];
      await expect(bus.publish(events)).resolves.toBeUndefined();

      const ids = new Set(events.map((e) => e.eventId));
      await env.eventually(() => {
        expect(before.distinct()).toEqual(ids);
        expect(after.distinct()).toEqual(ids);
        expect(wildcard.distinct()).toEqual(ids);
      });
      for (const event of events) {
        expect(failures).toContain(`sync:${event.eventId}`);
        expect(failures).toContain(`async:${event.eventId}`);
      }
    },
  },
  {
    area: 'error isolation',
    title: 'publish() resolves even when every handler fails, and the bus keeps working',
    async run(env) {
      let failed = 0;
      const healthy = new Recorder();
      const { bus } = await env.startBus(
        (b) => {
          b.subscribe(OrderPlaced, () => {
            failed++;
            throw new Error('conformance: always fails');
          });
          b.subscribe(ConformanceEvents.OrderShipped, healthy.handle);
        },
        { maxRetries: 0 },
      );
      const aggregateId = env.uniqueId('order');
      await expect(withTimeout(bus.publish([orderPlaced({ aggregateId })]), env.timeoutMs, 'publish')).resolves.toBeUndefined();
      await env.eventually(() => expect(failed).toBeGreaterThanOrEqual(1));

      const shipped = new ConformanceEvents.OrderShipped({ aggregateId, aggregateVersion: 2, carrier: 'DHL' });
      await expect(bus.publish([shipped])).resolves.toBeUndefined();
      await env.eventually(() => expect(healthy.ids).toEqual([shipped.eventId]));
    },
  },
  {
    area: 'statistics',
    title: 'getStats() returns a plain, serialisable object',
    async run(env) {
      const { bus } = await env.startBus((b) => b.subscribe(OrderPlaced, () => {}));
      await bus.publish([orderPlaced({ aggregateId: env.uniqueId('order') })]);
      const stats = bus.getStats();
      expect(typeof stats).toBe('object');
      expect(stats).not.toBeNull();
      expect(() => JSON.stringify(stats)).not.toThrow();
    },
  },
  {
    area: 'statistics',
    title: 'the five in-memory counters count publishes, handler runs, handler errors and background tasks exactly',
    requires: ['exactInMemoryStats'],
    async run(env) {
      const { bus } = await env.startBus((b) => {
        b.subscribe(OrderPlaced, () => {});
        let calls = 0;
        b.subscribe(OrderPlaced, () => {
          if (++calls === 2) throw new Error('conformance: second call fails');
        });
      });
      expect(bus.getStats()).toEqual({
        eventsPublished: 0,
        handlersInvoked: 0,
        handlerErrors: 0,
        backgroundTasksCreated: 0,
        backgroundTasksCompleted: 0,
      });
      const aggregateId = env.uniqueId('order');
      await bus.publish([orderPlaced({ aggregateId }), orderPlaced({ aggregateId }), orderPlaced({ aggregateId })]);
      await bus.publish([new Unheard({ aggregateId, note: 'nobody listens' })]);
      expect(bus.getStats()).toEqual({
        eventsPublished: 4,
        handlersInvoked: 6,
        handlerErrors: 1,
        backgroundTasksCreated: 0,
        backgroundTasksCompleted: 0,
      });

      await bus.publish([orderPlaced({ aggregateId })], { background: true });
      expect(bus.getStats()).toMatchObject({ backgroundTasksCreated: 1 });
      await env.eventually(() => expect(bus.getStats()).toMatchObject({ backgroundTasksCompleted: 1 }));
      expect(bus.getStats()).toEqual({
        eventsPublished: 5,
        handlersInvoked: 8,
        handlerErrors: 1,
        backgroundTasksCreated: 1,
        backgroundTasksCompleted: 1,
      });
    },
  },
];
