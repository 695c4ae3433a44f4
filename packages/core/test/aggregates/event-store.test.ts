import { describe, expect, it } from 'vitest';
import { ConcurrencyError, InMemoryEventStore, NO_STREAM } from '../../src/index.js';
import { AccountOpened, MoneyDeposited } from './fixtures.js';

const opened = (id = 'acc-1') => new AccountOpened({ aggregateId: id, aggregateVersion: 1, owner: 'ada' });
const deposited = (version: number, id = 'acc-1') => new MoneyDeposited({ aggregateId: id, aggregateVersion: version, amount: version });

describe('InMemoryEventStore', () => {
  it('appends to a new stream and reads it back in order', async () => {
    const store = new InMemoryEventStore();
    const events = [opened(), deposited(2)];
    expect(NO_STREAM).toBe(0);
    expect(await store.appendEvents('acc-1', 'Account', events, NO_STREAM)).toEqual({ version: 2 });
    expect(await store.getEvents('acc-1', 'Account')).toEqual(events);
    expect(await store.getEvents('acc-1', 'Account', 1)).toEqual([events[1]]);
    expect(await store.getEvents('missing', 'Account')).toEqual([]);
  });

  it('keeps aggregates of different types apart', async () => {
    const store = new InMemoryEventStore();
    await store.appendEvents('same-id', 'Account', [opened('same-id')], NO_STREAM);
    expect(await store.getEvents('same-id', 'Customer')).toEqual([]);
    await store.appendEvents('same-id', 'Customer', [opened('same-id')], NO_STREAM);
    expect(store.getAllEvents()).toHaveLength(2);
  });

  it('refuses an append whose expected version is stale', async () => {
    const store = new InMemoryEventStore();
    await store.appendEvents('acc-1', 'Account', [opened()], NO_STREAM);
    let error: unknown;
    try {
      await store.appendEvents('acc-1', 'Account', [deposited(2)], NO_STREAM);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConcurrencyError);
    const concurrency = error as ConcurrencyError;
    expect(concurrency).toMatchObject({ code: 'ES_CONCURRENCY', aggregateId: 'acc-1', expectedVersion: 0, actualVersion: 1 });
    expect(concurrency.message).toContain('Reload the aggregate and apply the command again.');
    expect(await store.getEvents('acc-1', 'Account')).toHaveLength(1);
  });

  it('lets exactly one of two concurrent appends at the same version win', async () => {
    const store = new InMemoryEventStore();
    await store.appendEvents('acc-1', 'Account', [opened()], NO_STREAM);
    const results = await Promise.allSettled([
      store.appendEvents('acc-1', 'Account', [deposited(2)], 1),
      store.appendEvents('acc-1', 'Account', [deposited(2)], 1),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(ConcurrencyError);
    expect(await store.getEvents('acc-1', 'Account')).toHaveLength(2);
  });

  it('returns the current version for an empty append', async () => {
    const store = new InMemoryEventStore();
    await store.appendEvents('acc-1', 'Account', [opened()], NO_STREAM);
    expect(await store.appendEvents('acc-1', 'Account', [], 1)).toEqual({ version: 1 });
  });
});
