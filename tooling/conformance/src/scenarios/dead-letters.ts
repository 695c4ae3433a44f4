import { expect } from 'vitest';
import type { DeadLetterQueue, EventBus } from '@eventsource/core';
import { ConformanceEvents, orderPlaced, type OrderPlacedEvent } from '../events.js';
import { Recorder, failureOf, requireDlq, type Scenario, type ScenarioEnv } from '../scenario.js';

const { OrderPlaced } = ConformanceEvents;

interface DlqFixture {
  bus: EventBus;
  dlq: DeadLetterQueue;
  handled: Recorder<OrderPlacedEvent>;
  /** While true, the handler fails. */
  failing: { value: boolean };
  /** Publishes `count` events and waits until all are dead letters. */
  deadLetter(count: number): Promise<OrderPlacedEvent[]>;
}

// maxRetries 0: a failure goes straight to the dead letters, which keeps these scenarios quick.
async function dlqFixture(env: ScenarioEnv): Promise<DlqFixture> {
  const handled = new Recorder<OrderPlacedEvent>();
  const failing = { value: true };
  const consumer = await env.startBus(
    (b) =>
      b.subscribe(OrderPlaced, (event) => {
        if (failing.value) throw new Error(`conformance: dead-letter ${event.eventId}`);
        handled.handle(event);
      }),
    { maxRetries: 0 },
  );
  const dlq = requireDlq(consumer);
  return {
    bus: consumer.bus,
    dlq,
    handled,
    failing,
    async deadLetter(count) {
      const events = Array.from({ length: count }, () => orderPlaced({ aggregateId: env.uniqueId('order') }));
      await consumer.bus.publish(events);
      await env.eventually(async () => expect(await dlq.getDlqMessageCount()).toBe(count));
      return events;
    },
  };
}

export const deadLetterScenarios: readonly Scenario[] = [
  {
    area: 'dead letters',
    title: 'dead letters can be listed and counted, with the decoded event and why it failed',
    requires: ['dlqAdmin'],
    budget: 3,
    async run(env) {
      const fx = await dlqFixture(env);
      const events = await fx.deadLetter(3);
      const letters = await fx.dlq.getDlqMessages();
      expect(letters).toHaveLength(3);
      expect(new Set(letters.map((l) => l.event?.eventId))).toEqual(new Set(events.map((e) => e.eventId)));
      expect(new Set(letters.map((l) => l.id)).size).toBe(3);
      for (const letter of letters) {
        expect(typeof letter.id).toBe('string');
        expect(letter.event).toBeInstanceOf(OrderPlaced);
        expect(letter.eventType).toBe(OrderPlaced.eventType);
        expect(letter.info).toMatchObject({ reason: 'retries_disabled', errorType: 'Error', attempts: 1 });
        expect(letter.info.errorMessage).toContain(`dead-letter ${letter.event?.eventId}`);
        expect(letter.info.originalDestination.length).toBeGreaterThan(0);
      }
      await expect(fx.dlq.getDlqMessages({ count: 2 })).resolves.toHaveLength(2);
      // Listing is read-only.
      expect(await fx.dlq.getDlqMessageCount()).toBe(3);
    },
  },
  {
    area: 'dead letters',
    title: 'replaying one dead letter redelivers it to its group and removes only it',
    requires: ['dlqAdmin'],
    budget: 3,
    async run(env) {
      const fx = await dlqFixture(env);
      const [first, second] = await fx.deadLetter(2);
      fx.failing.value = false;
      const letters = await fx.dlq.getDlqMessages();
      const target = letters.find((l) => l.event?.eventId === first!.eventId)!;
      expect(target).toBeDefined();

      await fx.dlq.replayDlqMessage(target.id);
      await env.eventually(() => expect(fx.handled.ids).toEqual([first!.eventId]));
      await env.eventually(async () => expect(await fx.dlq.getDlqMessageCount()).toBe(1));
      const rest = await fx.dlq.getDlqMessages();
      expect(rest.map((l) => l.event?.eventId)).toEqual([second!.eventId]);
      expect(fx.handled.events[0]?.customerId).toBe(first!.customerId);
    },
  },
  {
    area: 'dead letters',
    title: 'replaying an id that was already replayed rejects with DlqMessageNotFoundError',
    requires: ['dlqAdmin'],
    budget: 3,
    async run(env) {
      const fx = await dlqFixture(env);
      const [event] = await fx.deadLetter(1);
      fx.failing.value = false;
      const [letter] = await fx.dlq.getDlqMessages();
      await fx.dlq.replayDlqMessage(letter!.id);
      await env.eventually(() => expect(fx.handled.ids).toEqual([event!.eventId]));

      const error = await failureOf(() => fx.dlq.replayDlqMessage(letter!.id));
      expect(error).toMatchObject({ code: 'ES_DLQ_MESSAGE_NOT_FOUND' });
      expect(fx.handled.ids).toEqual([event!.eventId]);
    },
  },
  {
    area: 'dead letters',
    title: 'replaying all dead letters redelivers every one and empties the queue',
    requires: ['dlqAdmin'],
    budget: 3,
    async run(env) {
      const fx = await dlqFixture(env);
      const events = await fx.deadLetter(3);
      fx.failing.value = false;
      await expect(fx.dlq.replayAllDlqMessages()).resolves.toBe(3);
      await env.eventually(() => expect(fx.handled.distinct()).toEqual(new Set(events.map((e) => e.eventId))));
      await env.eventually(async () => expect(await fx.dlq.getDlqMessageCount()).toBe(0));
      expect(fx.handled.events).toHaveLength(3);
    },
  },
  {
    area: 'dead letters',
    title: 'purging deletes every dead letter and reports how many',
    requires: ['dlqAdmin'],
    budget: 3,
    async run(env) {
      const fx = await dlqFixture(env);
      await fx.deadLetter(2);
      await expect(fx.dlq.purgeDlq()).resolves.toBe(2);
      expect(await fx.dlq.getDlqMessageCount()).toBe(0);
      await expect(fx.dlq.getDlqMessages()).resolves.toEqual([]);
      await expect(fx.dlq.purgeDlq()).resolves.toBe(0);
      expect(fx.handled.events).toHaveLength(0);
    },
  },
];
