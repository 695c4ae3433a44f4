import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ConfigError,
  DEFAULT_MAX_BODY_BYTES,
  EnvelopeCodec,
  EnvelopeDecodeError,
  EventRegistry,
  HEADER,
  InvalidEventError,
  defineEvent,
  fields,
  type DecodeFailureReason,
  type EventOf,
  type IncomingEnvelope,
  type StandardSchemaV1,
} from '../../src/index.js';

const registry = new EventRegistry();
const codec = new EnvelopeCodec({ registry });

const ItemAdded = defineEvent('CodecTest.ItemAdded', {
  aggregateType: 'Cart',
  eventVersion: 2,
  payload: fields<{ sku: string; qty: number; tags: string[]; price: { amount: number; currency: string } }>(),
  registry,
});

const Strict = defineEvent('CodecTest.Strict', {
  aggregateType: 'Cart',
  payload: z.object({ sku: z.string().min(3), qty: z.number().int().positive() }),
  registry,
});

const Scheduled = defineEvent('CodecTest.Scheduled', {
  aggregateType: 'Cart',
  payload: z.object({ dueAt: z.coerce.date() }),
  registry,
});

const AsyncChecked = defineEvent('CodecTest.AsyncChecked', {
  aggregateType: 'Cart',
  payload: z.object({
    code: z.string().refine(async (value) => {
      await new Promise((resolve) => setImmediate(resolve));
      return value.startsWith('ok');
    }, 'code must start with ok'),
  }),
  registry,
});

function itemAdded(overrides: Record<string, unknown> = {}) {
  return new ItemAdded({
    aggregateId: 'cart-1',
    aggregateVersion: 3,
    sku: 'sku-1',
    qty: 2,
    tags: ['a', 'b'],
    price: { amount: 9.5, currency: 'EUR' },
    ...overrides,
  });
}

/** A valid wire record for ItemAdded, as a plain object the test can break. */
function record(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...JSON.parse(codec.encode(itemAdded()).body), ...overrides } as Record<string, unknown>;
}

async function decodeError(incoming: IncomingEnvelope, using: EnvelopeCodec = codec): Promise<EnvelopeDecodeError> {
  try {
    await using.decode(incoming);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvelopeDecodeError);
    return error as EnvelopeDecodeError;
  }
  throw new Error('expected decode() to fail');
}

async function expectReason(incoming: IncomingEnvelope, reason: DecodeFailureReason, message?: RegExp): Promise<void> {
  const error = await decodeError(incoming);
  expect(error.reason).toBe(reason);
  expect(error.code).toBe('ES_ENVELOPE_INVALID');
  expect(error.message).toContain(`[reason: ${reason}]`);
  if (message) expect(error.message).toMatch(message);
}

describe('encode', () => {
  it('keys by aggregateId and writes the envelope headers', () => {
    const event = itemAdded();
    const envelope = codec.encode(event, { traceparent: 'tp', 'x-extra': '1' });
    expect(envelope.key).toBe('cart-1');
    expect(envelope.headers).toEqual({
      [HEADER.eventType]: 'CodecTest.ItemAdded',
      [HEADER.eventId]: event.eventId,
      [HEADER.aggregateType]: 'Cart',
      [HEADER.aggregateId]: 'cart-1',
      [HEADER.aggregateVersion]: '3',
      [HEADER.contentType]: 'application/json',
      traceparent: 'tp',
      'x-extra': '1',
    });
    expect(JSON.parse(envelope.body)).toEqual(event.toJSON());
  });

  it('refuses anything that is not a declared event', () => {
    expect(() => codec.encode({ eventType: 'CodecTest.ItemAdded' } as never)).toThrow(InvalidEventError);
    expect(() => codec.encode(null as never)).toThrow(/Only events declared with defineEvent\(\) can be published; received null/);
  });

  it('refuses an event over maxBodyBytes and says what to do', () => {
    const small = new EnvelopeCodec({ registry, maxBodyBytes: 400 });
    expect(() => small.encode(itemAdded({ sku: 'x'.repeat(400) }))).toThrow(
      /encodes to \d+ bytes, over maxBodyBytes \(400\)\. Store large data elsewhere/,
    );
    // Multi-byte text: fewer UTF-16 units than the limit, more bytes than it.
    expect(() => small.encode(itemAdded({ sku: '€'.repeat(100) }))).toThrow(InvalidEventError);
    expect(() => small.encode(itemAdded({ sku: '€' }))).not.toThrow();
  });
});

