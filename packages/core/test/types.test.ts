import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  EventRegistry,
  InMemoryEventBus,
  InvalidEventError,
  defineEvent,
  fields,
  silentLogger,
  type AnyEventClass,
  type DomainEvent,
  type EventOf,
  type PayloadFields,
  type PayloadOf,
} from '../src/index.js';
import type { ClashingPayloadField } from '../src/events/domain-event.js';

// These tests check types: the compiler (tsc -p packages/core) fails if an assertion, or an
// expected compile error below, stops holding. At run time they only have to not throw.

const OrderCreated = defineEvent('TypesTest.OrderCreated', {
  aggregateType: 'Order',
  payload: fields<{ customerId: string; total: number }>(),
});
type OrderCreated = EventOf<typeof OrderCreated>;

const OrderShipped = defineEvent('TypesTest.OrderShipped', {
  aggregateType: 'Order',
  payload: z.object({ carrier: z.string(), shippedAt: z.coerce.date() }),
});
type OrderShipped = EventOf<typeof OrderShipped>;

describe('types', () => {
  it('types subscribe() handlers from the event class, without casts', async () => {
    const bus = new InMemoryEventBus({ logger: silentLogger });
    const customers: string[] = [];
    bus.subscribe(OrderCreated, (e) => customers.push(e.customerId));
    bus.subscribe(OrderCreated, (e) => {
      expectTypeOf(e).toEqualTypeOf<OrderCreated>();
      expectTypeOf(e.customerId).toEqualTypeOf<string>();
      expectTypeOf(e.total).toEqualTypeOf<number>();
      expectTypeOf(e.eventType).toEqualTypeOf<'TypesTest.OrderCreated'>();
      // @ts-expect-error: not a field of OrderCreated
      void e.carrier;
    });
    bus.subscribe(OrderShipped, {
      handle(e) {
        expectTypeOf(e.shippedAt).toEqualTypeOf<Date>();
      },
    });
    bus.subscribeToAllEvents((e) => {
      expectTypeOf(e).toEqualTypeOf<DomainEvent>();
    });
    await bus.publish([new OrderCreated({ aggregateId: 'o', customerId: 'c', total: 1 })]);
    await bus.shutdown(100);
  });

  it('types constructors from the payload declaration', () => {
    const event = new OrderCreated({ aggregateId: 'o', customerId: 'c', total: 2 });
    expectTypeOf(event).toEqualTypeOf<OrderCreated>();
    expectTypeOf(event).toMatchTypeOf<DomainEvent>();
    expectTypeOf(event.occurredAt).toEqualTypeOf<Date>();
    expectTypeOf(event.with({ total: 3 })).toEqualTypeOf<OrderCreated>();
    expectTypeOf(event.withCausation(event)).toEqualTypeOf<OrderCreated>();
    expectTypeOf<PayloadOf<ReturnType<typeof fields<{ a: number }>>>>().toEqualTypeOf<{ a: number }>();

    // @ts-expect-error: customerId is required
    void (() => new OrderCreated({ aggregateId: 'o', total: 2 }));
    // @ts-expect-error: total must be a number
    void (() => new OrderCreated({ aggregateId: 'o', customerId: 'c', total: '2' }));
    // @ts-expect-error: aggregateId is required
    void (() => new OrderCreated({ customerId: 'c', total: 2 }));
    // @ts-expect-error: events are read-only
    void (() => ((event as OrderCreated).customerId = 'x'));
  });

  it('types a zod payload from its output', () => {
    expectTypeOf<OrderShipped['carrier']>().toEqualTypeOf<string>();
    expectTypeOf(OrderShipped.eventType).toEqualTypeOf<'TypesTest.OrderShipped'>();
  });

  // Fails on main before issue 8: these compiled, and the payload field became the envelope's field.
  it('refuses a payload that names a base field, at defineEvent', () => {
    const registry = new EventRegistry();
    // Run time: JavaScript callers get the same refusal where the schema exposes its keys.
    const refusedAtRunTime = (define: () => unknown) => expect(define).toThrow(InvalidEventError);
    void (() =>
      // @ts-expect-error: metadata is a base field of every event
      defineEvent('TypesTest.MetadataPayload', { payload: fields<{ metadata: { source: string } }>(), registry }));
    void (() =>
      // @ts-expect-error: eventId is a base field of every event
      defineEvent('TypesTest.EventIdPayload', { payload: fields<{ eventId: number; note: string }>(), registry }));
    void (() =>
      // @ts-expect-error: toJSON is a method of every event
      defineEvent('TypesTest.MethodPayload', { payload: fields<{ toJSON: string }>(), registry }));
    refusedAtRunTime(() =>
      // @ts-expect-error: correlationId is a base field of every event, in a schema too
      defineEvent('TypesTest.SchemaPayload', { payload: z.object({ correlationId: z.string() }), registry }),
    );
    expectTypeOf<ClashingPayloadField<PayloadFields<{ metadata: object; eventType: string; total: number }>>>().toEqualTypeOf<
      'metadata' | 'eventType'
    >();
    expectTypeOf<ClashingPayloadField<PayloadFields<{ total: number }>>>().toBeNever();
    // An open record names no field in particular, so it is allowed.
    expectTypeOf(defineEvent('TypesTest.OpenPayload', { payload: fields<Record<string, unknown>>(), registry })).toMatchTypeOf<
      AnyEventClass
    >();
  });

  it('refuses handlers for the wrong event at compile time', () => {
    const bus = new InMemoryEventBus({ logger: silentLogger });
    const onShipped = (e: OrderShipped) => e.carrier;
    // @ts-expect-error: an OrderShipped handler cannot handle OrderCreated
    void (() => bus.subscribe(OrderCreated, onShipped));
  });
});
