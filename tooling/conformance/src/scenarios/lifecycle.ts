import { expect } from 'vitest';
import { BusClosedError, type EventBus } from '@eventsource/core';
import { ConformanceEvents, orderPlaced } from '../events.js';
import { gate, withTimeout, work } from '@eventsource/testkit';
import { Recorder, failureOf, type Scenario } from '../scenario.js';

const { OrderPlaced } = ConformanceEvents;

export const lifecycleScenarios: readonly Scenario[] = [
  {
    area: 'background publish and shutdown',
    title: 'a background publish returns before the handlers finish',
    async run(env) {
      const release = gate();
      env.onCleanup(() => release.open());
      const started = new Recorder();
      const finished = new Recorder();
      const { bus } = await env.startBus((b) =>
        b.subscribe(OrderPlaced, async (event) => {
          started.handle(event);
          await release.promise;
          finished.handle(event);
        }),
      );
      const event = orderPlaced({ aggregateId: env.uniqueId('order') });
      // The handler waits for the gate, so a publish that waited for handlers would never return.
      await withTimeout(bus.publish([event], { background: true }), env.timeoutMs, 'background publish');
      expect(finished.events).toHaveLength(0);

      await env.eventually(() => expect(started.ids).toEqual([event.eventId]));
      release.open();
      await env.eventually(() => expect(finished.ids).toEqual([event.eventId]));
    },
  },
  {
    area: 'background publish and shutdown',
    title: 'shutdown() drains background publishes: drained is true and nothing is lost',
    async run(env) {
      const finished = new Recorder();
      const consumer = await env.startBus((b) =>
        b.subscribe(OrderPlaced, async (event) => {
          await work(10);
          finished.handle(event);
        }),
      );
      // Not started: on a broker this bus only publishes. In-memory it is the same bus as the consumer.
      const publisher = await env.context.createBus();
      const aggregateId = env.uniqueId('order');
      const events = Array.from({ length: 5 }, (_, i) => orderPlaced({ aggregateId, aggregateVersion: i + 1 }));
      for (const event of events) await publisher.bus.publish([event], { background: true });

      const result = await publisher.bus.shutdown(env.timeoutMs);
      expect(result).toEqual({ drained: true, pendingBackgroundTasks: 0 });
      const ids = new Set(events.map((e) => e.eventId));
      if (publisher.bus === consumer.bus) {
        // In-process the background work is the handling itself, so it is complete when shutdown resolves.
        expect(finished.distinct()).toEqual(ids);
      } else {
        await env.eventually(() => expect(finished.distinct()).toEqual(ids));
      }
    },
  },
  {
    area: 'background publish and shutdown',
    title: 'shutdown() with nothing in flight reports drained',
    async run(env) {
      const { bus } = await env.startBus((b) => b.subscribe(OrderPlaced, () => {}));
      await expect(bus.shutdown(env.timeoutMs)).resolves.toEqual({ drained: true, pendingBackgroundTasks: 0 });
    },
  },
  {
    area: 'background publish and shutdown',
    title: 'publish after shutdown rejects with BusClosedError, in the foreground and in the background',
    async run(env) {
      const { bus } = await env.startBus((b) => b.subscribe(OrderPlaced, () => {}));
      await bus.shutdown(env.timeoutMs);
      const aggregateId = env.uniqueId('order');
      for (const options of [undefined, { background: true }]) {
        const error = await failureOf(() => bus.publish([orderPlaced({ aggregateId })], options));
        expect(error).toBeInstanceOf(BusClosedError);
        expect(error).toMatchObject({ code: 'ES_BUS_CLOSED', name: 'BusClosedError' });
      }
    },
  },
  {
    area: 'background publish and shutdown',
    title: 'shutdown() twice, at once or later, is safe and reports the same result',
    async run(env) {
      const { bus } = await env.startBus((b) => b.subscribe(OrderPlaced, () => {}));
      await bus.publish([orderPlaced({ aggregateId: env.uniqueId('order') })]);
      const [first, concurrent] = await Promise.all([bus.shutdown(env.timeoutMs), bus.shutdown(env.timeoutMs)]);
      expect(first.drained).toBe(true);
      expect(concurrent).toEqual(first);
      await expect(bus.shutdown(env.timeoutMs)).resolves.toEqual(first);
    },
  },
  {
    area: 'background publish and shutdown',
    title: '`await using` shuts the bus down at the end of the scope',
    async run(env) {
      const received = new Recorder();
      let escaped: EventBus;
      const event = orderPlaced({ aggregateId: env.uniqueId('order') });
      {
        const testBus = await env.startBus((b) => b.subscribe(OrderPlaced, received.handle));
        await using bus = testBus.bus;
        escaped = bus;
        await bus.publish([event]);
        await env.eventually(() => expect(received.ids).toEqual([event.eventId]));
      }
      const error = await failureOf(() => escaped.publish([orderPlaced({ aggregateId: event.aggregateId })]));
      expect(error).toMatchObject({ code: 'ES_BUS_CLOSED' });
    },
  },
  {
    area: 'background publish and shutdown',
    title: 'shutdown(deadline) with a handler that never finishes returns by the deadline, drained: false, and the message is not lost',
    requires: ['shutdownDeadline'],
    budget: 5,
    async run(env) {
      const never = gate();
      env.onCleanup(() => never.open());
      const started = new Recorder();
      const first = await env.startBus(
        (b) =>
          b.subscribe(OrderPlaced, async (event) => {
            started.handle(event);
            await never.promise;
          }),
        { group: 'deadline', consumerName: 'stuck' },
      );
      const event = orderPlaced({ aggregateId: env.uniqueId('order') });
      await first.bus.publish([event], { background: true });
      await env.eventually(() => expect(started.ids).toEqual([event.eventId]));

      const deadlineMs = 300;
      // The slack covers closing connections; a shutdown that waited for the handler would never return.
      const result = await withTimeout(first.bus.shutdown(deadlineMs), deadlineMs + 5_000, `shutdown(${deadlineMs})`);
      expect(result.drained).toBe(false);

      if (env.capabilities.redeliveryAfterCrash) {
        // Left unsettled, so the group hands it to the next member.
        const later = new Recorder();
        await env.startBus((b) => b.subscribe(OrderPlaced, later.handle), { group: 'deadline', consumerName: 'next' });
        await env.eventually(() => expect(later.ids).toContain(event.eventId), env.timeoutMs * 3);
      }
    },
  },
];
