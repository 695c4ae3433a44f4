import { EventRegistry, defineEvent, fields } from '@eventsource/core';

/** The test event type, in a module of its own so child processes import it without probing for a broker. */
export const registry = new EventRegistry();

export const OrderPlaced = defineEvent('KafkaTestOrderPlaced', {
  aggregateType: 'Order',
  payload: fields<{ n: number; note?: string }>(),
  registry,
});
export type OrderPlaced = InstanceType<typeof OrderPlaced>;

export function order(n: number, aggregate = `order-${n}`, version = 1, note?: string): OrderPlaced {
  return new OrderPlaced({ aggregateId: aggregate, aggregateVersion: version, n, ...(note === undefined ? {} : { note }) });
}
