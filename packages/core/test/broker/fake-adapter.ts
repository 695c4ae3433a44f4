import { deferred, type Deferred } from '@eventsource/testkit';
import type { DomainEvent, Envelope, EnvelopeHeaders } from '../../src/index.js';
import type { BrokerBusOptions } from '../../src/index.js';
import {
  BrokerEventBusBase,
  Claim,
  type AdapterKit,
  type BrokerAdapter,
  type ConnectionState,
  type DeadLetterStore,
  type DeadLetterWrite,
  type Delivery,
  type DeliverySink,
  type RetryWrite,
  type StoredDeadLetter,
  type SuccessorWrite,
} from '../../src/transport.js';

/** A broker error that goes away if the write is tried again (a dropped connection). */
export class TransientFault extends Error {
  override name = 'TransientFault';
}

/** A broker refusal that no retry can fix (a permission error, a wrong key type). */
export class PermanentFault extends Error {
  override name = 'PermanentFault';
}

export type FakeOp =
  | 'connect'
  | 'consume'
  | 'publish'
  | 'ack'
  | 'commit'
  | 'writeRetry'
  | 'writeDeadLetter'
  | 'handBack'
  | 'recordStart'
  | 'admin';

export type FakeDelivery = Delivery;

export interface FakeAdapterConfig {
  readonly settlement?: 'ack' | 'offset';
  /** Deliveries sharing a key run one at a time (the adapter's orderingKey). */
  readonly orderingKey?: (delivery: FakeDelivery) => string | undefined;
  /** Count starts of suspects durably, as Redis does with its per-group hash. */
  readonly recordStart?: boolean;
  /** Where publish() writes, when not `destination` (as RabbitMQ's exchange). */
  readonly publishDestination?: string;
  /** Leave out ack() / commit(), to check the kit refuses such an adapter. */
  readonly withoutSettleMethod?: boolean;
}

export interface DeliveryOptions {
  readonly id?: string;
  readonly suspect?: boolean;
  readonly deliveryCount?: number;
  readonly claim?: Claim;
  readonly lane?: string;
  readonly offset?: number;
  /** Merged over the encoded headers (e.g. retry bookkeeping). */
  readonly headers?: Record<string, string>;
}

/**
 * An in-memory BrokerAdapter for the kit's unit tests. It records every broker call the kit makes,
 * lets a test push deliveries through the sink the kit gave consume(), and fails chosen calls,
 * transiently or for good. Nothing in it is clever: what a test asserts is what the kit asked for.
 */
export class FakeAdapter implements BrokerAdapter<FakeDelivery> {
  readonly system = 'fake';
  readonly destination = 'orders-stream';
  readonly settlement: 'ack' | 'offset';
  readonly publishDestination?: string;
  reconnections = 0;

  /** Every settlement-side call in order: `retry:<id>`, `dead-letter:<id>`, `ack:<id>,<id>`, `commit:<lane>=<offset>`. */
  readonly log: string[] = [];
  readonly published: Envelope[][] = [];
  readonly acks: string[][] = [];
  readonly commits: Array<ReadonlyMap<string, number>> = [];
  readonly retries: Array<{ readonly id: string; readonly write: RetryWrite }> = [];
  readonly deadLettered: Array<{ readonly id: string; readonly write: DeadLetterWrite }> = [];
  readonly handedBack: string[][] = [];
  /** Starts recorded per delivery id (recordStart). */
  readonly starts = new Map<string, number>();
  /** What the next successor writes report. */
  retryResult: SuccessorWrite = 'written';
  deadLetterResult: SuccessorWrite = 'written';
  /** The claim deliveries are held under unless a test passes its own. */
  readonly claim = new Claim('fake consumer epoch 1');
  readonly store = new FakeDeadLetterStore(this);
  readonly deadLetters: DeadLetterStore = this.store;
  connectCalls = 0;
  consumeCalls = 0;
  stopSourcesCalls = 0;
  closedAt: number | undefined;
  #connection: ConnectionState = { connected: false };
  #sink: DeliverySink<FakeDelivery> | undefined;
  #sinkReady: Deferred = deferred();
  #stopSources: (() => void) | undefined;
  readonly #faults = new Map<FakeOp, { error: unknown; remaining: number }>();
  readonly #hooks = new Map<FakeOp, (call: number) => Promise<void> | void>();
  /** Calls per operation, failed ones included. */
  readonly calls = new Map<FakeOp, number>();
  #nextId = 1;

