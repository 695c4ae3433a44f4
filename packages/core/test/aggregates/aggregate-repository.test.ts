import { describe, expect, it } from 'vitest';
import {
  AggregateNotFoundError,
  AggregateRepository,
  ConcurrencyError,
  InMemoryEventBus,
  InMemoryEventStore,
  PublishError,
  silentLogger,
  type DomainEvent,
  type EventPublisher,
} from '../../src/index.js';
import { Account } from './fixtures.js';

function setup(eventPublisher?: EventPublisher) {
  const eventStore = new InMemoryEventStore();
  const repository = new AggregateRepository({ eventStore, aggregateFactory: Account, aggregateType: 'Account', eventPublisher });
  return { eventStore, repository };
}

describe('AggregateRepository', () => {
  it('createNew() gives a fresh aggregate and stores nothing', async () => {
    const { repository, eventStore } = setup();
    const account = repository.createNew('acc-1');
    expect(account).toBeInstanceOf(Account);
    expect(account.id).toBe('acc-1');
    expect(account.version).toBe(0);
    expect(repository.aggregateType).toBe('Account');
    expect(eventStore.getAllEvents()).toEqual([]);
    expect(await repository.exists('acc-1')).toBe(false);
  });

  it('save() stores the new events, then publishes them in order', async () => {
    const bus = new InMemoryEventBus({ logger: silentLogger });
    const published: string[] = [];
    bus.subscribeToAllEvents((event: DomainEvent) => {
      published.push(`${event.eventType}@${event.aggregateVersion}`);
    });
    const { repository, eventStore } = setup(bus);
    const account = repository.createNew('acc-1');
    account.open('ada');
    account.deposit(10);
    account.deposit(20);
    await repository.save(account);

    expect(published).toEqual([
      'AggregatesTest.AccountOpened@1',
      'AggregatesTest.MoneyDeposited@2',
      'AggregatesTest.MoneyDeposited@3',
    ]);
    expect((await eventStore.getEvents('acc-1', 'Account')).map((e) => e.aggregateVersion)).toEqual([1, 2, 3]);
    expect(account.uncommittedEvents).toEqual([]);
    expect(account.committedVersion).toBe(3);
    expect(await repository.exists('acc-1')).toBe(true);
    await bus.shutdown(100);
  });

  it('save() does nothing when there is nothing new', async () => {
    const calls: unknown[] = [];
    const { repository, eventStore } = setup({ publish: async (events) => void calls.push(events) });
    await repository.save(repository.createNew('acc-1'));
    expect(calls).toEqual([]);
    expect(eventStore.getAllEvents()).toEqual([]);
  });

  it('load() rebuilds an aggregate from its events, and later saves append after them', async () => {
    const { repository, eventStore } = setup();
    const account = repository.createNew('acc-1');
    account.open('ada');
    account.deposit(10);
    await repository.save(account);

    const loaded = await repository.load('acc-1');
    expect(loaded).toMatchObject({ owner: 'ada', balance: 10, version: 2, committedVersion: 2 });
    expect(loaded.uncommittedEvents).toEqual([]);
    loaded.deposit(5);
    await repository.save(loaded);
    expect((await repository.load('acc-1')).balance).toBe(15);
    expect(eventStore.getAllEvents()).toHaveLength(3);
  });

  it('load() of an unknown id throws AggregateNotFoundError saying what to do', async () => {
    const { repository } = setup();
    const error = await repository.load('nope').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AggregateNotFoundError);
    expect(error).toMatchObject({ code: 'ES_AGGREGATE_NOT_FOUND', aggregateType: 'Account', aggregateId: 'nope' });
    expect((error as Error).message).toBe(
      'Account nope has no events. Use repository.createNew(id) for a new aggregate, or check the id.',
    );
  });

  it('save() of a stale copy throws ConcurrencyError and publishes nothing', async () => {
    const published: DomainEvent[] = [];
    const { repository, eventStore } = setup({ publish: async (events) => void published.push(...events) });
    const account = repository.createNew('acc-1');
    account.open('ada');
    await repository.save(account);
    published.length = 0;

    const first = await repository.load('acc-1');
    const second = await repository.load('acc-1');
    first.deposit(1);
    second.deposit(2);
    await repository.save(first);
    await expect(repository.save(second)).rejects.toThrow(ConcurrencyError);
    expect(published.map((e) => (e as DomainEvent & { amount: number }).amount)).toEqual([1]);
    expect(eventStore.getAllEvents()).toHaveLength(2);
    expect(second.uncommittedEvents).toHaveLength(1);
  });

  it('save() throws PublishError when publishing fails, and the events stay stored', async () => {
    const failure = new Error('broker down');
    const { repository, eventStore } = setup({ publish: async () => Promise.reject(failure) });
    const account = repository.createNew('acc-1');
    account.open('ada');
    account.deposit(3);

    const error = await repository.save(account).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PublishError);
    expect(error).toMatchObject({ code: 'ES_PUBLISH_FAILED', cause: failure });
    expect((error as Error).message).toBe(
      '2 event(s) of Account acc-1 were stored but publishing failed: broker down. ' +
        'Republish them from the event store once the bus is healthy.',
    );
    expect(await eventStore.getEvents('acc-1', 'Account')).toHaveLength(2);
    expect(account.uncommittedEvents).toEqual([]);
  });

  it('reports a non-Error publish failure too', async () => {
    const { repository } = setup({ publish: async () => Promise.reject('nope') });
    const account = repository.createNew('acc-1');
    account.open('x');
    await expect(repository.save(account)).rejects.toThrow(/publishing failed: nope\./);
  });

  it('works without a publisher', async () => {
    const { repository, eventStore } = setup();
    const account = repository.createNew('acc-1');
    account.open('ada');
    await repository.save(account);
    expect(eventStore.getAllEvents()).toHaveLength(1);
  });
});
