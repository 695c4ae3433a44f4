import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  EnvelopeCodec,
  EnvelopeDecodeError,
  EventRegistry,
  InvalidEventError,
  defineEvent,
  fields,
  type StandardSchemaV1,
} from '../../src/index.js';

// A payload field may not reuse a base field's name (issue 8). TypeScript refuses it at
// defineEvent (types.test.ts); these tests cover what plain JavaScript callers get at run time:
// a base-field name always means the base field, and a wrong value for it is an InvalidEventError
// naming the field, never a silently replaced envelope.

const registry = new EventRegistry();
const OrderPlaced = defineEvent('BaseFieldClash.OrderPlaced', {
  aggregateType: 'Order',
  payload: fields<{ customerId: string }>(),
  registry,
});
// The class as a JavaScript caller sees it: no compile-time check on the fields.
const Untyped = OrderPlaced as unknown as new (init: Record<string, unknown>) => InstanceType<typeof OrderPlaced>;

function placed(extra: Record<string, unknown>) {
  return new Untyped({ aggregateId: 'order-1', customerId: 'c-1', ...extra });
}

describe('base fields given by a plain JavaScript caller', () => {
  // Fails on main before issue 8: the event was built with eventId 5.
  it('refuses eventId: 5 instead of replacing the generated UUID', () => {
    expect(() => placed({ eventId: 5 })).toThrow(InvalidEventError);
    expect(() => placed({ eventId: 5 })).toThrow(
      'BaseFieldClash.OrderPlaced.eventId must be a non-empty string; received number 5. "eventId" is a base field of every event, so a payload field cannot use that name either.',
    );
  });

  it.each([
    ['eventId', ''],
    ['correlationId', 7],
    ['correlationId', ''],
    ['causationId', { id: 'x' }],
    ['tenantId', 42],
    ['metadata', 'from-the-payload'],
    ['metadata', ['a']],
    ['metadata', new Map([['a', 1]])],
    ['eventType', 'SomethingElse'],
    ['eventVersion', 2],
  ])('refuses %s = %j, naming the field', (field, value) => {
    expect(() => placed({ [field]: value })).toThrow(InvalidEventError);
    expect(() => placed({ [field]: value })).toThrow(`BaseFieldClash.OrderPlaced.${field} must be`);
  });

  it('accepts the class own eventType and eventVersion, and null for optional fields', () => {
    const event = placed({ eventType: 'BaseFieldClash.OrderPlaced', eventVersion: 1, tenantId: null, causationId: null, metadata: null });
    expect(event.eventType).toBe('BaseFieldClash.OrderPlaced');
    expect(event.tenantId).toBeUndefined();
    expect(event.causationId).toBeUndefined();
    expect(event.metadata).toEqual({});
  });

  it('refuses the same values through with()', () => {
    const event = placed({});
    const untypedWith = event.with.bind(event) as (changes: Record<string, unknown>) => unknown;
    expect(() => untypedWith({ eventId: 5 })).toThrow(/eventId must be a non-empty string/);
    expect(() => untypedWith({ metadata: 'x' })).toThrow(/metadata must be a plain object/);
  });
});

describe('payload schemas that name a base field', () => {
  // Fails on main before issue 8: defineEvent accepted the schema.
  it('refuses a zod object schema with a base field at defineEvent', () => {
    const define = () =>
      defineEvent('BaseFieldClash.Zod', {
        aggregateType: 'Order',
        // @ts-expect-error: metadata is a base field of every event
        payload: z.object({ metadata: z.object({ source: z.string() }), note: z.string() }),
        registry: new EventRegistry(),
      });
    expect(define).toThrow(InvalidEventError);
    expect(define).toThrow('BaseFieldClash.Zod declares a payload field named "metadata", which is a base field of every event');
  });

  it('refuses a zod schema with a method name at defineEvent', () => {
    const define = () =>
      // @ts-expect-error: withMetadata is a method of every event
      defineEvent('BaseFieldClash.Method', { aggregateType: 'Order', payload: z.object({ withMetadata: z.string() }), registry: new EventRegistry() });
    expect(define).toThrow(/payload field named "withMetadata"/);
  });

  it('refuses, on construction, a schema that does not expose its keys but outputs a base field', () => {
    const sneaky: StandardSchemaV1<unknown, { note: string }> = {
      '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value: { ...(value as object), eventId: 'from-schema', note: 'n' } }) },
    };
    const Sneaky = defineEvent('BaseFieldClash.Sneaky', { aggregateType: 'Order', payload: sneaky, registry: new EventRegistry() });
    expect(() => new Sneaky({ aggregateId: 'o', note: 'n' })).toThrow(
      'BaseFieldClash.Sneaky payload schema produced a payload field named "eventId", which is a base field of every event',
    );
  });
});

describe('decoding bodies with bad base fields', () => {
  const codec = new EnvelopeCodec({ registry });

  function bodyWith(changes: Record<string, unknown>): string {
    const { body } = codec.encode(placed({}));
    return JSON.stringify({ ...(JSON.parse(body as string) as object), ...changes });
  }

  it.each([
    ['eventId', 5],
    ['metadata', 'x'],
    ['correlationId', ''],
  ])('dead-letters a body whose %s is %j as invalid_field, naming the field', async (field, value) => {
    const failure = await codec.decode({ body: bodyWith({ [field]: value }) }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(EnvelopeDecodeError);
    expect((failure as EnvelopeDecodeError).reason).toBe('invalid_field');
    expect((failure as Error).message).toContain(field);
  });

  it('still decodes a body written by an older eventVersion of the class', async () => {
    const Versioned = defineEvent('BaseFieldClash.Versioned', { aggregateType: 'V', eventVersion: 2, registry });
    const { body } = codec.encode(new Versioned({ aggregateId: 'v' }));
    const older = JSON.stringify({ ...(JSON.parse(body as string) as object), eventVersion: 1 });
    const event = await codec.decode({ body: older });
    expect(event.eventType).toBe('BaseFieldClash.Versioned');
    expect(event.eventVersion).toBe(2);
  });
});
