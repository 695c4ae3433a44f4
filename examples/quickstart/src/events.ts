import { defineEvent, fields, type EventOf } from '@eventsource/core';
import { z } from 'zod';

// One declaration gives the class (for `new` and `subscribe`) and, with EventOf, the type.
export const OrderCreated = defineEvent('OrderCreated', {
  aggregateType: 'Order',
  payload: fields<{ customerId: string }>(),
});
export type OrderCreated = EventOf<typeof OrderCreated>;

export const OrderShipped = defineEvent('OrderShipped', {
  aggregateType: 'Order',
  payload: fields<{ carrier: string; trackingNumber: string }>(),
});
export type OrderShipped = EventOf<typeof OrderShipped>;

export const CustomerNotified = defineEvent('CustomerNotified', {
  aggregateType: 'Customer',
  payload: fields<{ channel: 'email' | 'sms' }>(),
});
export type CustomerNotified = EventOf<typeof CustomerNotified>;

// A Standard Schema payload (zod here): the type is inferred and every instance is validated,
// when constructed and again when decoded from a broker.
export const PaymentCaptured = defineEvent('PaymentCaptured', {
  aggregateType: 'Payment',
  payload: z.object({ amountCents: z.number().int().positive(), currency: z.string().length(3) }),
});
export type PaymentCaptured = EventOf<typeof PaymentCaptured>;
