import { describe, expect, it } from 'vitest';
import { AggregateRoot, InvalidEventError, type DomainEvent } from '../../src/index.js';
import { Account, AccountOpened, MoneyDeposited } from './fixtures.js';

describe('AggregateRoot', () => {
  it('starts empty at version 0', () => {
    const account = new Account('acc-1');
    expect(account.id).toBe('acc-1');
    expect(account.version).toBe(0);
    expect(account.committedVersion).toBe(0);
    expect(account.uncommittedEvents).toEqual([]);
    expect(account.aggregateType).toBe('Account');
  });

  it('refuses an empty id', () => {
    expect(() => new Account('')).toThrow('Account needs a non-empty string id.');
  });

  it('raise() builds the next event for this aggregate, applies it and queues it', () => {
    const account = new Account('acc-1');
    account.open('ada');
    account.deposit(30);
    expect(account.owner).toBe('ada');
    expect(account.balance).toBe(30);
    expect(account.version).toBe(2);
    expect(account.committedVersion).toBe(0);
    const [opened, deposited] = account.uncommittedEvents;
    expect(opened).toBeInstanceOf(AccountOpened);
    expect(deposited).toBeInstanceOf(MoneyDeposited);
    expect(opened).toMatchObject({ aggregateId: 'acc-1', aggregateType: 'Account', aggregateVersion: 1, owner: 'ada' });
    expect(deposited).toMatchObject({ aggregateId: 'acc-1', aggregateVersion: 2, amount: 30 });
  });

  it('markEventsAsCommitted() empties the queue and moves the committed version', () => {
    const account = new Account('acc-1');
    account.open('ada');
    account.markEventsAsCommitted();
    expect(account.uncommittedEvents).toEqual([]);
    expect(account.committedVersion).toBe(1);
    account.deposit(5);
    expect(account.committedVersion).toBe(1);
    expect(account.uncommittedEvents).toHaveLength(1);
  });

  it('loadFromHistory() rebuilds state without queueing anything', () => {
    const history = [
      new AccountOpened({ aggregateId: 'acc-1', aggregateVersion: 1, owner: 'bob' }),
      new MoneyDeposited({ aggregateId: 'acc-1', aggregateVersion: 2, amount: 7 }),
      new MoneyDeposited({ aggregateId: 'acc-1', aggregateVersion: 3, amount: 8 }),
    ];
    const account = new Account('acc-1');
    account.loadFromHistory(history);
    expect(account).toMatchObject({ owner: 'bob', balance: 15, version: 3, committedVersion: 3 });
    expect(account.uncommittedEvents).toEqual([]);
  });

  it('applyEvent() refuses an event of another aggregate', () => {
    const account = new Account('acc-1');
    const foreign = new AccountOpened({ aggregateId: 'acc-2', aggregateVersion: 1, owner: 'x' });
    expect(() => account.applyEvent(foreign)).toThrow(InvalidEventError);
    expect(() => account.applyEvent(foreign)).toThrow('AggregatesTest.AccountOpened belongs to aggregate acc-2, not acc-1.');
    expect(account.version).toBe(0);
  });

  it.each([[0], [2], [5]])('applyEvent() refuses version %s where 1 is next', (aggregateVersion) => {
    const account = new Account('acc-1');
    const event = new AccountOpened({ aggregateId: 'acc-1', aggregateVersion, owner: 'x' });
    expect(() => account.applyEvent(event)).toThrow(
      `AggregatesTest.AccountOpened has aggregateVersion ${aggregateVersion}; Account acc-1 expects 1.`,
    );
    expect(account.owner).toBeUndefined();
  });

  it('applyEvent() queues new events by default and not when told they are old', () => {
    const account = new Account('acc-1');
    account.applyEvent(new AccountOpened({ aggregateId: 'acc-1', aggregateVersion: 1, owner: 'x' }));
    account.applyEvent(new MoneyDeposited({ aggregateId: 'acc-1', aggregateVersion: 2, amount: 1 }), false);
    expect(account.uncommittedEvents).toHaveLength(1);
    expect(account.version).toBe(2);
  });

  it('falls back to the class name as aggregate type', () => {
    class Ledger extends AggregateRoot {
      protected apply(_event: DomainEvent): void {}
    }
    expect(new Ledger('l-1').aggregateType).toBe('Ledger');
  });
});
