import { expect } from 'vitest';
import { HEADER } from '@eventsource/core';
import { ConformanceEvents, orderPlaced, pings, type OrderPlacedEvent } from '../events.js';
import { Recorder, requireDlq, type Scenario } from '../scenario.js';

const { OrderPlaced, Ping } = ConformanceEvents;

function counter(): { bump(id: string): number; get(id: string): number } {
  const counts = new Map<string, number>();
  return {
    bump(id) {
      const n = (counts.get(id) ?? 0) + 1;
      counts.set(id, n);
      return n;
    },
    get: (id) => counts.get(id) ?? 0,
  };
}

export const retryScenarios: readonly Scenario[] = [
  {
    area: 'retries',
    title: 'a failing handler runs exactly 1 + maxRetries times, then the message is dead-lettered with its failure metadata',
    requires: ['retries', 'dlqAdmin'],
    budget: 3,
    async run(env) {
      const attempts = counter();
      const consumer = await env.startBus(
        (b) =>
          b.subscribe(OrderPlaced, (event) => {
            attempts.bump(event.eventId);
            throw new TypeError(`conformance: refusing ${event.eventId}`);
          }),
        { maxRetries: 2, retryBaseDelayMs: 20 },
      );
      const dlq = requireDlq(consumer);
      const event = orderPlaced({ aggregateId: env.uniqueId('order') });
      await consumer.bus.publish([event]);

      const letters = await env.eventually(async () => {
        const list = await dlq.getDlqMessages();
        expect(list).toHaveLength(1);
        return list;
      });
      // Dead-lettering follows the last attempt, so the count is final here.
      expect(attempts.get(event.eventId)).toBe(3);
      const letter = letters[0]!;
      expect(letter.eventType).toBe(OrderPlaced.eventType);
      expect(letter.event).toBeInstanceOf(OrderPlaced);
      expect(letter.event?.eventId).toBe(event.eventId);
      expect((JSON.parse(letter.body) as { eventId: string }).eventId).toBe(event.eventId);
      expect(letter.headers[HEADER.eventId]).toBe(event.eventId);
      expect(letter.info).toMatchObject({ reason: 'max_retries_exceeded', errorType: 'TypeError', attempts: 3 });
      expect(letter.info.errorMessage).toContain(`refusing ${event.eventId}`);
      const first = Date.parse(letter.info.firstFailureAt);
      const last = Date.parse(letter.info.lastFailureAt);
      expect(Number.isNaN(first)).toBe(false);
      expect(Number.isNaN(last)).toBe(false);
      // First failure is carried across attempts, not reset on each one.
      expect(first).toBeLessThan(last);
      expect(letter.info.originalDestination.length).toBeGreaterThan(0);
      expect(await dlq.getDlqMessageCount()).toBe(1);
    },
  },
  {
    area: 'retries',
    title: 'a handler that fails twice then succeeds is retried and settled, not dead-lettered',
    requires: ['retries'],
    budget: 3,
    async run(env) {
      const attempts = counter();
      const succeeded = new Recorder<OrderPlacedEvent>();
      const consumer = await env.startBus(
        (b) =>
          b.subscribe(OrderPlaced, (event) => {
            if (attempts.bump(event.eventId) <= 2) throw new Error('conformance: not yet');
            succeeded.handle(event);
          }),
        { maxRetries: 3, retryBaseDelayMs: 20 },
      );
      const event = orderPlaced({ aggregateId: env.uniqueId('order') });
      await consumer.bus.publish([event]);
      await env.eventually(() => expect(succeeded.ids).toEqual([event.eventId]));
      expect(attempts.get(event.eventId)).toBe(3);
      expect(succeeded.events[0]?.customerId).toBe(event.customerId);

      // Once a later message on the same aggregate went through, an unsettled first one would have shown up again.
      const later = orderPlaced({ aggregateId: event.aggregateId, aggregateVersion: 2 });
      await consumer.bus.publish([later]);
      await env.eventually(() => expect(succeeded.ids).toContain(later.eventId));
      expect(attempts.get(event.eventId)).toBe(3);
      if (env.capabilities.dlqAdmin) expect(await requireDlq(consumer).getDlqMessageCount()).toBe(0);
    },
  },
  {
    area: 'retries',
    title: 'a message waiting for its retry does not hold up the 50 messages behind it',
    requires: ['retries', 'retryDoesNotBlock'],
    budget: 4,
    async run(env) {
      const retryDelay = Math.min(3000, Math.max(1000, env.timeoutMs / 4));
      const aggregateId = env.uniqueId('probe');
      const others = new Set<string>();
      let poisonAttempts = 0;
      let othersDoneAtRetry = -1;
      const consumer = await env.startBus(
        (b) => {
          b.subscribe(OrderPlaced, () => {
            if (++poisonAttempts === 1) throw new Error('conformance: first attempt fails');
            othersDoneAtRetry = others.size;
          });
          b.subscribe(Ping, (event) => {
            others.add(event.eventId);
          });
        },
        { maxRetries: 1, retryBaseDelayMs: retryDelay },
      );
      // One aggregate: on a partitioned transport they share a partition, the harder case.
      const poison = orderPlaced({ aggregateId });
      const followers = pings(50, 'behind-the-retry', aggregateId);
      await consumer.bus.publish([poison, ...followers]);

      await env.eventually(() => expect(poisonAttempts).toBe(2), env.timeoutMs + retryDelay * 2);
      expect(othersDoneAtRetry).toBe(50);
    },
  },
  {
    area: 'retries',
    title: 'a retry stays in the failing consumer group: another group sees each event once',
    requires: ['retries', 'fanOutAcrossGroups'],
    budget: 3,
    async run(env) {
      const flakyAttempts = counter();
      const flakyDone = new Recorder();
      const steady = new Recorder();
      const flaky = await env.startBus(
        (b) =>
          b.subscribe(OrderPlaced, (event) => {
            if (flakyAttempts.bump(event.eventId) === 1) throw new Error('conformance: flaky first attempt');
            flakyDone.handle(event);
          }),
        { group: 'flaky', maxRetries: 2, retryBaseDelayMs: 20 },
      );
      await env.startBus((b) => b.subscribe(OrderPlaced, steady.handle), { group: 'steady', maxRetries: 2, retryBaseDelayMs: 20 });

      const events = Array.from({ length: 5 }, () => orderPlaced({ aggregateId: env.uniqueId('order') }));
      await flaky.bus.publish(events);
      const ids = new Set(events.map((e) => e.eventId));
      await env.eventually(() => {
        expect(flakyDone.distinct()).toEqual(ids);
        expect(steady.distinct()).toEqual(ids);
      });
      for (const event of events) {
        expect(flakyAttempts.get(event.eventId)).toBe(2);
        expect(steady.count(event.eventId)).toBe(1);
      }
    },
  },
];
