import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  DomainEvent,
  EventRegistry,
  InvalidEventError,
  defaultRegistry,
  defineEvent,
  fields,
  isDomainEvent,
  payloadOf,
  withCausation,
  type StandardSchemaV1,
} from '../../src/index.js';

const UUID = /^[\da-f]{8}-[\da-f]{4}-[\da-f]{4}-[\da-f]{4}-[\da-f]{12}$/;

interface Line {
  sku: string;
  qty: number;
}

const OrderPlaced = defineEvent('DefineEventTest.OrderPlaced', {
  aggregateType: 'Order',
  payload: fields<{ customerId: string; lines: Line[]; address: { city: string; tags: string[] } }>(),
});

const Untyped = defineEvent('DefineEventTest.Untyped');

function placed(overrides: Record<string, unknown> = {}) {
  return new OrderPlaced({
    aggregateId: 'order-1',
    customerId: 'c-1',
    lines: [{ sku: 'a', qty: 1 }],
    address: { city: 'Oslo', tags: ['home'] },
    ...overrides,
  });
}

describe('defineEvent', () => {
  it('returns a class carrying its definition and registers it in the default registry', () => {
    expect(OrderPlaced.eventType).toBe('DefineEventTest.OrderPlaced');
    expect(OrderPlaced.aggregateType).toBe('Order');
    expect(OrderPlaced.eventVersion).toBe(1);
    expect(OrderPlaced.payloadSchema).toBeUndefined();
    expect(OrderPlaced.name).toBe('DefineEventTest.OrderPlaced');
    expect(defaultRegistry.get('DefineEventTest.OrderPlaced')).toBe(OrderPlaced);
  });

  it('registers in options.registry instead of the default one when given', () => {
    const registry = new EventRegistry();
    const Local = defineEvent('DefineEventTest.Local', { aggregateType: 'X', eventVersion: 3, registry });
    expect(registry.get('DefineEventTest.Local')).toBe(Local);
    expect(defaultRegistry.has('DefineEventTest.Local')).toBe(false);
    expect(Local.eventVersion).toBe(3);
  });

  it.each([[''], ['   ']])('refuses the empty type name %j', (name) => {
    expect(() => defineEvent(name, { registry: new EventRegistry() })).toThrow(InvalidEventError);
  });

  it.each([[0], [1.5], [-1]])('refuses eventVersion %s', (eventVersion) => {
    expect(() => defineEvent('DefineEventTest.BadVersion', { eventVersion, registry: new EventRegistry() })).toThrow(
      /eventVersion must be an integer >= 1/,
    );
  });
});

