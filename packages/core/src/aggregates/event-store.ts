import { ConcurrencyError } from '../errors.js';
import type { DomainEvent } from '../events/domain-event.js';

/** Expected version for an aggregate that must not exist yet. */
export const NO_STREAM = 0;

export interface AppendResult {
  /** Version of the aggregate after the append. */
  readonly version: number;
}

/** The event store port. Implementations must make append atomic with its version check. */
export interface EventStore {
  /** Appends `events` if the stored version equals `expectedVersion`, else throws ConcurrencyError. */
  appendEvents(aggregateId: string, aggregateType: string, events: readonly DomainEvent[], expectedVersion: number): Promise<AppendResult>;
  /** Stored events of one aggregate, oldest first, from `fromVersion` (exclusive) on. */
  getEvents(aggregateId: string, aggregateType: string, fromVersion?: number): Promise<readonly DomainEvent[]>;
}

/** An event store in a Map, for tests and single-process apps. */
export class InMemoryEventStore implements EventStore {
  readonly #streams = new Map<string, DomainEvent[]>();

  async appendEvents(aggregateId: string, aggregateType: string, events: readonly DomainEvent[], expectedVersion: number): Promise<AppendResult> {
    const key = streamKey(aggregateType, aggregateId);
    const stream = this.#streams.get(key) ?? [];
    const current = stream.length === 0 ? 0 : stream[stream.length - 1]!.aggregateVersion;
    if (current !== expectedVersion) throw new ConcurrencyError(aggregateId, expectedVersion, current);
    this.#streams.set(key, [...stream, ...events]);
    return { version: events.length === 0 ? current : events[events.length - 1]!.aggregateVersion };
  }

  async getEvents(aggregateId: string, aggregateType: string, fromVersion = 0): Promise<readonly DomainEvent[]> {
    const stream = this.#streams.get(streamKey(aggregateType, aggregateId)) ?? [];
    return fromVersion === 0 ? [...stream] : stream.filter((event) => event.aggregateVersion > fromVersion);
  }

  /** Every stored event, in append order per aggregate (for tests and projections rebuilds). */
  getAllEvents(): DomainEvent[] {
    return [...this.#streams.values()].flat();
  }
}

function streamKey(aggregateType: string, aggregateId: string): string {
  return `${aggregateType}\u0000${aggregateId}`;
}
