import { AggregateNotFoundError, PublishError } from '../errors.js';
import type { EventPublisher } from '../bus/event-bus.js';
import type { AggregateRoot } from './aggregate-root.js';
import type { EventStore } from './event-store.js';

export interface AggregateRepositoryOptions<A extends AggregateRoot> {
  readonly eventStore: EventStore;
  /** The aggregate class; constructed with the aggregate id. */
  readonly aggregateFactory: new (id: string) => A;
  readonly aggregateType: string;
  /** Where saved events are published, in order, after they are stored. Optional. */
  readonly eventPublisher?: EventPublisher | undefined;
}

/**
 * Loads aggregates from their events and saves new events with an optimistic-concurrency check,
 * then publishes them. Events are stored before they are published: a publish failure leaves them
 * stored (and throws PublishError saying so), never published-but-unstored.
 */
export class AggregateRepository<A extends AggregateRoot> {
  readonly #options: AggregateRepositoryOptions<A>;

  constructor(options: AggregateRepositoryOptions<A>) {
    this.#options = options;
  }

  get aggregateType(): string {
    return this.#options.aggregateType;
  }

  /** A fresh aggregate with no history (nothing is stored until save). */
  createNew(id: string): A {
    return new this.#options.aggregateFactory(id);
  }

  /** Rebuilds an aggregate from its events; throws AggregateNotFoundError when it has none. */
  async load(id: string): Promise<A> {
    const events = await this.#options.eventStore.getEvents(id, this.#options.aggregateType);
    if (events.length === 0) throw new AggregateNotFoundError(this.#options.aggregateType, id);
    const aggregate = this.createNew(id);
    aggregate.loadFromHistory(events);
    return aggregate;
  }

  async exists(id: string): Promise<boolean> {
    const events = await this.#options.eventStore.getEvents(id, this.#options.aggregateType);
    return events.length > 0;
  }

  /** Appends the aggregate's new events (ConcurrencyError if someone saved first), then publishes them. */
  async save(aggregate: A): Promise<void> {
    const events = [...aggregate.uncommittedEvents];
    if (events.length === 0) return;
    await this.#options.eventStore.appendEvents(aggregate.id, this.#options.aggregateType, events, aggregate.committedVersion);
    aggregate.markEventsAsCommitted();
    const publisher = this.#options.eventPublisher;
    if (!publisher) return;
    try {
      await publisher.publish(events);
    } catch (error) {
      throw new PublishError(
        `${events.length} event(s) of ${this.#options.aggregateType} ${aggregate.id} were stored but publishing failed: ` +
          `${error instanceof Error ? error.message : String(error)}. Republish them from the event store once the bus is healthy.`,
        { cause: error },
      );
    }
  }
}
