import { expect } from 'vitest';
import { EnvelopeCodec, HEADER, InvalidEventError, type DeadLetterMessage, type DomainEvent } from '@eventsource/core';
import { ConformanceEvents, UNREGISTERED_EVENT_TYPE, orderPlaced } from '../events.js';
import { Recorder, failureOf, rawBodyOf, requireDlq, requireInjectRaw, type Scenario, type ScenarioEnv } from '../scenario.js';
import type { RawMessage } from '../types.js';

const { OrderPlaced, Unheard } = ConformanceEvents;

const codec = new EnvelopeCodec();

/** The envelope a producer of `event` would write, with the body replaced. */
function rawLike(event: DomainEvent, body: string | Uint8Array): RawMessage {
  return { headers: codec.encode(event).headers, body };
}

interface MalformedCase {
  readonly title: string;
  readonly reason: string;
  /** Body limit the consuming bus is created with. */
  readonly maxBodyBytes?: number;
  readonly message: (env: ScenarioEnv) => RawMessage;
}

const OVERSIZE_LIMIT = 16 * 1024;

const malformedCases: readonly MalformedCase[] = [
  {
    title: 'a body that is not JSON',
    reason: 'malformed_json',
    message: (env) => rawLike(orderPlaced({ aggregateId: env.uniqueId('bad') }), '{"eventType": "ConformanceOrderPlaced", "eventId": '),
  },
  {
    title: 'a body missing required fields',
    reason: 'missing_field',
    message: (env) => {
      const event = orderPlaced({ aggregateId: env.uniqueId('bad') });
      return rawLike(event, JSON.stringify({ eventType: event.eventType, aggregateId: event.aggregateId, customerId: 'c' }));
    },
  },
  {
    title: 'a body with a __proto__ key',
    reason: 'forbidden_key',
    message: (env) => {
      const event = orderPlaced({ aggregateId: env.uniqueId('bad') });
      return rawLike(event, JSON.stringify(event).replace(/^\{/, '{"__proto__":{"conformancePolluted":true},'));
    },
  },
  {
    title: 'a body over the size limit',
    reason: 'too_large',
    maxBodyBytes: OVERSIZE_LIMIT,
    message: (env) => {
      const event = orderPlaced({ aggregateId: env.uniqueId('bad') });
      // Valid in every other way, so only the size can be the reason.
      return rawLike(event, JSON.stringify({ ...event.toJSON(), giftNote: 'x'.repeat(OVERSIZE_LIMIT) }));
    },
  },
];

function malformedScenario(c: MalformedCase): Scenario {
  return {
    area: 'bad input',
    title: `${c.title} is dead-lettered as ${c.reason} and the consumer keeps consuming`,
    requires: ['rawInjection'],
    async run(env) {
      const inject = requireInjectRaw(env.context);
      const received = new Recorder();
      // The header names a subscribed type, so the consumer must open the body to find out it is bad.
      const consumer = await env.startBus(
        (b) => b.subscribe(OrderPlaced, received.handle),
        c.maxBodyBytes === undefined ? {} : { maxBodyBytes: c.maxBodyBytes },
      );
      const raw = c.message(env);
      await inject(raw);
      const after = orderPlaced({ aggregateId: env.uniqueId('order') });
      await consumer.bus.publish([after]);

      await env.eventually(() => expect(received.ids).toContain(after.eventId));
      expect(received.ids).toEqual([after.eventId]);
      expect(({} as Record<string, unknown>).conformancePolluted).toBeUndefined();

      if (env.capabilities.dlqAdmin) {
        const dlq = requireDlq(consumer);
        const letters = await env.eventually(async () => {
          const list = await dlq.getDlqMessages();
          expect(list).toHaveLength(1);
          return list;
        });
        const letter: DeadLetterMessage = letters[0]!;
        expect(letter.info.reason).toBe(c.reason);
        expect(letter.info.attempts).toBe(0);
        expect(letter.event).toBeUndefined();
        expect(letter.info.errorMessage.length).toBeGreaterThan(0);
        expect(letter.info.originalDestination.length).toBeGreaterThan(0);
        if (c.reason !== 'too_large' && typeof raw.body === 'string') expect(letter.body).toBe(raw.body);
        expect(await dlq.getDlqMessageCount()).toBe(1);
      }
    },
  };
}

/** The bytes of a valid OrderPlaced body whose customerId holds 0xff 0xfe: never valid in UTF-8. */
function invalidUtf8Body(env: ScenarioEnv): { event: DomainEvent; bytes: Uint8Array } {
  const marker = 'INVALID-UTF8-HERE';
  const event = orderPlaced({ aggregateId: env.uniqueId('bytes'), customerId: marker });
  const [head, tail] = JSON.stringify(event).split(marker) as [string, string];
  const bytes = Uint8Array.from([...Buffer.from(head, 'utf8'), 0xff, 0xfe, ...Buffer.from(tail, 'utf8')]);
  return { event, bytes };
}

export const inputScenarios: readonly Scenario[] = [
  {
    area: 'bad input',
    title: 'an event type nobody subscribes to is accepted and the bus keeps working',
    async run(env) {
      const received = new Recorder();
      const { bus } = await env.startBus((b) => b.subscribe(OrderPlaced, received.handle));
      const aggregateId = env.uniqueId('order');
      expect(bus.getSubscriberCount(Unheard)).toBe(0);
      await expect(bus.publish([new Unheard({ aggregateId, note: 'for another service' })])).resolves.toBeUndefined();
      const after = orderPlaced({ aggregateId });
      await bus.publish([new Unheard({ aggregateId, note: 'mixed in' }), after]);
      await env.eventually(() => expect(received.ids).toEqual([after.eventId]));
    },
  },
  {
    area: 'bad input',
    title: 'publishing something that is not an array of events rejects with InvalidEventError',
    async run(env) {
      const { bus } = await env.context.createBus();
      const event = orderPlaced({ aggregateId: env.uniqueId('order') });
      const notEvents: unknown[] = [
        null,
        undefined,
        { eventType: 'ConformanceOrderPlaced' },
        event, // one event, not a list of them
        'ConformanceOrderPlaced',
        [null],
        [{ ...event.toJSON() }], // looks like an event, is a plain object
      ];
      for (const value of notEvents) {
        const error = await failureOf(() => bus.publish(value as never));
        expect(error, `publish(${JSON.stringify(value)})`).toBeInstanceOf(InvalidEventError);
        expect(error).toMatchObject({ code: 'ES_INVALID_EVENT' });
        const backgroundError = await failureOf(() => bus.publish(value as never, { background: true }));
        expect(backgroundError).toMatchObject({ code: 'ES_INVALID_EVENT' });
      }
      await expect(bus.publish([])).resolves.toBeUndefined();
    },
  },
  {
    area: 'bad input',
    title: 'a list with one invalid item publishes none of its events',
    async run(env) {
      const received = new Recorder();
      const { bus } = await env.startBus((b) => b.subscribe(OrderPlaced, received.handle));
      const aggregateId = env.uniqueId('order');
      const valid = orderPlaced({ aggregateId });
      const error = await failureOf(() => bus.publish([valid, { eventType: 'ConformanceOrderPlaced' } as never]));
      expect(error).toMatchObject({ code: 'ES_INVALID_EVENT' });

      // Same aggregate, published later: on every transport it arrives after `valid` would have.
      const later = orderPlaced({ aggregateId, aggregateVersion: 2 });
      await bus.publish([later]);
      await env.eventually(() => expect(received.ids).toContain(later.eventId));
      expect(received.ids).toEqual([later.eventId]);
    },
  },
  {
    area: 'bad input',
    title: 'a raw message of a type not registered in this process is skipped, not dead-lettered, a wildcard subscriber does not receive it, and later messages flow',
    requires: ['rawInjection'],
    async run(env) {
      const inject = requireInjectRaw(env.context);
      const received = new Recorder();
      // A wildcard subscriber means "someone would handle it", so the type is looked up, not ignored by header.
      const consumer = await env.startBus((b) => b.subscribeToAllEvents(received.handle));
      const template = orderPlaced({ aggregateId: env.uniqueId('foreign') });
      const body = JSON.stringify({ ...template.toJSON(), eventType: UNREGISTERED_EVENT_TYPE });
      await inject({ headers: { ...codec.encode(template).headers, [HEADER.eventType]: UNREGISTERED_EVENT_TYPE }, body });

      const after = orderPlaced({ aggregateId: env.uniqueId('order') });
      await consumer.bus.publish([after]);
      await env.eventually(() => expect(received.ids).toContain(after.eventId));
      expect(received.events.map((e) => e.eventType)).toEqual(['ConformanceOrderPlaced']);
      if (env.capabilities.dlqAdmin) {
        expect(await requireDlq(consumer).getDlqMessageCount()).toBe(0);
      }
    },
  },
  ...malformedCases.map(malformedScenario),
  {
    area: 'bad input',
    title: 'a body with invalid UTF-8 inside a JSON string is dead-lettered as malformed_json, keeping the original bytes',
    requires: ['rawInjection'],
    async run(env) {
      const inject = requireInjectRaw(env.context);
      const received = new Recorder();
      const consumer = await env.startBus((b) => b.subscribe(OrderPlaced, received.handle));
      const { event, bytes } = invalidUtf8Body(env);
      await inject({ headers: codec.encode(event).headers, body: bytes });
      const after = orderPlaced({ aggregateId: env.uniqueId('order') });
      await consumer.bus.publish([after]);

      // Decoding lossily would hand the handler a customerId of U+FFFD instead.
      await env.eventually(() => expect(received.ids).toContain(after.eventId));
      expect(received.ids).toEqual([after.eventId]);
      if (env.capabilities.dlqAdmin) {
        const dlq = requireDlq(consumer);
        const letters = await env.eventually(async () => {
          const list = await dlq.getDlqMessages();
          expect(list).toHaveLength(1);
          return list;
        });
        const letter = letters[0]!;
        expect(letter.info.reason).toBe('malformed_json');
        expect(letter.info.errorMessage).toMatch(/UTF-8/);
        expect(letter.info.attempts).toBe(0);
        expect(letter.event).toBeUndefined();
        const rawBody = rawBodyOf(letter);
        expect(rawBody, 'DeadLetterMessage.rawBody').toBeInstanceOf(Uint8Array);
        expect([...rawBody!]).toEqual([...bytes]);
      }
    },
  },
];
