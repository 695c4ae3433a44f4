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
  /** The original envelope, unchanged. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly info: DeadLetterInfo;
}

/** The same dead-letter API on every broker transport. */
export interface DeadLetterQueue {
  /** Oldest first. Default count 100. */
  getDlqMessages(options?: { count?: number }): Promise<DeadLetterMessage[]>;
  getDlqMessageCount(): Promise<number>;
  /** Sends one dead letter back to its consumer group for a fresh set of attempts, and removes it. */
  replayDlqMessage(id: string): Promise<void>;
  /** Replays every dead letter; returns how many. */
  replayAllDlqMessages(): Promise<number>;
  /** Deletes every dead letter; returns how many. */
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
}

/** What a broker-backed bus adds to the EventBus contract. */
export interface BrokerEventBus extends EventBus, DeadLetterQueue {
  connect(): Promise<void>;
  /** Consumes until stopConsuming() or shutdown(); resolves when consumption has stopped. */
  startConsuming(): Promise<void>;
  /** Starts consuming and returns at once; the returned promise resolves when it stops. */
  startConsumingInBackground(): { readonly done: Promise<void> };
  /** Stops fetching, lets in-flight handlers finish and settles them. */
  stopConsuming(): Promise<void>;
  health(): BusHealth;
}
