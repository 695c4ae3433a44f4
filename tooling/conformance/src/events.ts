import { defineEvent, fields, type EventOf } from '@eventsource/core';

export interface OrderLine {
  sku: string;
  quantity: number;
  unitPrice: number;
}

// Type names are plain words: they become routing keys, topic names and stream fields on brokers.
const OrderPlaced = defineEvent('ConformanceOrderPlaced', {
  aggregateType: 'ConformanceOrder',
  payload: fields<{ customerId: string; total: number; lines: OrderLine[]; giftNote?: string | undefined }>(),
});
const OrderShipped = defineEvent('ConformanceOrderShipped', {
  aggregateType: 'ConformanceOrder',
  payload: fields<{ carrier: string }>(),
});
const OrderCancelled = defineEvent('ConformanceOrderCancelled', {
  aggregateType: 'ConformanceOrder',
  payload: fields<{ reason: string }>(),
});
const Ping = defineEvent('ConformancePing', {
  aggregateType: 'ConformanceProbe',
  payload: fields<{ seq: number; source: string }>(),
});
/** No scenario ever subscribes to this type. */
const Unheard = defineEvent('ConformanceUnheard', {
  aggregateType: 'ConformanceProbe',
  payload: fields<{ note: string }>(),
});

/** The event classes the suite publishes; transports' own tests may reuse them. */
export const ConformanceEvents = { OrderPlaced, OrderShipped, OrderCancelled, Ping, Unheard } as const;

export type OrderPlacedEvent = EventOf<typeof OrderPlaced>;
export type OrderShippedEvent = EventOf<typeof OrderShipped>;
export type OrderCancelledEvent = EventOf<typeof OrderCancelled>;
export type PingEvent = EventOf<typeof Ping>;
export type UnheardEvent = EventOf<typeof Unheard>;

/** A type name no registry in the suite knows: what another service might put on a shared stream. */
export const UNREGISTERED_EVENT_TYPE = 'ConformanceNeverRegistered';

let orderSeq = 0;

/** An OrderPlaced with a realistic payload; override any field. */
export function orderPlaced(overrides: Partial<ConstructorParameters<typeof OrderPlaced>[0]> = {}): OrderPlacedEvent {
  orderSeq++;
  return new OrderPlaced({
    aggregateId: `order-${orderSeq}`,
    customerId: `customer-${orderSeq}`,
    total: 42.5,
    lines: [{ sku: 'SKU-1', quantity: 2, unitPrice: 21.25 }],
    ...overrides,
  });
}

export function pings(count: number, source: string, aggregateId = `ping-${source}`): PingEvent[] {
  return Array.from({ length: count }, (_, seq) => new Ping({ aggregateId, seq, source }));
}
