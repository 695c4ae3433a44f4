import { AggregateRoot, InvalidEventError, type DomainEvent } from '@eventsource/core';
import { OrderCreated, OrderShipped } from './events.js';

/** An event-sourced order: commands raise events; state changes only in apply(). */
export class OrderAggregate extends AggregateRoot {
  static override readonly aggregateType = 'Order';

  customerId: string | undefined;
  status: 'new' | 'created' | 'shipped' = 'new';

  create(customerId: string): void {
    if (this.status !== 'new') throw new InvalidEventError(`Order ${this.id} already exists.`);
    this.raise(OrderCreated, { customerId });
  }

  ship(carrier: string, trackingNumber: string): void {
    if (this.status !== 'created') throw new InvalidEventError(`Order ${this.id} cannot ship while ${this.status}.`);
    this.raise(OrderShipped, { carrier, trackingNumber });
  }

  protected apply(event: DomainEvent): void {
    if (event instanceof OrderCreated) {
      this.customerId = event.customerId;
      this.status = 'created';
    } else if (event instanceof OrderShipped) {
      this.status = 'shipped';
    }
  }
}
