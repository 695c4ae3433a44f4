import { InvalidEventError } from '../errors.js';
import type { DomainEvent, EventClass, EventInit, Event } from '../events/domain-event.js';

/**
 * Base class of event-sourced aggregates. State changes only by applying events: `raise()` creates
 * a new event (filling in id, type and version), applies it and queues it for the repository to
 * store and publish; `loadFromHistory()` rebuilds state from stored events.
 */
export abstract class AggregateRoot {
  /** The aggregate type name stored with every event, e.g. "Order". */
  static readonly aggregateType: string | undefined = undefined;

  readonly id: string;
  #version = 0;
  #uncommitted: DomainEvent[] = [];

  constructor(id: string) {
    if (typeof id !== 'string' || id.length === 0) {
      throw new InvalidEventError(`${new.target.name} needs a non-empty string id.`);
    }
    this.id = id;
  }

  /** Changes state for one event. Must not throw for events that were already stored. */
  protected abstract apply(event: DomainEvent): void;

  /** Version of the last applied event (0 for a new aggregate). */
  get version(): number {
    return this.#version;
  }

  get aggregateType(): string {
    const type = (this.constructor as typeof AggregateRoot).aggregateType;
    return type ?? this.constructor.name;
  }

  /** Events applied since the last save, in order. */
  get uncommittedEvents(): readonly DomainEvent[] {
    return this.#uncommitted;
  }

  /** Version the store must hold for this aggregate's pending events to be appended. */
  get committedVersion(): number {
    return this.#version - this.#uncommitted.length;
  }

  /** Creates an event of `type` for this aggregate at the next version, applies it and queues it. */
  protected raise<T extends string, P extends object>(
    type: EventClass<T, P>,
    fields: Omit<EventInit<P>, 'aggregateId' | 'aggregateType' | 'aggregateVersion'>,
  ): Event<T, P> {
    const init = {
      ...fields,
      aggregateId: this.id,
      aggregateType: this.aggregateType,
      aggregateVersion: this.#version + 1,
    } as EventInit<P>;
    const event = new type(init);
    this.applyEvent(event, true);
    return event;
  }

  /** Applies an event; `isNew` queues it for saving. The event's version must be the next one. */
  applyEvent(event: DomainEvent, isNew = true): void {
    if (event.aggregateId !== this.id) {
      throw new InvalidEventError(`${event.eventType} belongs to aggregate ${event.aggregateId}, not ${this.id}.`);
    }
    if (event.aggregateVersion !== this.#version + 1) {
      throw new InvalidEventError(
        `${event.eventType} has aggregateVersion ${event.aggregateVersion}; ${this.aggregateType} ${this.id} expects ${this.#version + 1}.`,
      );
    }
    this.apply(event);
    this.#version = event.aggregateVersion;
    if (isNew) this.#uncommitted.push(event);
  }

  loadFromHistory(events: Iterable<DomainEvent>): void {
    for (const event of events) this.applyEvent(event, false);
  }

  markEventsAsCommitted(): void {
    this.#uncommitted = [];
  }
}
