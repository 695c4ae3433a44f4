import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  EnvelopeCodec,
  EventRegistry,
  HEADER,
  HandlerDispatchError,
  RetryPolicy,
  defineEvent,
  fields,
  noopTracer,
  type DecodeFailureReason,
  type DomainEvent,
  type IncomingEnvelope,
  type RetryPolicyOptions,
} from '../../src/index.js';
import { MessageProcessor, SubscriptionRegistry, normalizeHandler, type ProcessOutcome } from '../../src/transport.js';

const registry = new EventRegistry();
const Paid = defineEvent('MessageProcessorTest.Paid', {
  aggregateType: 'Invoice',
  payload: fields<{ amount: number }>(),
  registry,
});
const Voided = defineEvent('MessageProcessorTest.Voided', { aggregateType: 'Invoice', registry });
const Checked = defineEvent('MessageProcessorTest.Checked', {
  aggregateType: 'Invoice',
  payload: z.object({ amount: z.number().positive() }),
  registry,
});

const codec = new EnvelopeCodec({ registry, maxBodyBytes: 2000 });
const NOW = new Date('2024-06-01T12:00:00.000Z');
const EARLIER = '2024-06-01T11:00:00.000Z';

function setup(policy: RetryPolicyOptions = {}, ...handlers: Array<(event: DomainEvent) => unknown>) {
  const subscriptions = new SubscriptionRegistry();
  handlers.forEach((handler, index) => subscriptions.add(Paid.eventType, normalizeHandler(handler, `h${index}`)));
  const processor = new MessageProcessor({
    codec,
    subscriptions,
    tracer: noopTracer,
    retryPolicy: new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 10_000, jitter: 0, maxRetries: 2, ...policy }),
    now: () => NOW,
  });
  return { processor, subscriptions };
}

const paid = (amount = 10) => codec.encode(new Paid({ aggregateId: 'inv-1', amount }));

function expectKind<K extends ProcessOutcome['kind']>(outcome: ProcessOutcome, kind: K): Extract<ProcessOutcome, { kind: K }> {
  expect(outcome.kind).toBe(kind);
  return outcome as Extract<ProcessOutcome, { kind: K }>;
}

