import { AggregateRoot, defineEvent, fields, type DomainEvent } from '../../src/index.js';

export const AccountOpened = defineEvent('AggregatesTest.AccountOpened', {
  aggregateType: 'Account',
  payload: fields<{ owner: string }>(),
});
export const MoneyDeposited = defineEvent('AggregatesTest.MoneyDeposited', {
  aggregateType: 'Account',
  payload: fields<{ amount: number }>(),
});

/** A small event-sourced aggregate: state changes only through apply(). */
export class Account extends AggregateRoot {
  static override readonly aggregateType = 'Account';
  owner: string | undefined;
  balance = 0;

  open(owner: string): void {
    this.raise(AccountOpened, { owner });
  }

  deposit(amount: number): void {
    this.raise(MoneyDeposited, { amount });
  }

  protected apply(event: DomainEvent): void {
    if (event instanceof AccountOpened) this.owner = event.owner;
    else if (event instanceof MoneyDeposited) this.balance += event.amount;
  }
}
