import type { Envelope, EnvelopeCodec, IncomingEnvelope } from '../envelope/codec.js';
import type { DeadLetterInfo } from '../envelope/failure-headers.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../tracing/metrics.js';
import type { Tracer } from '../tracing/tracer.js';
import type { Claim } from './claim.js';
import type { ResolvedBrokerOptions } from './options.js';

/**
 * The contract between the broker kit and one transport. The kit owns everything every broker
 * needs (lifecycle, the delivery pump, settlement order, retries, dead-letter shaping, stats,
 * metrics, option validation, redaction); an adapter owns only how bytes move on its broker.
 * See "Writing a transport" in this package's TRANSPORTS.md.
 */

/** One message handed to this consumer, as the kit sees it. Transports extend it with their own handle. */
export interface Delivery {
  /** The broker's id, for logs and dead letters: stream entry id, delivery tag, `topic/partition/offset`. */
  readonly id: string;
  /** For a retry copy: the id of the original message (what dead letters record). Default `id`. */
  readonly originalId?: string | undefined;
  readonly envelope: IncomingEnvelope;
  /** Times the broker has handed this message out, 1 for a first delivery; 0 when the broker cannot tell. */
  readonly deliveryCount: number;
  /**
   * Handed out again after a consumer stopped without settling it (it crashed, or lost its claim).
   * Suspects run one at a time in the pump's isolation lane, so one message that kills its
   * consumer cannot take its batchmates down with it.
   */
  readonly suspect: boolean;
  /** The claim under which this consumer holds the message. Once lost, the message is never started here. */
  readonly claim: Claim;
  /** Offset settlement only: the lane (partition) and the message's offset in it. */
  readonly position?: DeliveryPosition | undefined;
}

export interface DeliveryPosition {
  /** One lane per partition, e.g. `orders/3`. Offsets are committed per lane. */
  readonly lane: string;
  readonly offset: number;
}

/** The pump, as a transport's message sources see it. */
export interface DeliverySink<D extends Delivery = Delivery> {
  /** Hands a message to the pump. Never blocks; pull sources call waitForSpace() before fetching more. */
  push(delivery: D): void;
  /** True while the local queue has room for about half a batch more. */
  readonly hasSpace: boolean;
  /** Resolves when hasSpace, or when stopping. */
  waitForSpace(): Promise<void>;
  /** Messages queued here and not started yet. */
  readonly queued: number;
  /** True once stop was asked for: sources return as soon as they can. */
  readonly stopping: boolean;
  /** Sources are set up and fetching: health() reports consuming. */
  started(): void;
  /** Why consumption is not making progress (health() reports it); undefined once it is again. */
  problem(description: string | undefined): void;
  /**
   * Fencing: drops every queued message held under `claim` without starting it, and returns them
   * (an adapter may hand them back; otherwise the broker hands them out again on its own).
   * Messages already running finish; their settlement may find them settled.
   */
  fence(claim: Claim): D[];
  /** Messages started and not yet settled (running, or being settled), e.g. for a lease keep-alive. */
  inProgress(): IterableIterator<D>;
  /** Offset settlement: stop tracking a lane whose partition was revoked (its fenced messages will never settle here). */
  forgetLane(lane: string): void;
  /** Writes every batched ack or commit handed over so far, e.g. before a revoked partition is let go. */
  flushSettlements(): Promise<void>;
}

/** How the kit asks for a retry copy: the adapter stores it where only this group sees it, due after `delayMs`. */
export interface RetryWrite {
  readonly delayMs: number;
  /** Failed attempts so far, the one that just failed included. */
  readonly attempt: number;
  /** The original headers with the retry bookkeeping merged over them: the copy's headers. */
  readonly headers: Readonly<Record<string, string>>;
}