describe('event construction', () => {
  it('fills in the base fields with defaults', () => {
    const before = Date.now();
    const event = placed();
    expect(event.eventId).toMatch(UUID);
    expect(event.eventType).toBe('DefineEventTest.OrderPlaced');
    expect(event.eventVersion).toBe(1);
    expect(event.aggregateId).toBe('order-1');
    expect(event.aggregateType).toBe('Order');
    expect(event.aggregateVersion).toBe(1);
    expect(event.correlationId).toBe(event.eventId);
    expect(event.metadata).toEqual({});
    expect(event.occurredAt.getTime()).toBeGreaterThanOrEqual(before);
    expect('tenantId' in event).toBe(false);
    expect('causationId' in event).toBe(false);
    expect(event.customerId).toBe('c-1');
    expect(event).toBeInstanceOf(DomainEvent);
    expect(event).toBeInstanceOf(OrderPlaced);
  });

  it('keeps every base field it is given', () => {
    const event = placed({
      eventId: 'e-1',
      aggregateType: 'SpecialOrder',
      aggregateVersion: 7,
      occurredAt: '2024-01-02T03:04:05.678Z',
      tenantId: 't-1',
      correlationId: 'corr-1',
      causationId: 'cause-1',
      metadata: { source: 'test' },
    });
    expect(event.eventId).toBe('e-1');
    expect(event.aggregateType).toBe('SpecialOrder');
    expect(event.aggregateVersion).toBe(7);
    expect(event.occurredAt).toEqual(new Date('2024-01-02T03:04:05.678Z'));
    expect(event.tenantId).toBe('t-1');
    expect(event.correlationId).toBe('corr-1');
    expect(event.causationId).toBe('cause-1');
    expect(event.metadata).toEqual({ source: 'test' });
  });

  it('accepts aggregateVersion 0', () => {
    expect(placed({ aggregateVersion: 0 }).aggregateVersion).toBe(0);
  });

  it.each([
    ['a missing aggregateId', { aggregateId: undefined }, /needs a non-empty string aggregateId/],
    ['an empty aggregateId', { aggregateId: '' }, /needs a non-empty string aggregateId/],
    ['a negative aggregateVersion', { aggregateVersion: -1 }, /aggregateVersion must be a non-negative integer/],
    ['a fractional aggregateVersion', { aggregateVersion: 1.5 }, /aggregateVersion must be a non-negative integer/],
    ['an unparseable occurredAt', { occurredAt: 'yesterday' }, /occurredAt is not a valid date: yesterday/],
    ['a payload field that hides with()', { with: 1 }, /payload field named "with".*Rename the field/],
    ['a payload field that hides toJSON()', { toJSON: 1 }, /payload field named "toJSON"/],
  ])('refuses %s', (_label, overrides, message) => {
    expect(() => placed(overrides)).toThrow(InvalidEventError);
    expect(() => placed(overrides)).toThrow(message);
  });

  it('needs an aggregateType from the definition or the constructor', () => {
    expect(() => new Untyped({ aggregateId: 'x' })).toThrow(/needs an aggregateType: set it in defineEvent/);
    expect(new Untyped({ aggregateId: 'x', aggregateType: 'Thing' }).aggregateType).toBe('Thing');
  });

  it('refuses a non-object argument', () => {
    const Ctor = OrderPlaced as unknown as new (init: unknown) => unknown;
    expect(() => new Ctor(null)).toThrow(/expects an object of fields; received null/);
  });

  it('cannot be constructed from a class that was not declared with defineEvent', () => {
    class Rogue extends DomainEvent {
      constructor() {
        super({ aggregateId: 'x', aggregateType: 'X' });
      }
    }
    expect(() => new Rogue()).toThrow(/must be declared with defineEvent/);
  });

  it('lets a subclass of a defined class inherit its definition', () => {
    class Named extends OrderPlaced {
      get summary(): string {
        return `${this.customerId}@${this.address.city}`;
      }
    }
    const event = new Named({
      aggregateId: 'o',
      customerId: 'c',
      lines: [],
      address: { city: 'Rome', tags: [] },
    });
    expect(event.eventType).toBe('DefineEventTest.OrderPlaced');
    expect(event.summary).toBe('c@Rome');
    // Second construction takes the cached definition.
    expect(new Named({ aggregateId: 'p', customerId: 'd', lines: [], address: { city: 'x', tags: [] } }).aggregateId).toBe('p');
  });
});