describe('MessageProcessor', () => {
  it('acks a message whose handlers all succeed', async () => {
    const seen: number[] = [];
    const { processor } = setup({}, (event) => {
      seen.push((event as DomainEvent & { amount: number }).amount);
    });
    const envelope = paid(42);
    const outcome = expectKind(await processor.process(envelope), 'ack');
    expect(outcome.invoked).toBe(1);
    expect(outcome.event).toBeInstanceOf(Paid);
    expect(outcome.event.eventId).toBe(envelope.headers[HEADER.eventId]);
    expect(seen).toEqual([42]);
  });

  it('skips a type nobody here handles by peeking at the header, without parsing the body', async () => {
    const { processor } = setup({}, () => undefined);
    const outcome = await processor.process({
      headers: { [HEADER.eventType]: 'OtherService.Happened' },
      body: 'not even JSON',
    });
    expect(outcome).toEqual({ kind: 'skip', reason: 'no_subscribers', eventType: 'OtherService.Happened' });
  });

  it('with unsubscribedTypes "dead-letter" keeps a type nobody here handles as a no_subscribers dead letter', async () => {
    const subscriptions = new SubscriptionRegistry();
    subscriptions.add(Paid.eventType, normalizeHandler(() => undefined, 'h0'));
    const processor = new MessageProcessor({ codec, subscriptions, tracer: noopTracer, retryPolicy: new RetryPolicy(), now: () => NOW, unsubscribedTypes: 'dead-letter' });
    const foreign = expectKind(await processor.process({ headers: { [HEADER.eventType]: 'OtherService.Happened' }, body: '{}' }), 'dead-letter');
    expect(foreign).toMatchObject({ reason: 'no_subscribers', errorType: 'NoSubscribers', invoked: 0 });
    expect(foreign.errorMessage).toMatch(/OtherService\.Happened/);
    const registered = expectKind(await processor.process(codec.encode(new Voided({ aggregateId: 'inv-1' }))), 'dead-letter');
    expect(registered.reason).toBe('no_subscribers');
  });

  it('treats an empty or malformed event-type header as bad input, not as another service\'s type', async () => {
    const { processor } = setup({}, () => undefined);
    for (const type of ['', ' ', 'has space', 'tab\there']) {
      const outcome = expectKind(await processor.process({ headers: { [HEADER.eventType]: type }, body: paid().body }), 'dead-letter');
      expect(outcome.reason).toBe('invalid_field');
    }
  });

  it('dead-letters a message without a body as missing_field', async () => {
    const { processor } = setup({}, () => undefined);
    const outcome = expectKind(await processor.process({ headers: { [HEADER.eventType]: Paid.eventType }, body: undefined }), 'dead-letter');
    expect(outcome.reason).toBe('missing_field');
  });

  it('skips a registered type without subscribers when there is no header to peek at', async () => {
    const { processor } = setup({}, () => undefined);
    const envelope = codec.encode(new Voided({ aggregateId: 'inv-1' }));
    const outcome = await processor.process({ body: envelope.body });
    expect(outcome).toEqual({ kind: 'skip', reason: 'no_subscribers', eventType: 'MessageProcessorTest.Voided' });
  });

  it('skips a type this process never registered, even with a wildcard subscriber', async () => {
    const { processor, subscriptions } = setup();
    subscriptions.addWildcard(normalizeHandler(() => undefined));
    const body = JSON.stringify({ ...JSON.parse(paid().body), eventType: 'Elsewhere.Registered' });
    expect(await processor.process({ headers: { [HEADER.eventType]: 'Elsewhere.Registered' }, body })).toEqual({
      kind: 'skip',
      reason: 'unknown_event_type',
      eventType: 'Elsewhere.Registered',
    });
    expect(await processor.process({ body })).toEqual({
      kind: 'skip',
      reason: 'unknown_event_type',
      eventType: undefined,
    });
  });

  describe('dead-letters what cannot be decoded', () => {
    const valid = JSON.parse(paid().body) as Record<string, unknown>;
    const cases: Array<[DecodeFailureReason, IncomingEnvelope]> = [
      ['too_large', { body: 'x'.repeat(2001) }],
      ['malformed_json', { body: '{"eventType":' }],
      ['malformed_json', { body: new Uint8Array([0xc3, 0x28]) }],
      ['not_an_object', { body: '[]' }],
      ['forbidden_key', { body: `{"__proto__":{},${JSON.stringify(valid).slice(1)}` }],
      ['missing_field', { body: JSON.stringify({ ...valid, aggregateId: undefined }) }],
      ['invalid_field', { body: JSON.stringify({ ...valid, aggregateVersion: -1 }) }],
      ['type_mismatch', { headers: { [HEADER.eventType]: Paid.eventType }, body: JSON.stringify({ ...valid, eventType: Voided.eventType }) }],
      [
        'payload_invalid',
        {
          body: JSON.stringify({
            ...(JSON.parse(codec.encode(new Checked({ aggregateId: 'inv-1', amount: 1 })).body) as object),
            amount: -1,
          }),
        },
      ],
    ];

    it.each(cases)('%s', async (reason, incoming) => {
      const { processor, subscriptions } = setup({}, () => undefined);
      subscriptions.addWildcard(normalizeHandler(() => undefined));
      const outcome = expectKind(await processor.process(incoming), 'dead-letter');
      expect(outcome).toMatchObject({
        reason,
        errorType: 'EnvelopeDecodeError',
        attempts: 0,
        firstFailureAt: NOW.toISOString(),
        lastFailureAt: NOW.toISOString(),
        event: undefined,
        invoked: 0,
      });
      expect(outcome.errorMessage).toContain(`[reason: ${reason}]`);
    });

    it('keeps the failure history of a retried message', async () => {
      const { processor } = setup({}, () => undefined);
      const outcome = expectKind(
        await processor.process({
          headers: { [HEADER.eventType]: Paid.eventType, [HEADER.attempt]: '2', [HEADER.firstFailureAt]: EARLIER },
          body: '{',
        }),
        'dead-letter',
      );
      expect(outcome).toMatchObject({ reason: 'malformed_json', attempts: 2, firstFailureAt: EARLIER });
    });

    it('treats an unexpected decoder error as malformed input', async () => {
      class BrokenCodec extends EnvelopeCodec {
        override decodeNow(): DomainEvent {
          throw new Error('decoder crashed');
        }
      }
      const subscriptions = new SubscriptionRegistry();
      subscriptions.addWildcard(normalizeHandler(() => undefined));
      const processor = new MessageProcessor({
        codec: new BrokenCodec({ registry }),
        subscriptions,
        tracer: noopTracer,
        retryPolicy: new RetryPolicy(),
      });
      const outcome = expectKind(await processor.process(paid()), 'dead-letter');
      expect(outcome).toMatchObject({ reason: 'malformed_json', errorType: 'Error', errorMessage: 'decoder crashed' });
      expect(Date.parse(outcome.lastFailureAt)).not.toBeNaN();
    });
  });

  describe('handler failures', () => {
    class PaymentRejected extends Error {
      override name = 'PaymentRejected';
    }
    const failing = () => {
      throw new PaymentRejected('card declined');
    };

    it('asks for a retry with the backoff delay and bookkeeping headers', async () => {
      const { processor } = setup({}, failing, () => undefined);
      const outcome = expectKind(await processor.process(paid()), 'retry');
      expect(outcome.delay).toBe(100);
      expect(outcome.attempt).toBe(1);
      expect(outcome.invoked).toBe(2);
      expect(outcome.event).toBeInstanceOf(Paid);
      expect(outcome.error).toBeInstanceOf(HandlerDispatchError);
      expect(outcome.error.failures.map((f) => f.handlerName)).toEqual(['h0']);
      expect(outcome.headers).toEqual({
        [HEADER.attempt]: '1',
        [HEADER.firstFailureAt]: NOW.toISOString(),
        [HEADER.lastFailureAt]: NOW.toISOString(),
        [HEADER.lastError]: expect.stringContaining('h0: card declined') as unknown as string,
      });
    });

    it('backs off further on each retry, then dead-letters after maxRetries', async () => {
      const { processor } = setup({ maxRetries: 2 }, failing);
      const original = paid();

      const first = expectKind(await processor.process(original), 'retry');
      const second = expectKind(
        await processor.process({ headers: { ...original.headers, ...first.headers }, body: original.body }),
        'retry',
      );
      expect(second.attempt).toBe(2);
      expect(second.delay).toBe(200);
      expect(second.headers[HEADER.attempt]).toBe('2');

      const third = await processor.process({
        headers: { ...original.headers, ...second.headers, [HEADER.firstFailureAt]: EARLIER },
        body: original.body,
      });
      const dead = expectKind(third, 'dead-letter');
      expect(dead).toMatchObject({
        reason: 'max_retries_exceeded',
        errorType: 'PaymentRejected',
        attempts: 3,
        firstFailureAt: EARLIER,
        lastFailureAt: NOW.toISOString(),
        invoked: 1,
      });
      expect(dead.errorMessage).toContain('card declined');
      expect(dead.event).toBeInstanceOf(Paid);
      expect(dead.error).toBeInstanceOf(HandlerDispatchError);
    });

    it('dead-letters at once with "retries_disabled" when maxRetries is 0', async () => {
      const { processor } = setup({ maxRetries: 0 }, failing);
      const dead = expectKind(await processor.process(paid()), 'dead-letter');
      expect(dead).toMatchObject({
        reason: 'retries_disabled',
        attempts: 1,
        firstFailureAt: NOW.toISOString(),
        lastFailureAt: NOW.toISOString(),
      });
    });

    it('uses the wall clock by default', async () => {
      const subscriptions = new SubscriptionRegistry();
      subscriptions.add(Paid.eventType, normalizeHandler(failing));
      const processor = new MessageProcessor({ codec, subscriptions, tracer: noopTracer, retryPolicy: new RetryPolicy({ jitter: 0 }) });
      const before = Date.now();
      const outcome = expectKind(await processor.process(paid()), 'retry');
      expect(Date.parse(outcome.headers[HEADER.firstFailureAt]!)).toBeGreaterThanOrEqual(before);
      expect(outcome.delay).toBe(1000);
    });
  });
});
