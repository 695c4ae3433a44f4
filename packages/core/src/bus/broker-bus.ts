import type { DeadLetterInfo } from '../envelope/failure-headers.js';
import type { DomainEvent } from '../events/domain-event.js';
import type { EventBus } from './event-bus.js';

/** One dead letter, as every transport lists it. */
export interface DeadLetterMessage {
  /** Id to pass to replayDlqMessage(). */
  readonly id: string;
  /** The decoded event, when the body still decodes (undefined for malformed input). */
  readonly event: DomainEvent | undefined;
  readonly eventType: string | undefined;
  /** The original envelope, without retry and dead-letter bookkeeping. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body as text (invalid UTF-8 shown with U+FFFD). */
  readonly body: string;
  /** The body exactly as it was sent, byte for byte. */
  readonly rawBody: Uint8Array;
  readonly info: DeadLetterInfo;
}

/** The same dead-letter API on every broker transport. */
export interface DeadLetterQueue {
  /**
   * Oldest first, at most `count` (default 100), without removing or reordering anything.
   * @example
   * for (const letter of await bus.getDlqMessages({ count: 10 })) console.log(letter.id, letter.info.reason);
   */
  getDlqMessages(options?: { count?: number }): Promise<DeadLetterMessage[]>;
  /**
   * How many dead letters this consumer group has.
   * @example
   * if ((await bus.getDlqMessageCount()) > 0) alert('dead letters waiting');
   */
  getDlqMessageCount(): Promise<number>;
  /**
   * Sends one dead letter back to its consumer group (only) for a fresh set of attempts, and
   * removes it. Throws DlqMessageNotFoundError for an unknown id.
   * @example
   * await bus.replayDlqMessage(letter.id);
   */
  replayDlqMessage(id: string): Promise<void>;
  /**
   * Replays every dead letter there now; returns how many.
   * @example
   * const replayed = await bus.replayAllDlqMessages();
   */
  replayAllDlqMessages(): Promise<number>;
  /**
   * Deletes every dead letter; returns how many.
   * @example
   * await bus.purgeDlq();
   */
  purgeDlq(): Promise<number>;
}

export interface BusHealth {
  /** True when connected and, if consuming was started, the consumer loop is running. */
  readonly healthy: boolean;
  readonly connected: boolean;
  readonly consuming: boolean;
  /** Last connection or consume error while unhealthy. */
  readonly lastError?: string | undefined;
  /** When the current outage began (ISO-8601), if unhealthy. */
  readonly since?: string | undefined;
  /** Handlers still running past their handlerTimeoutMs. Nonzero makes the bus unhealthy. */
  readonly stuckHandlers?: number;
}

/** What a broker-backed bus adds to the EventBus contract. */
export interface BrokerEventBus extends EventBus, DeadLetterQueue {
  /**
   * Opens the connections publishing and admin need. Publishing before it is refused with
   * NotConnectedError.
   * @example
   * await bus.connect();
   */
  connect(): Promise<void>;
  /**
   * Consumes until stopConsuming() or shutdown(); resolves when consumption has stopped and what
   * was fetched is settled. Rejects only when the broker refuses for good.
   * @example
   * await bus.startConsuming(); // returns after bus.stopConsuming() elsewhere
   */
  startConsuming(): Promise<void>;
  /**
   * Starts consuming and returns at once; `done` settles when it stops (errors are also logged).
   * @example
   * const { done } = bus.startConsumingInBackground();
   */
  startConsumingInBackground(): { readonly done: Promise<void> };
  /**
   * Stops fetching, lets in-flight handlers finish and settles them. Consuming can start again.
   * @example
   * await bus.stopConsuming();
   */
  stopConsuming(): Promise<void>;
  /**
   * Connection and consumer state, for a readiness probe: unhealthy while the broker is away, the
   * consumer is not running, or a handler is stuck past its timeout.
   * @example
   * const { healthy, lastError } = bus.health();
   */
  health(): BusHealth;
}