describe('round trip', () => {
  it('keeps every field', async () => {
    const original = itemAdded({
      eventId: 'evt-1',
      occurredAt: new Date('2024-02-03T04:05:06.789Z'),
      tenantId: 'tenant-1',
      correlationId: 'corr-1',
      causationId: 'cause-1',
      metadata: { source: 'api', nested: { ok: true } },
    });
    const decoded = await codec.decode(codec.encode(original));
    expect(decoded).toBeInstanceOf(ItemAdded);
    expect(decoded).not.toBe(original);
    expect(decoded.occurredAt).toBeInstanceOf(Date);
    expect(decoded.occurredAt.getTime()).toBe(original.occurredAt.getTime());
    expect(decoded).toEqual(original);
    expect(decoded.eventVersion).toBe(2);
    expect(decoded.tenantId).toBe('tenant-1');
    expect(decoded.causationId).toBe('cause-1');
    expect(Object.isFrozen(decoded)).toBe(true);
  });

  it('decodes bytes as well as text', async () => {
    const envelope = codec.encode(itemAdded());
    const fromBytes = await codec.decode({ headers: envelope.headers, body: new TextEncoder().encode(envelope.body) });
    const fromBuffer = await codec.decode({ body: Buffer.from(envelope.body) });
    expect(fromBytes.eventId).toBe(fromBuffer.eventId);
    expect(fromBytes).toBeInstanceOf(ItemAdded);
  });

  it('accepts a body without headers and one without the optional fields', async () => {
    const body = record();
    delete body.eventVersion;
    delete body.metadata;
    const decoded = await codec.decode({ body: JSON.stringify(body) });
    expect(decoded.eventVersion).toBe(2);
    expect(decoded.metadata).toEqual({});
  });

  it('drops null optional fields', async () => {
    const decoded = await codec.decode({ body: JSON.stringify(record({ tenantId: null, causationId: null })) });
    expect('tenantId' in decoded).toBe(false);
    expect('causationId' in decoded).toBe(false);
  });

  it('exposes its settings and peeks the type from the header without parsing', () => {
    expect(codec.maxBodyBytes).toBe(DEFAULT_MAX_BODY_BYTES);
    expect(DEFAULT_MAX_BODY_BYTES).toBe(1024 * 1024);
    expect(codec.validatePayloads).toBe(true);
    expect(codec.registry).toBe(registry);
    expect(codec.peekEventType({ headers: { [HEADER.eventType]: 'Anything' }, body: 'not json' })).toBe('Anything');
    expect(codec.peekEventType({ body: '{}' })).toBeUndefined();
  });
});

describe('decode: size and bytes', () => {
  const small = new EnvelopeCodec({ registry, maxBodyBytes: 600 });
  const body = codec.encode(itemAdded()).body;

  it('accepts a body under the limit', async () => {
    expect(body.length).toBeLessThan(600);
    await expect(small.decode({ body })).resolves.toBeInstanceOf(ItemAdded);
  });

  it('refuses a text body over the limit', async () => {
    const error = await decodeError({ body: 'x'.repeat(601) }, small);
    expect(error.reason).toBe('too_large');
    expect(error.message).toContain('Message body is 601 bytes, over the limit of 600');
  });

  it('counts bytes, not characters, of a text body', async () => {
    const multiByte = JSON.stringify(record({ sku: 'é'.repeat(200) }));
    expect(multiByte.length).toBeLessThanOrEqual(600);
    expect(Buffer.byteLength(multiByte)).toBeGreaterThan(600);
    expect((await decodeError({ body: multiByte }, small)).reason).toBe('too_large');
  });

  it('refuses a byte body over the limit', async () => {
    const error = await decodeError({ body: new Uint8Array(601) }, small);
    expect(error.reason).toBe('too_large');
  });

  it('refuses bytes that are not UTF-8', async () => {
    await expectReason({ body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) }, 'malformed_json', /not valid UTF-8/);
  });

  it('refuses a body that is neither text nor bytes', async () => {
    await expectReason({ body: 42 as unknown as string }, 'malformed_json', /must be text or bytes; received number 42/);
  });

  it.each([[0], [-1], [1.5], [Number.NaN]])('refuses maxBodyBytes %s', (maxBodyBytes) => {
    expect(() => new EnvelopeCodec({ maxBodyBytes })).toThrow(ConfigError);
    expect(() => new EnvelopeCodec({ maxBodyBytes })).toThrow(/Invalid option "maxBodyBytes"/);
  });
});