/** How the kit asks for a dead letter. */
export interface DeadLetterWrite {
  readonly info: DeadLetterInfo;
  /** The original headers without failure bookkeeping, with the dead-letter metadata merged over them. */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * What a successor write (retry copy or dead letter) did: `settled` (the original was settled in
 * the same atomic write, e.g. a Redis script), `written` (the kit settles the original next),
 * `already-settled` (another member settled the original first: nothing to do).
 */
export type SuccessorWrite = 'settled' | 'written' | 'already-settled';

/** A dead letter as a transport stores it; the kit decodes and shapes it for users. */
export interface StoredDeadLetter {
  /** The id replayDlqMessage() takes. */
  readonly id: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The original body, byte for byte where the broker keeps bytes. */
  readonly body: string | Uint8Array;
}

/** The group's dead-letter destination. Arguments are already checked by the kit. */
export interface DeadLetterStore {
  /** Oldest first, at most `count` (>= 1), without removing or reordering anything. */
  list(count: number): Promise<StoredDeadLetter[]>;
  count(): Promise<number>;
  /** Sends one back to this group only, with fresh attempts, then removes it. False when there is no such id. */
  replay(id: string): Promise<boolean>;
  /** Replays what is there now (not what is dead-lettered during the call); returns how many. */
  replayAll(): Promise<number>;
  /** Removes every dead letter; returns how many. */
  purge(): Promise<number>;
}

/** Connection state, for health(). */
export interface ConnectionState {
  readonly connected: boolean;
  /** The last connection error while not connected (credentials masked). */
  readonly lastError?: string | undefined;
  /** When the current outage began (ISO-8601). */
  readonly since?: string | undefined;
}

/** What the kit gives an adapter when the bus is constructed. */
export interface AdapterKit {
  readonly options: ResolvedBrokerOptions;
  readonly codec: EnvelopeCodec;
  readonly logger: Logger;
  readonly tracer: Tracer;
  readonly metrics: Metrics;
}

export interface BrokerAdapter<D extends Delivery = Delivery> {
  /** `messaging.system`: `redis`, `rabbitmq`, `kafka`. */
  readonly system: string;
  /** What consumers read (stream, queue, topic), for logs, spans, metrics and dead letters. No credentials. */
  readonly destination: string;
  /**
   * Where publish() writes, when that is not `destination`: a RabbitMQ publish goes to the
   * exchange while consumers read their group's queue. For the publish span, the sent metric and
   * publish errors. No credentials.
   */
  readonly publishDestination?: string;
  /** Per-message acks (Redis, AMQP) or offsets committed per lane past settled messages only (Kafka). */
  readonly settlement: 'ack' | 'offset';

  /** Opens the connections publishing and admin need. */
  connect(): Promise<void>;
  /** Closes everything; must resolve by `deadline` (ms since epoch) whatever the broker does. */
  close(deadline: number): Promise<void>;
  connectionState(): ConnectionState;
  /** Times a lost connection came back. */
  readonly reconnections: number;

  /** Writes encoded events in list order; resolves once the broker has every one (confirms, delivery reports). */
  publish(envelopes: readonly Envelope[]): Promise<void>;

  /**
   * Sets up the consumer group (queues, bindings, membership) and runs the message sources, which
   * push into `sink` and call `sink.started()` once fetching. While the broker is unreachable it
   * keeps trying (reporting through `sink.problem`); it rejects only on a permanent refusal.
   * Resolves once the sources have stopped after stopSources().
   */
  consume(sink: DeliverySink<D>): Promise<void>;
  /** Stops fetching: cancel consumers, interrupt blocking reads. Resolves promptly whatever the broker does. */
  stopSources(): Promise<void>;

  /** Settlement `ack`: acknowledges handled messages (the kit batches them). */
  ack?(deliveries: readonly D[]): Promise<void>;
  /** Settlement `offset`: commits, per lane, the next offset to read (every earlier message is settled). */
  commit?(offsets: ReadonlyMap<string, number>): Promise<void>;
  /** Durably stores a retry copy visible to this group only, then (or atomically) lets the kit settle the original. */
  writeRetry(delivery: D, retry: RetryWrite): Promise<SuccessorWrite>;
  /** Durably stores a dead letter, then (or atomically) lets the kit settle the original. */
  writeDeadLetter(delivery: D, letter: DeadLetterWrite): Promise<SuccessorWrite>;
  /** Gives never-started messages back to the group without counting a delivery against them. Best effort. */
  handBack(deliveries: readonly D[]): Promise<void>;
  /** True when the broker refused for good (permissions, wrong key type): retrying the write cannot help. */
  isPermanentError(error: unknown): boolean;

  /**
   * Optional: messages with the same key run one at a time, in arrival order (Kafka: partition
   * plus message key, so one aggregate's events are handled in order). Undefined: no constraint.
   */
  orderingKey?(delivery: D): string | undefined;
  /**
   * Optional: durably counts a start of a suspect message and returns the count so far, this one
   * included. The pump dead-letters a suspect (`max_deliveries_exceeded`) once this passes
   * maxDeliveries. Without it the pump uses `deliveryCount`, which on most brokers also counts
   * hand-outs of batchmates that never started.
   */
  recordStart?(delivery: D): Promise<number>;

  readonly deadLetters: DeadLetterStore;
}