describe('immutability', () => {
  it('freezes the event and its nested payload objects and arrays', () => {
    const event = placed();
    expect(Object.isFrozen(event)).toBe(true);
    expect(Object.isFrozen(event.lines)).toBe(true);
    expect(Object.isFrozen(event.lines[0])).toBe(true);
    expect(Object.isFrozen(event.address)).toBe(true);
    expect(Object.isFrozen(event.address.tags)).toBe(true);
    expect(Object.isFrozen(event.metadata)).toBe(true);
    expect(() => {
      (event as unknown as { customerId: string }).customerId = 'other';
    }).toThrow(TypeError);
    expect(() => {
      (event.lines as Line[]).push({ sku: 'b', qty: 2 });
    }).toThrow(TypeError);
    expect(() => {
      (event.address as { city: string }).city = 'Bergen';
    }).toThrow(TypeError);
  });

  it('copies the caller objects, so changing them afterwards does not change the event', () => {
    const lines: Line[] = [{ sku: 'a', qty: 1 }];
    const address = { city: 'Oslo', tags: ['home'] };
    const metadata = { trace: { hops: 1 } };
    const occurredAt = new Date('2024-05-06T07:08:09.000Z');
    const event = placed({ lines, address, metadata, occurredAt });

    lines[0]!.qty = 99;
    lines.push({ sku: 'z', qty: 3 });
    address.city = 'Bergen';
    address.tags.push('work');
    metadata.trace.hops = 2;
    occurredAt.setFullYear(2000);

    expect(event.lines).toEqual([{ sku: 'a', qty: 1 }]);
    expect(event.address).toEqual({ city: 'Oslo', tags: ['home'] });
    expect(event.metadata).toEqual({ trace: { hops: 1 } });
    expect(event.occurredAt.toISOString()).toBe('2024-05-06T07:08:09.000Z');
    // The caller's own objects stay mutable.
    expect(Object.isFrozen(lines)).toBe(false);
    expect(Object.isFrozen(address)).toBe(false);
  });

  it('keeps already-frozen values and class instances as they are', () => {
    const shared = Object.freeze({ k: 1 });
    const map = new Map([['a', 1]]);
    const Holder = defineEvent('DefineEventTest.Holder', {
      aggregateType: 'H',
      payload: fields<{ shared: { k: number }; map: Map<string, number>; nothing: null }>(),
    });
    const event = new Holder({ aggregateId: 'h', shared, map, nothing: null });
    expect(event.shared).toBe(shared);
    expect(event.map).toBe(map);
    expect(event.nothing).toBeNull();
  });

  it('freezes objects with a null prototype too', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: { b: 1 } });
    const event = placed({ metadata: bare });
    expect(Object.isFrozen(event.metadata)).toBe(true);
    expect(Object.isFrozen(event.metadata.a)).toBe(true);
  });
});

describe('copies', () => {
  it('with() returns a changed copy that keeps eventId, leaving the original alone', () => {
    const original = placed({ aggregateVersion: 2 });
    const copy = original.with({ customerId: 'c-2' });
    expect(copy).not.toBe(original);
    expect(copy).toBeInstanceOf(OrderPlaced);
    expect(copy.eventId).toBe(original.eventId);
    expect(copy.customerId).toBe('c-2');
    expect(copy.aggregateVersion).toBe(2);
    expect(copy.occurredAt).toEqual(original.occurredAt);
    expect(original.customerId).toBe('c-1');
    expect(Object.isFrozen(copy)).toBe(true);
    expect(original.with({ eventId: 'other' }).eventId).toBe('other');
  });

  it('withCausation() links the copy to its cause: same eventId, causation and correlation from the cause', () => {
    const cause = placed({ correlationId: 'corr-root', tenantId: 'tenant-9' });
    const effect = placed();
    const linked = effect.withCausation(cause);
    expect(linked).not.toBe(effect);
    expect(linked.eventId).toBe(effect.eventId);
    expect(linked.causationId).toBe(cause.eventId);
    expect(linked.correlationId).toBe('corr-root');
    expect(linked.tenantId).toBe('tenant-9');
    expect(effect.causationId).toBeUndefined();
    expect(effect.correlationId).toBe(effect.eventId);
  });

  it('withCausation() keeps the copy\'s own tenant', () => {
    const cause = placed({ tenantId: 'cause-tenant' });
    expect(placed({ tenantId: 'own' }).withCausation(cause).tenantId).toBe('own');
  });

  it('the standalone withCausation() does the same', () => {
    const cause = placed();
    const linked = withCausation(placed(), cause);
    expect(linked.causationId).toBe(cause.eventId);
    expect(linked.correlationId).toBe(cause.correlationId);
  });

  it('withMetadata() merges over the existing metadata in a copy', () => {
    const original = placed({ metadata: { a: 1, b: 1 } });
    const copy = original.withMetadata({ b: 2, c: 3 });
    expect(copy.metadata).toEqual({ a: 1, b: 2, c: 3 });
    expect(copy.eventId).toBe(original.eventId);
    expect(original.metadata).toEqual({ a: 1, b: 1 });
  });
});

