import { describe, expect, it } from 'vitest';
import { normalizeHandler, SubscriptionRegistry } from '../../src/transport.js';

const named = (name: string) => normalizeHandler(() => undefined, name);
const names = (list: readonly { name: string }[]) => list.map((h) => h.name);

describe('SubscriptionRegistry', () => {
  it('matches event types exactly', () => {
    const registry = new SubscriptionRegistry();
    registry.add('Order', named('order'));
    registry.add('OrderCreated', named('created'));
    expect(names(registry.handlersFor('OrderCreated'))).toEqual(['created']);
    expect(names(registry.handlersFor('Order'))).toEqual(['order']);
    expect(registry.handlersFor('ordercreated')).toHaveLength(0);
    expect(registry.hasHandlersFor('OrderCreated')).toBe(true);
    expect(registry.hasHandlersFor('OrderShipped')).toBe(false);
  });

  it('puts specific handlers, in subscription order, before wildcard ones', () => {
    const registry = new SubscriptionRegistry();
    registry.addWildcard(named('wild-1'));
    registry.add('A', named('a-1'));
    registry.addWildcard(named('wild-2'));
    registry.add('A', named('a-2'));
    expect(names(registry.handlersFor('A'))).toEqual(['a-1', 'a-2', 'wild-1', 'wild-2']);
    expect(names(registry.handlersFor('B'))).toEqual(['wild-1', 'wild-2']);
    expect(registry.hasHandlersFor('B')).toBe(true);
  });

  it('adds the same handler once per type', () => {
    const registry = new SubscriptionRegistry();
    const fn = () => undefined;
    expect(registry.add('A', normalizeHandler(fn))).toBe(true);
    expect(registry.add('A', normalizeHandler(fn, 'other name'))).toBe(false);
    expect(registry.add('B', normalizeHandler(fn))).toBe(true);
    expect(registry.addWildcard(normalizeHandler(fn))).toBe(true);
    expect(registry.addWildcard(normalizeHandler(fn))).toBe(false);
    expect(registry.count('A')).toBe(1);
    expect(registry.wildcardCount).toBe(1);
  });

  it('counts per type, in total (wildcards excluded), and wildcards apart', () => {
    const registry = new SubscriptionRegistry();
    registry.add('A', named('1'));
    registry.add('A', named('2'));
    registry.add('B', named('3'));
    registry.addWildcard(named('4'));
    expect(registry.count('A')).toBe(2);
    expect(registry.count('B')).toBe(1);
    expect(registry.count('C')).toBe(0);
    expect(registry.count()).toBe(3);
    expect(registry.wildcardCount).toBe(1);
    expect(registry.subscribedTypes()).toEqual(['A', 'B']);
  });

  it('removes by the original handler', () => {
    const registry = new SubscriptionRegistry();
    const fn = () => undefined;
    const other = () => undefined;
    registry.add('A', normalizeHandler(fn));
    registry.add('A', normalizeHandler(other));
    registry.addWildcard(normalizeHandler(fn));
    expect(registry.remove('A', fn)).toBe(true);
    expect(registry.remove('A', fn)).toBe(false);
    expect(registry.remove('Z', fn)).toBe(false);
    expect(registry.count('A')).toBe(1);
    expect(registry.remove('A', other)).toBe(true);
    expect(registry.subscribedTypes()).toEqual([]);
    expect(registry.removeWildcard(fn)).toBe(true);
    expect(registry.removeWildcard(fn)).toBe(false);
    expect(registry.handlersFor('A')).toHaveLength(0);
  });

  it('caches the handler list and recomputes it after every change', () => {
    const registry = new SubscriptionRegistry();
    registry.add('A', named('a'));
    const first = registry.handlersFor('A');
    expect(registry.handlersFor('A')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);

    registry.addWildcard(named('w'));
    const second = registry.handlersFor('A');
    expect(second).not.toBe(first);
    expect(names(second)).toEqual(['a', 'w']);
    expect(names(first)).toEqual(['a']);

    registry.clear();
    expect(registry.handlersFor('A')).toHaveLength(0);
    expect(registry.count()).toBe(0);
    expect(registry.wildcardCount).toBe(0);
  });
});
