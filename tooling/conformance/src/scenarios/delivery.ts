import { expect } from 'vitest';
import type { DomainEvent } from '@eventsource/core';
import { ConformanceEvents, orderPlaced, type OrderPlacedEvent } from '../events.js';
import { Recorder, type Scenario } from '../scenario.js';

const { OrderPlaced, OrderShipped, OrderCancelled } = ConformanceEvents;

export const deliveryScenarios: readonly Scenario[] = [
  {
    area: 'delivery',
    title: 'delivers the payload and every base field intact',
    async run(env) {
      const received = new Recorder<OrderPlacedEvent>();
      const { bus } = await env.startBus((b) => b.subscribe(OrderPlaced, received.handle));
      const sent = new OrderPlaced({
        aggregateId: env.uniqueId('order'),
        aggregateVersion: 7,
        occurredAt: new Date('2024-02-29T12:34:56.789Z'),
        tenantId: 'tenant-42',
        correlationId: 'correlation-abc',
        causationId: 'causation-xyz',
        metadata: { source: { system: 'conformance', tags: ['a', 'b'] }, retries: 0, flagged: true, nothing: null },
        customerId: 'customer-7',
        total: 99.95,
        lines: [
          { sku: 'SKU-1', quantity: 1, unitPrice: 49.95 },
          { sku: 'SKU-2', quantity: 2, unitPrice: 25 },
        ],
      });
      await bus.publish([sent]);

      await env.eventually(() => expect(received.events).toHaveLength(1));
      const got = received.events[0]!;
      expect(got).toBeInstanceOf(OrderPlaced);
      expect(got.eventId).toBe(sent.eventId);
      expect(got.eventType).toBe('ConformanceOrderPlaced');
      expect(got.eventVersion).toBe(1);
      expect(got.occurredAt).toBeInstanceOf(Date);
      expect(got.occurredAt.getTime()).toBe(sent.occurredAt.getTime());
      expect(got.aggregateId).toBe(sent.aggregateId);
      expect(got.aggregateType).toBe('ConformanceOrder');
      expect(got.aggregateVersion).toBe(7);
      expect(got.tenantId).toBe('tenant-42');
      expect(got.correlationId).toBe('correlation-abc');
      expect(got.causationId).toBe('causation-xyz');
      expect(got.metadata).toEqual({ source: { system: 'conformance', tags: ['a', 'b'] }, retries: 0, flagged: true, nothing: null });
      expect(got.customerId).toBe('customer-7');
      expect(got.total).toBe(99.95);
      expect(got.lines).toEqual(sent.lines);
    },
  },
  {
    area: 'delivery',
    title: 'payload text and numbers of every kind survive unchanged',
    async run(env) {
      const received = new Recorder<OrderPlacedEvent>();
      const { bus } = await env.startBus((b) => b.subscribe(OrderPlaced, received.handle));
      const tricky = orderPlaced({
        aggregateId: env.uniqueId('order'),
        customerId: 'Zoë 🚀 日本語 \u0000 end',
        giftNote: 'She said "hi"\n\ttab \\ backslash </script> \u2028',
        total: -0.000123,
        lines: [
          { sku: '', quantity: 0, unitPrice: Number.MAX_SAFE_INTEGER },
          { sku: 'x'.repeat(2000), quantity: -1, unitPrice: 1e-9 },
        ],
      });
      // Events with no optional fields set must not gain any in transit.
      const plain = orderPlaced({ aggregateId: env.uniqueId('order') });
      await bus.publish([tricky, plain]);

      await env.eventually(() => expect(received.events).toHaveLength(2));
      const byId = new Map(received.events.map((e) => [e.eventId, e]));
      const gotTricky = byId.get(tricky.eventId)!;
      expect(gotTricky.customerId).toBe(tricky.customerId);
      expect(gotTricky.giftNote).toBe(tricky.giftNote);
      expect(gotTricky.total).toBe(tricky.total);
      expect(gotTricky.lines).toEqual(tricky.lines);
      const gotPlain = byId.get(plain.eventId)!;
      expect(gotPlain.tenantId).toBeUndefined();
      expect(gotPlain.causationId).toBeUndefined();
      expect(gotPlain.giftNote).toBeUndefined();
      expect(gotPlain.correlationId).toBe(plain.eventId);
      expect(gotPlain.metadata).toEqual({});
    },
  },
  {
    area: 'delivery',
    title: 'one publish call with several types routes each event to its own handlers',
    async run(env) {
      const placed = new Recorder();
      const shipped = new Recorder();
      const cancelled = new Recorder();
      const { bus } = await env.startBus((b) => {
        b.subscribe(OrderPlaced, placed.handle);
        b.subscribe(OrderShipped, shipped.handle);
        b.subscribe(OrderCancelled, cancelled.handle);
      });
      const aggregateId = env.uniqueId('order');
      const events: DomainEvent[] = [
        orderPlaced({ aggregateId }),
        new OrderShipped({ aggregateId, aggregateVersion: 2, carrier: 'DHL' }),
        new OrderCancelled({ aggregateId, aggregateVersion: 3, reason: 'changed mind' }),
        new OrderShipped({ aggregateId, aggregateVersion: 4, carrier: 'UPS' }),
      ];
      await bus.publish(events);

      await env.eventually(() => {
        expect(placed.ids).toEqual([events[0]!.eventId]);
        expect(new Set(shipped.ids)).toEqual(new Set([events[1]!.eventId, events[3]!.eventId]));
        expect(shipped.events).toHaveLength(2);
        expect(cancelled.ids).toEqual([events[2]!.eventId]);
      });
    },
  },
  {
    area: 'subscriptions',
    title: 'a typed subscription receives only its own type',
    async run(env) {
      const shippedOnly = new Recorder();
      const everything = new Recorder();
      const { bus } = await env.startBus((b) => {
        b.subscribe(OrderShipped, shippedOnly.handle);
        // Same bus, same messages: once the wildcard has seen an event, the typed handler has had its chance too.
        b.subscribeToAllEvents(everything.handle);
      });
      const aggregateId = env.uniqueId('order');
      const placed = orderPlaced({ aggregateId });
      const shipped = new OrderShipped({ aggregateId, aggregateVersion: 2, carrier: 'DHL' });
      const cancelled = new OrderCancelled({ aggregateId, aggregateVersion: 3, reason: 'lost' });
      await bus.publish([placed, shipped, cancelled]);

      await env.eventually(() => expect(everything.distinct()).toEqual(new Set([placed.eventId, shipped.eventId, cancelled.eventId])));
      expect(shippedOnly.ids).toEqual([shipped.eventId]);
      expect(shippedOnly.events[0]).toBeInstanceOf(OrderShipped);
    },
  },
  {
    area: 'subscriptions',
    title: 'subscribeAll() delivers exactly the types subscribedTo() names, and its unsubscribe removes them all',
    async run(env) {
      const seen: DomainEvent[] = [];
      const projection = {
        subscribedTo: () => [OrderPlaced, OrderShipped],
        handle(event: DomainEvent) {
          seen.push(event);
        },
      };
      const witness = new Recorder();
      let unsubscribe!: () => boolean;
      const { bus } = await env.startBus((b) => {
        unsubscribe = b.subscribeAll(projection);
        b.subscribeToAllEvents(witness.handle);
      });
      expect(bus.getSubscriberCount(OrderPlaced)).toBe(1);
      expect(bus.getSubscriberCount(OrderShipped)).toBe(1);
      expect(bus.getSubscriberCount(OrderCancelled)).toBe(0);

      const aggregateId = env.uniqueId('order');
      const placed = orderPlaced({ aggregateId });
      const cancelled = new OrderCancelled({ aggregateId, aggregateVersion: 2, reason: 'duplicate' });
      const shipped = new OrderShipped({ aggregateId, aggregateVersion: 3, carrier: 'DHL' });
      await bus.publish([placed, cancelled, shipped]);

      await env.eventually(() => expect(witness.events).toHaveLength(3));
      expect(new Set(seen.map((e) => e.eventId))).toEqual(new Set([placed.eventId, shipped.eventId]));
      expect(seen).toHaveLength(2);

      expect(unsubscribe()).toBe(true);
      expect(unsubscribe()).toBe(false);
      expect(bus.getSubscriberCount(OrderPlaced)).toBe(0);
      expect(bus.getSubscriberCount(OrderShipped)).toBe(0);
      const later = orderPlaced({ aggregateId, aggregateVersion: 4 });
      await bus.publish([later]);
      await env.eventually(() => expect(witness.ids).toContain(later.eventId));
      expect(seen).toHaveLength(2);
    },
  },
  {
    area: 'subscriptions',
    title: 'subscribeToAllEvents() receives every type, including types nobody else handles',
    async run(env) {
      const all = new Recorder();
      const { bus } = await env.startBus((b) => b.subscribeToAllEvents(all.handle));
      const aggregateId = env.uniqueId('order');
      const events: DomainEvent[] = [
        orderPlaced({ aggregateId }),
        new OrderShipped({ aggregateId, aggregateVersion: 2, carrier: 'DHL' }),
        new OrderCancelled({ aggregateId, aggregateVersion: 3, reason: 'late' }),
        new ConformanceEvents.Ping({ aggregateId: env.uniqueId('probe'), seq: 1, source: 'wildcard' }),
      ];
      await bus.publish(events);

      await env.eventually(() => expect(all.events).toHaveLength(4));
      expect(all.distinct()).toEqual(new Set(events.map((e) => e.eventId)));
      expect(new Set(all.events.map((e) => e.eventType))).toEqual(
        new Set(['ConformanceOrderPlaced', 'ConformanceOrderShipped', 'ConformanceOrderCancelled', 'ConformancePing']),
      );
    },
  },
  {
    area: 'subscriptions',
    title: 'type-specific handlers start before wildcard handlers, whatever the subscription order',
    async run(env) {
      const log: string[] = [];
      const { bus } = await env.startBus((b) => {
        b.subscribeToAllEvents((event) => {
          log.push(`wildcard:${event.eventId}`);
        });
        b.subscribe(OrderPlaced, (event) => {
          log.push(`specific:${event.eventId}`);
        });
      });
      const events = [orderPlaced({ aggregateId: env.uniqueId('order') }), orderPlaced({ aggregateId: env.uniqueId('order') })];
      await bus.publish(events);

      await env.eventually(() => expect(log).toHaveLength(4));
      for (const event of events) {
        const specific = log.indexOf(`specific:${event.eventId}`);
        const wildcard = log.indexOf(`wildcard:${event.eventId}`);
        expect(specific).toBeGreaterThanOrEqual(0);
        expect(specific).toBeLessThan(wildcard);
      }
    },
  },
  {
    area: 'subscriptions',
    title: 'several handlers per event: functions, objects with handle(), sync and async, each called once',
    async run(env) {
      const calls = new Map<string, string[]>();
      const record = (name: string, event: DomainEvent): void => {
        calls.set(name, [...(calls.get(name) ?? []), event.eventId]);
      };
      function syncFunction(event: OrderPlacedEvent): void {
        record('syncFunction', event);
      }
      const asyncArrow = async (event: OrderPlacedEvent): Promise<void> => {
        await new Promise((resolve) => setImmediate(resolve));
        record('asyncArrow', event);
      };
      const plainObject = {
        handle(event: OrderPlacedEvent) {
          record('plainObject', event);
        },
      };
      class AsyncService {
        readonly label = 'asyncService';
        async handle(event: OrderPlacedEvent): Promise<void> {
          await Promise.resolve();
          // `this` must be the instance: object handlers are called as methods.
          record(this.label, event);
        }
      }
      const { bus } = await env.startBus((b) => {
        b.subscribe(OrderPlaced, syncFunction);
        b.subscribe(OrderPlaced, asyncArrow);
        b.subscribe(OrderPlaced, plainObject);
        b.subscribe(OrderPlaced, new AsyncService());
      });
      expect(bus.getSubscriberCount(OrderPlaced)).toBe(4);
      const events = [orderPlaced({ aggregateId: env.uniqueId('order') }), orderPlaced({ aggregateId: env.uniqueId('order') })];
      await bus.publish(events);

      const expected = events.map((e) => e.eventId).sort();
      await env.eventually(() => {
        for (const name of ['syncFunction', 'asyncArrow', 'plainObject', 'asyncService']) {
          expect([...(calls.get(name) ?? [])].sort(), name).toEqual(expected);
        }
      });
    },
  },
];