describe('decode: structure', () => {
  it('refuses text that is not JSON', async () => {
    await expectReason({ body: '{"eventType":' }, 'malformed_json', /not valid JSON/);
  });

  it.each([
    ['an array', '[1,2]', /received an array/],
    ['null', 'null', /received null/],
    ['a string', '"CodecTest.ItemAdded"', /received the string "CodecTest.ItemAdded"/],
    ['a number', '7', /received number 7/],
  ])('refuses %s as the body', async (_label, body, message) => {
    await expectReason({ body }, 'not_an_object', message);
  });

  it('refuses a top-level __proto__ key and leaves Object.prototype alone', async () => {
    const body = `{"__proto__": {"polluted": "yes"}, ${JSON.stringify(record()).slice(1)}`;
    await expectReason({ body }, 'forbidden_key', /forbidden key "__proto__" at \$/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('refuses a nested constructor key', async () => {
    const body = JSON.stringify(record({ price: { amount: 1, currency: 'EUR', extra: [{ constructor: { prototype: { polluted: 1 } } }] } }));
    await expectReason({ body }, 'forbidden_key', /forbidden key "constructor" at \$\.price\.extra\[0\]/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses a forbidden key spelled with JSON escapes', async () => {
    const body = JSON.stringify(record()).replace(/}$/, ',"\\u005f_proto__":{"polluted":true}}');
    await expectReason({ body }, 'forbidden_key', /"__proto__"/);
    const inMetadata = JSON.stringify(record()).replace('"metadata":{}', '"metadata":{"\\u0063onstructor":{}}');
    await expectReason({ body: inMetadata }, 'forbidden_key', /"constructor" at \$\.metadata/);
  });

  it('allows the forbidden words as values', async () => {
    const body = JSON.stringify(record({ sku: 'constructor', tags: ['__proto__'] }));
    const decoded = await codec.decode({ body });
    expect(decoded).toMatchObject({ sku: 'constructor', tags: ['__proto__'] });
  });
});

describe('decode: base fields', () => {
  it.each(['eventType', 'eventId', 'aggregateId', 'aggregateType', 'correlationId', 'occurredAt', 'aggregateVersion'])(
    'reports a missing %s as missing_field',
    async (field) => {
      const body = Object.fromEntries(Object.entries(record()).filter(([key]) => key !== field));
      await expectReason({ body: JSON.stringify(body) }, 'missing_field', new RegExp(`"${field}"`));
    },
  );

  it.each([
    ['eventId', 42, /"eventId" must be a non-empty string; received number 42/],
    ['aggregateId', '', /"aggregateId" must be a non-empty string; received the string ""/],
    ['aggregateType', { a: 1 }, /"aggregateType" must be a non-empty string; received an object \(Object\)/],
    ['correlationId', ['x'], /"correlationId" must be a non-empty string; received an array/],
    ['occurredAt', 'not a date', /"occurredAt" is not an ISO-8601 date/],
    ['tenantId', 5, /"tenantId" must be a string when present/],
    ['causationId', false, /"causationId" must be a string when present/],
    ['aggregateVersion', -1, /"aggregateVersion" must be a non-negative integer; received number -1/],
    ['aggregateVersion', 1.5, /"aggregateVersion" must be a non-negative integer/],
    ['aggregateVersion', '3', /"aggregateVersion" must be a non-negative integer; received the string "3"/],
    ['eventVersion', 0, /"eventVersion" must be an integer >= 1/],
    ['eventVersion', '2', /"eventVersion" must be an integer >= 1/],
    ['metadata', [], /"metadata" must be an object; received an array/],
    ['metadata', null, /"metadata" must be an object; received null/],
    ['metadata', 'x', /"metadata" must be an object/],
  ])('reports %s = %j as invalid_field', async (field, value, message) => {
    await expectReason({ body: JSON.stringify(record({ [field]: value })) }, 'invalid_field', message);
  });

  it('reports an empty eventType as missing_field', async () => {
    await expectReason({ body: JSON.stringify(record({ eventType: '' })) }, 'missing_field', /no "eventType" string/);
  });

  it('reports a payload field that the event class cannot hold as invalid_field', async () => {
    await expectReason({ body: JSON.stringify(record({ withMetadata: 1 })) }, 'invalid_field', /payload field named "withMetadata"/);
  });

  it('describes long strings shortly', async () => {
    const error = await decodeError({ body: JSON.stringify(record({ eventId: 7, aggregateId: 'y'.repeat(100) })) });
    expect(error.message).toContain('number 7');
    const long = await decodeError({ body: JSON.stringify(record({ eventVersion: 'z'.repeat(100) })) });
    expect(long.message).toContain(`"${'z'.repeat(40)}…"`);
  });
});

describe('decode: type resolution', () => {
  it('resolves types only through its registry', async () => {
    const elsewhere = new EventRegistry();
    const Foreign = defineEvent('CodecTest.Foreign', { aggregateType: 'F', registry: elsewhere });
    const envelope = new EnvelopeCodec({ registry: elsewhere }).encode(new Foreign({ aggregateId: 'f' }));
    const error = await decodeError(envelope);
    expect(error.reason).toBe('unknown_event_type');
    expect(error.message).toContain('Unknown event type "CodecTest.Foreign"');
    expect(error.message).toContain('CodecTest.ItemAdded');
    expect(error.cause).toBeDefined();
  });

  it.each(['Object', 'constructor', 'toString', 'DomainEvent', 'Error'])(
    'treats an injected eventType %j as unknown',
    async (eventType) => {
      await expectReason({ body: JSON.stringify(record({ eventType })) }, 'unknown_event_type');
    },
  );

  it('refuses a header type that disagrees with the body', async () => {
    const envelope = codec.encode(itemAdded());
    const headers = { ...envelope.headers, [HEADER.eventType]: 'CodecTest.Strict' };
    await expectReason(
      { headers, body: envelope.body },
      'type_mismatch',
      /Header event-type "CodecTest.Strict" does not match body eventType "CodecTest.ItemAdded"/,
    );
  });
});

describe('decode: payload schemas', () => {
  it('refuses a payload the schema rejects, naming the field', async () => {
    const envelope = codec.encode(new Strict({ aggregateId: 'c', sku: 'abc', qty: 1 }));
    const body = { ...JSON.parse(envelope.body), qty: -2 };
    await expectReason(
      { headers: envelope.headers, body: JSON.stringify(body) },
      'payload_invalid',
      /CodecTest\.Strict payload failed validation: qty:/,
    );
  });

  it('accepts a payload the schema accepts', async () => {
    const decoded = await codec.decode(codec.encode(new Strict({ aggregateId: 'c', sku: 'abcd', qty: 3 })));
    expect(decoded).toMatchObject({ sku: 'abcd', qty: 3 });
  });

  it('drops payload fields the schema strips, as the constructor does', async () => {
    const constructed = new Strict({ aggregateId: 'c', sku: 'abcd', qty: 1, smuggled: 'x' } as never);
    expect('smuggled' in constructed).toBe(false);
    const body = JSON.stringify({ ...JSON.parse(codec.encode(constructed).body), smuggled: 'x' });
    const decoded = await codec.decode({ body });
    expect('smuggled' in decoded).toBe(false);
    expect(decoded).toEqual(constructed);
  });

  it('keeps unknown payload fields when validatePayloads is false', async () => {
    const body = JSON.stringify({ ...record(), note: 'kept' });
    expect(await new EnvelopeCodec({ registry, validatePayloads: false }).decode({ body })).toMatchObject({ note: 'kept' });
  });

  it('applies schema transforms on decode', async () => {
    const dueAt = new Date('2025-06-07T08:09:10.000Z');
    const envelope = codec.encode(new Scheduled({ aggregateId: 'c', dueAt }));
    expect(JSON.parse(envelope.body).dueAt).toBe('2025-06-07T08:09:10.000Z');
    const decoded = (await codec.decode(envelope)) as EventOf<typeof Scheduled>;
    expect(decoded.dueAt).toBeInstanceOf(Date);
    expect(decoded.dueAt).toEqual(dueAt);
  });

  it('awaits an async schema', async () => {
    const good = (await codec.decode(codec.encode(new AsyncChecked({ aggregateId: 'c', code: 'ok-1' })))) as EventOf<
      typeof AsyncChecked
    >;
    expect(good.code).toBe('ok-1');
    const bad = codec.encode(new AsyncChecked({ aggregateId: 'c', code: 'nope' }));
    await expectReason(bad, 'payload_invalid', /code: code must start with ok/);
  });

  it('refuses a schema that produces something other than an object', async () => {
    const local = new EventRegistry();
    let output: unknown = {};
    const schema: StandardSchemaV1<unknown, object> = {
      '~standard': { version: 1, vendor: 'test', validate: () => ({ value: output as object }) },
    };
    const Odd = defineEvent('CodecTest.Odd', { aggregateType: 'O', payload: schema, registry: local });
    const localCodec = new EnvelopeCodec({ registry: local });
    const envelope = localCodec.encode(new Odd({ aggregateId: 'o' }));
    output = 'a string';
    const error = await decodeError(envelope, localCodec);
    expect(error.reason).toBe('payload_invalid');
    expect(error.message).toContain('payload schema must produce an object');
  });

  it('skips payload validation when validatePayloads is false', async () => {
    const lenient = new EnvelopeCodec({ registry, validatePayloads: false });
    const envelope = codec.encode(new Strict({ aggregateId: 'c', sku: 'abc', qty: 1 }));
    const body = JSON.stringify({ ...JSON.parse(envelope.body), qty: -2 });
    const decoded = await lenient.decode({ body });
    expect(decoded).toMatchObject({ qty: -2 });
  });
});
