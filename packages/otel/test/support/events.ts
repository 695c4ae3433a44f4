import { EventRegistry, defineEvent, fields } from '@eventsource/core';

export const registry = new EventRegistry();

export const OrderPlaced = defineEvent('OtelTestOrderPlaced', {
  aggregateType: 'Order',
  payload: fields<{ n: number }>(),
  registry,
});
export type OrderPlaced = InstanceType<typeof OrderPlaced>;

export function order(n: number): OrderPlaced {
  return new OrderPlaced({ aggregateId: `order-${n}`, aggregateVersion: 1, n });
}

export const InvoiceIssued = defineEvent('OtelTestInvoiceIssued', {
  aggregateType: 'Invoice',
  payload: fields<{ amount: bigint }>(),
  registry,
});

/** An event whose payload JSON cannot carry (a bigint): encoding it fails. */
export function unencodable(): InstanceType<typeof InvoiceIssued> {
  return new InvoiceIssued({ aggregateId: 'invoice-1', aggregateVersion: 1, amount: 10n });
}
