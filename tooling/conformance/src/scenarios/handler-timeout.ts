import { expect } from 'vitest';
import { gate, withTimeout } from '@eventsource/testkit';
import { ConformanceEvents, orderPlaced, pings } from '../events.js';
import { Recorder, requireBroker, requireDlq, stuckHandlersOf, type Scenario } from '../scenario.js';

const { OrderPlaced, Ping } = ConformanceEvents;

/** Short enough to keep the scenarios quick, long enough that a healthy handler never hits it. */
const HANDLER_TIMEOUT_MS = 300;

export const handlerTimeoutScenarios: readonly Scenario[] = [
  {
    area: 'handler timeout',
    title: 'a handler that never settles times out, and the messages queued behind it are handled',
    requires: ['handlerTimeout'],
    budget: 3,
    async run(env) {
      const hang = gate();
      env.onCleanup(() => hang.open());
      let hungAttempts = 0;
      const others = new Recorder();
      // One handler slot: without the timeout the hung handler would hold it for good.
      const consumer = await env.startBus(
        (b) => {
          b.subscribe(OrderPlaced, async () => {
            hungAttempts++;
            await hang.promise;
          });
          b.subscribe(Ping, others.handle);
        },
        { handlerTimeoutMs: HANDLER_TIMEOUT_MS, maxInFlight: 1, maxRetries: 0 },
      );
      const aggregateId = env.uniqueId('hung');
      const followers = pings(10, 'behind-a-hung-handler', aggregateId);
      // In-process a publish waits for its handlers, so it returns only because the attempt timed out.
      await withTimeout(consumer.bus.publish([orderPlaced({ aggregateId }), ...followers]), env.timeoutMs, 'publish behind a hung handler');

      await env.eventually(() => expect(others.distinct()).toEqual(new Set(followers.map((e) => e.eventId))));
      expect(hang.isOpen).toBe(false);
      expect(hungAttempts).toBe(1);
    },
  },
  {
    area: 'handler timeout',
    title: 'a timed-out attempt is a failed attempt: after 1 + maxRetries of them the message is dead-lettered with HandlerTimeoutError',
    requires: ['handlerTimeout', 'retries', 'dlqAdmin'],
    budget: 3,
    async run(env) {
      const hang = gate();
      env.onCleanup(() => hang.open());
      let attempts = 0;
      const consumer = await env.startBus(
        (b) =>
          b.subscribe(OrderPlaced, async () => {
            attempts++;
            await hang.promise;
          }),
        { handlerTimeoutMs: HANDLER_TIMEOUT_MS, maxRetries: 1, retryBaseDelayMs: 20 },
      );
      const dlq = requireDlq(consumer);
      const event = orderPlaced({ aggregateId: env.uniqueId('order') });
      await consumer.bus.publish([event]);

      const letters = await env.eventually(async () => {
        const list = await dlq.getDlqMessages();
        expect(list).toHaveLength(1);
        return list;
      });
      expect(attempts).toBe(2);
      const letter = letters[0]!;
      expect(letter.event?.eventId).toBe(event.eventId);
      expect(letter.info).toMatchObject({ reason: 'max_retries_exceeded', errorType: 'HandlerTimeoutError', attempts: 2 });
      expect(letter.info.errorMessage).toContain('handlerTimeoutMs');
    },
  },
  {
    area: 'handler timeout',
    title: 'health() counts a handler running past its timeout as stuck until it settles',
    requires: ['handlerTimeout', 'brokerLifecycle'],
    budget: 3,
    async run(env) {
      const hang = gate();
      env.onCleanup(() => hang.open());
      const started = new Recorder();
      const consumer = await env.startBus(
        (b) =>
          b.subscribe(OrderPlaced, async (event) => {
            started.handle(event);
            await hang.promise;
          }),
        { handlerTimeoutMs: HANDLER_TIMEOUT_MS, maxRetries: 0 },
      );
      const broker = requireBroker(consumer);
      expect(stuckHandlersOf(broker.health())).toBe(0);
      await broker.publish([orderPlaced({ aggregateId: env.uniqueId('order') })]);
      await env.eventually(() => expect(started.events).toHaveLength(1));
      await env.eventually(() => expect(stuckHandlersOf(broker.health())).toBeGreaterThan(0));

      hang.open();
      await env.eventually(() => expect(stuckHandlersOf(broker.health())).toBe(0));
    },
  },
];