  orderingKey?: (delivery: FakeDelivery) => string | undefined;
  recordStart?: (delivery: FakeDelivery) => Promise<number>;
  ack?: (deliveries: readonly FakeDelivery[]) => Promise<void>;
  commit?: (offsets: ReadonlyMap<string, number>) => Promise<void>;

  constructor(
    readonly kit: AdapterKit,
    config: FakeAdapterConfig = {},
  ) {
    this.settlement = config.settlement ?? 'ack';
    if (config.publishDestination !== undefined) this.publishDestination = config.publishDestination;
    if (config.orderingKey) this.orderingKey = config.orderingKey;
    if (config.recordStart) {
      this.recordStart = async (delivery) => {
        await this.enter('recordStart');
        const count = (this.starts.get(delivery.id) ?? 0) + 1;
        this.starts.set(delivery.id, count);
        return count;
      };
    }
    if (!config.withoutSettleMethod && this.settlement === 'ack') {
      this.ack = async (deliveries) => {
        await this.enter('ack');
        const ids = deliveries.map((d) => d.id);
        this.acks.push(ids);
        this.log.push(`ack:${ids.join(',')}`);
      };
    }
    if (!config.withoutSettleMethod && this.settlement === 'offset') {
      this.commit = async (offsets) => {
        await this.enter('commit');
        this.commits.push(new Map(offsets));
        this.log.push(`commit:${[...offsets].map(([lane, offset]) => `${lane}=${offset}`).join(',')}`);
      };
    }
  }

  // ── test controls ──────────────────────────────────────────────────────────

  /** Makes the next `times` calls of `op` throw `error` (Infinity: every call). */
  fail(op: FakeOp, error: unknown, times = 1): void {
    this.#faults.set(op, { error, remaining: times });
  }

  heal(op: FakeOp): void {
    this.#faults.delete(op);
  }

  /** Runs `hook` at the start of every call of `op` (1-based call number); it may wait or throw. */
  before(op: FakeOp, hook: (call: number) => Promise<void> | void): void {
    this.#hooks.set(op, hook);
  }

  callsOf(op: FakeOp): number {
    return this.calls.get(op) ?? 0;
  }