describe('wire form and helpers', () => {
  it('toJSON() gives every field with occurredAt as an ISO-8601 UTC string', () => {
    const event = placed({ occurredAt: new Date(Date.UTC(2024, 0, 1)), tenantId: 't' });
    expect(event.toJSON()).toEqual({
      eventId: event.eventId,
      eventType: 'DefineEventTest.OrderPlaced',
      eventVersion: 1,
      occurredAt: '2024-01-01T00:00:00.000Z',
      aggregateId: 'order-1',
      aggregateType: 'Order',
      aggregateVersion: 1,
      tenantId: 't',
      correlationId: event.eventId,
      metadata: {},
      customerId: 'c-1',
      lines: [{ sku: 'a', qty: 1 }],
      address: { city: 'Oslo', tags: ['home'] },
    });
  });

  it('payloadOf() returns only the payload fields', () => {
    expect(payloadOf(placed())).toEqual({
      customerId: 'c-1',
      lines: [{ sku: 'a', qty: 1 }],
      address: { city: 'Oslo', tags: ['home'] },
    });
  });

  it('isDomainEvent() tells events from look-alikes', () => {
    const event = placed();
    expect(isDomainEvent(event)).toBe(true);
    expect(isDomainEvent(event.toJSON())).toBe(false);
    expect(isDomainEvent(null)).toBe(false);
  });
});

describe('payload schemas in the constructor', () => {
  const Shipped = defineEvent('DefineEventTest.Shipped', {
    aggregateType: 'Order',
    payload: z.object({ carrier: z.string().min(1), shippedAt: z.coerce.date() }),
  });

  it('validates the payload and applies transforms', () => {
    const event = new Shipped({ aggregateId: 'o', carrier: 'UPS', shippedAt: new Date('2024-03-04T00:00:00Z') });
    expect(Shipped.payloadSchema).toBeDefined();
    expect(event.shippedAt).toBeInstanceOf(Date);
    const fromString = new Shipped({
      aggregateId: 'o',
      carrier: 'UPS',
      shippedAt: '2024-03-04T00:00:00Z' as unknown as Date,
    });
    expect(fromString.shippedAt).toEqual(new Date('2024-03-04T00:00:00Z'));
  });

  it('refuses an invalid payload, naming the field', () => {
    expect(() => new Shipped({ aggregateId: 'o', carrier: '', shippedAt: new Date() })).toThrow(
      /DefineEventTest\.Shipped payload is invalid: carrier:/,
    );
  });

  it('refuses a schema whose output is not an object', () => {
    const scalar: StandardSchemaV1<unknown, object> = {
      '~standard': { version: 1, vendor: 'test', validate: () => ({ value: 42 as unknown as object }) },
    };
    const Weird = defineEvent('DefineEventTest.Weird', { aggregateType: 'W', payload: scalar });
    expect(() => new Weird({ aggregateId: 'w' })).toThrow(/payload schema must produce an object/);
  });

  it('reports every issue with its path', () => {
    const picky: StandardSchemaV1<unknown, object> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: () => ({ issues: [{ message: 'bad', path: [{ key: 'lines' }, 0, 'sku'] }, { message: 'also wrong' }] }),
      },
    };
    const Picky = defineEvent('DefineEventTest.Picky', { aggregateType: 'P', payload: picky });
    expect(() => new Picky({ aggregateId: 'p' })).toThrow('DefineEventTest.Picky payload is invalid: lines.0.sku: bad; also wrong.');
  });

  it('leaves async schemas to the decoder (a constructor cannot await)', () => {
    const AsyncChecked = defineEvent('DefineEventTest.AsyncChecked', {
      aggregateType: 'A',
      payload: z.object({ code: z.string().refine(async (value) => value === 'ok') }),
    });
    expect(new AsyncChecked({ aggregateId: 'a', code: 'not-ok' }).code).toBe('not-ok');
  });
});
