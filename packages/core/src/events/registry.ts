import { DuplicateEventTypeError, UnknownEventTypeError } from '../errors.js';
import type { AnyEventClass } from './domain-event.js';

interface Entry {
  readonly cls: AnyEventClass;
  readonly definedAt: string;
}

/**
 * Maps event type names to classes. Decoding resolves types only through a registry, so a message
 * can never make us construct something that was not declared as an event.
 */
export class EventRegistry {
  readonly #entries = new Map<string, Entry>();

  /**
   * Registers a class under its `eventType`. Registering the same name again from the same source
   * location replaces the entry (a module reloaded by a dev server); from anywhere else it throws.
   */
  register(cls: AnyEventClass, definedAt = 'unknown location'): void {
    const name = cls.eventType;
    const existing = this.#entries.get(name);
    if (existing && existing.cls !== cls && existing.definedAt !== definedAt) {
      throw new DuplicateEventTypeError(
        name,
        `${existing.cls.name} (defined at ${existing.definedAt})`,
        `${cls.name} (defined at ${definedAt})`,
      );
    }
    this.#entries.set(name, { cls, definedAt });
  }

  /** The class registered under `eventType`; throws an error listing the known names if none. */
  get(eventType: string): AnyEventClass {
    const entry = this.#entries.get(eventType);
    if (!entry) throw new UnknownEventTypeError(eventType, this.names());
    return entry.cls;
  }

  tryGet(eventType: string): AnyEventClass | undefined {
    return this.#entries.get(eventType)?.cls;
  }

  has(eventType: string): boolean {
    return this.#entries.has(eventType);
  }

  unregister(eventType: string): boolean {
    return this.#entries.delete(eventType);
  }

  names(): string[] {
    return [...this.#entries.keys()].sort();
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** The registry `defineEvent` uses unless you pass another. */
export const defaultRegistry = new EventRegistry();