  /** The sink the kit passed to the running consume(). */
  get sink(): DeliverySink<FakeDelivery> {
    if (!this.#sink) throw new Error('consume() has not been called: start consuming first');
    return this.#sink;
  }

  /** Resolves once consume() has been called (again, after a stop). */
  whenConsuming(): Promise<void> {
    return this.#sinkReady.promise;
  }

  get isConsuming(): boolean {
    return this.#stopSources !== undefined;
  }

  /** A delivery of `event`, encoded by the kit's codec, as a broker would hand it over. */
  delivery(event: DomainEvent, options: DeliveryOptions = {}): FakeDelivery {
    const envelope = this.kit.codec.encode(event);
    const headers: EnvelopeHeaders = { ...envelope.headers, ...options.headers };
    const id = options.id ?? `${this.#nextId++}-0`;
    return {
      id,
      envelope: { headers, body: envelope.body },
      deliveryCount: options.deliveryCount ?? 1,
      suspect: options.suspect ?? false,
      claim: options.claim ?? this.claim,
      position: options.offset === undefined ? undefined : { lane: options.lane ?? 'orders/0', offset: options.offset },
    };
  }

  /** Pushes deliveries through the sink, as a read loop would. */
  push(...deliveries: FakeDelivery[]): FakeDelivery[] {
    for (const delivery of deliveries) this.sink.push(delivery);
    return deliveries;
  }

  setConnection(state: ConnectionState): void {
    this.#connection = state;
  }

  // ── the adapter contract ───────────────────────────────────────────────────

  async connect(): Promise<void> {
    this.connectCalls++;
    await this.enter('connect');
    this.#connection = { connected: true };
  }

  async close(deadline: number): Promise<void> {
    this.closedAt = deadline;
    this.#connection = { connected: false };
  }

  connectionState(): ConnectionState {
    return this.#connection;
  }

  async publish(envelopes: readonly Envelope[]): Promise<void> {
    await this.enter('publish');
    this.published.push([...envelopes]);
  }

  async consume(sink: DeliverySink<FakeDelivery>): Promise<void> {
    this.consumeCalls++;
    await this.enter('consume');
    this.#sink = sink;
    const stopped = new Promise<void>((resolve) => (this.#stopSources = resolve));
    sink.started();
    this.#sinkReady.resolve();
    await stopped;
    this.#stopSources = undefined;
    this.#sinkReady = deferred();
  }

  async stopSources(): Promise<void> {
    this.stopSourcesCalls++;
    this.#stopSources?.();
  }

  async writeRetry(delivery: FakeDelivery, retry: RetryWrite): Promise<SuccessorWrite> {
    await this.enter('writeRetry');
    this.retries.push({ id: delivery.id, write: retry });
    this.log.push(`retry:${delivery.id}`);
    return this.retryResult;
  }

  async writeDeadLetter(delivery: FakeDelivery, letter: DeadLetterWrite): Promise<SuccessorWrite> {
    await this.enter('writeDeadLetter');
    this.deadLettered.push({ id: delivery.id, write: letter });
    this.log.push(`dead-letter:${delivery.id}`);
    this.store.letters.push({ id: `dlq-${delivery.id}`, headers: letter.headers, body: delivery.envelope.body ?? '' });
    return this.deadLetterResult;
  }

  async handBack(deliveries: readonly FakeDelivery[]): Promise<void> {
    await this.enter('handBack');
    this.handedBack.push(deliveries.map((d) => d.id));
  }

  isPermanentError(error: unknown): boolean {
    return error instanceof PermanentFault;
  }

  /** Counts a call of `op`, runs its hook, then throws the fault set for it, if any is left. */
  async enter(op: FakeOp): Promise<void> {
    const call = this.callsOf(op) + 1;
    this.calls.set(op, call);
    await this.#hooks.get(op)?.(call);
    const fault = this.#faults.get(op);
    if (!fault) return;
    if (--fault.remaining <= 0) this.#faults.delete(op);
    throw fault.error;
  }
}

/** The group's dead letters, in memory. */
export class FakeDeadLetterStore implements DeadLetterStore {
  readonly letters: StoredDeadLetter[] = [];
  readonly replayed: string[] = [];

  constructor(readonly adapter: FakeAdapter) {}

  async list(count: number): Promise<StoredDeadLetter[]> {
    await this.adapter.enter('admin');
    return this.letters.slice(0, count);
  }

  async count(): Promise<number> {
    await this.adapter.enter('admin');
    return this.letters.length;
  }

  async replay(id: string): Promise<boolean> {
    await this.adapter.enter('admin');
    const index = this.letters.findIndex((letter) => letter.id === id);
    if (index < 0) return false;
    this.letters.splice(index, 1);
    this.replayed.push(id);
    return true;
  }

  async replayAll(): Promise<number> {
    await this.adapter.enter('admin');
    const ids = this.letters.splice(0).map((letter) => letter.id);
    this.replayed.push(...ids);
    return ids.length;
  }

  async purge(): Promise<number> {
    await this.adapter.enter('admin');
    return this.letters.splice(0).length;
  }
}

/** A transport built on the kit with the fake adapter: what a real one looks like, minus the broker. */
export class FakeBus extends BrokerEventBusBase<FakeDelivery> {
  constructor(options: BrokerBusOptions = {}, config: FakeAdapterConfig = {}, queueCapacity = 100) {
    super(options, (kit) => new FakeAdapter(kit, config), { queueCapacity });
  }

  get fake(): FakeAdapter {
    return this.adapter as FakeAdapter;
  }

  /** A transport-specific admin call, going through the kit's admin wrapper. */
  adminCall<T>(run: () => Promise<T>): Promise<T> {
    return this.admin('trimStream', run);
  }
}
