import type { NormalizedHandler } from '../handlers/normalize.js';

const EMPTY: readonly NormalizedHandler[] = Object.freeze([]);

/**
 * Who handles which event type. Matching is by exact type name; the handler list for a type
 * (specific handlers in subscription order, then wildcard ones) is computed once and cached until
 * the subscriptions change, so dispatch does no allocation to find its handlers.
 */
export class SubscriptionRegistry {
  readonly #byType = new Map<string, NormalizedHandler[]>();
  #wildcard: NormalizedHandler[] = [];
  readonly #cache = new Map<string, readonly NormalizedHandler[]>();

  add(eventType: string, handler: NormalizedHandler): boolean {
    const list = this.#byType.get(eventType) ?? [];
    if (list.some((h) => h.original === handler.original)) return false;
    list.push(handler);
    this.#byType.set(eventType, list);
    this.#cache.clear();
    return true;
  }

  remove(eventType: string, original: unknown): boolean {
    const list = this.#byType.get(eventType);
    const index = list?.findIndex((h) => h.original === original) ?? -1;
    if (!list || index < 0) return false;
    list.splice(index, 1);
    if (list.length === 0) this.#byType.delete(eventType);
    this.#cache.clear();
    return true;
  }

  addWildcard(handler: NormalizedHandler): boolean {
    if (this.#wildcard.some((h) => h.original === handler.original)) return false;
    this.#wildcard = [...this.#wildcard, handler];
    this.#cache.clear();
    return true;
  }

  removeWildcard(original: unknown): boolean {
    const next = this.#wildcard.filter((h) => h.original !== original);
    if (next.length === this.#wildcard.length) return false;
    this.#wildcard = next;
    this.#cache.clear();
    return true;
  }

  clear(): void {
    this.#byType.clear();
    this.#wildcard = [];
    this.#cache.clear();
  }

  /** Specific handlers first, then wildcard handlers. */
  handlersFor(eventType: string): readonly NormalizedHandler[] {
    const cached = this.#cache.get(eventType);
    if (cached) return cached;
    const specific = this.#byType.get(eventType);
    const all = specific ? [...specific, ...this.#wildcard] : this.#wildcard.length ? [...this.#wildcard] : EMPTY;
    const frozen = Object.freeze(all);
    this.#cache.set(eventType, frozen);
    return frozen;
  }

  hasHandlersFor(eventType: string): boolean {
    return this.#wildcard.length > 0 || this.#byType.has(eventType);
  }

  /** Handlers for one type, or for all types (wildcards excluded). */
  count(eventType?: string): number {
    if (eventType !== undefined) return this.#byType.get(eventType)?.length ?? 0;
    let total = 0;
    for (const list of this.#byType.values()) total += list.length;
    return total;
  }

  get wildcardCount(): number {
    return this.#wildcard.length;
  }

  /** Event types with at least one specific handler. */
  subscribedTypes(): string[] {
    return [...this.#byType.keys()];
  }
}
