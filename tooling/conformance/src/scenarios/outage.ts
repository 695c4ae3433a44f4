import { expect } from 'vitest';
import { ConformanceEvents, orderPlaced } from '../events.js';
import { Recorder, requireBroker, requireOutage, type Scenario } from '../scenario.js';

const { OrderPlaced } = ConformanceEvents;

export const outageScenarios: readonly Scenario[] = [
  {
    area: 'outage',
    title: 'while the broker connection is cut health() is unhealthy; once restored consuming resumes and no event is lost',
    requires: ['outage', 'brokerLifecycle'],
    budget: 5,
    async run(env) {
      const outage = requireOutage(env.context);
      const received = new Recorder();
      const consumer = await env.startBus((b) => b.subscribe(OrderPlaced, received.handle));
      const broker = requireBroker(consumer);
      const before = Array.from({ length: 5 }, () => orderPlaced({ aggregateId: env.uniqueId('before') }));
      // Accepted by the broker, then cut at once: some may still be on their way to the consumer.
      await broker.publish(before);
      await outage.cut();
      env.onCleanup(() => outage.restore());

      await env.eventually(() => expect(broker.health().healthy).toBe(false));
      const during = broker.health();
      expect(during.since === undefined || !Number.isNaN(Date.parse(during.since))).toBe(true);

      await outage.restore();
      await env.eventually(() => expect(broker.health()).toMatchObject({ healthy: true, connected: true, consuming: true }), env.timeoutMs * 2);
      const after = Array.from({ length: 5 }, () => orderPlaced({ aggregateId: env.uniqueId('after') }));
      await broker.publish(after);

      // At least once: a message cut mid-settlement may come twice, none may be missing.
      const expected = new Set([...before, ...after].map((e) => e.eventId));
      await env.eventually(() => expect(received.distinct()).toEqual(expected), env.timeoutMs * 2);
    },
  },
];
