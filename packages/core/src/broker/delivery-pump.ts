import type { Delivery, DeliverySink } from './adapter.js';
import type { Claim } from './claim.js';

export interface DeliveryPumpOptions<D extends Delivery> {
  /** Handlers running at once. */
  readonly maxInFlight: number;
  /** Local queue size: hasSpace while at most half of it is taken. */
  readonly capacity: number;
  /** A suspect started more than this many times is dead-lettered instead. */
  readonly maxDeliveries: number;
  /** Deliveries sharing a key run one at a time, in arrival order. */
  readonly orderingKey?: ((delivery: D) => string | undefined) | undefined;
  /** Durable start count of a suspect, this start included (see BrokerAdapter.recordStart). */
  readonly recordStart?: ((delivery: D) => Promise<number>) | undefined;
  /** Handles and settles one delivery; resolves when its handler slot is free. Never rejects. */
  readonly handle: (delivery: D) => Promise<void>;
  /** Dead-letters a suspect that was started too often (`max_deliveries_exceeded`). Never rejects. */
  readonly poison: (delivery: D, starts: number) => Promise<void>;
  /** Messages started and still being settled after their slot was freed (e.g. awaiting a batched ack). */
  readonly settling: () => IterableIterator<D>;
  /** Called for every delivery dropped by fencing. */
  readonly onFenced: (delivery: D) => void;
  /** Called for every delivery pushed. */
  readonly onPushed: (delivery: D) => void;
  /** Offset settlement: a revoked lane is no longer tracked. */
  readonly forgetLane: (lane: string) => void;
  /** Writes batched settlements now. */
  readonly flushSettlements: () => Promise<void>;
}

/**
 * The delivery loop every broker transport shares. Sources push deliveries; the pump starts up to
 * `maxInFlight` of them at a time and keeps three promises:
 * - ordering: deliveries with the same ordering key run one at a time, in arrival order, while
 *   other keys run concurrently;
 * - isolation: suspects (handed out again after a consumer died holding them) run one at a time,
 *   so a message that kills its consumer takes only itself down, and past maxDeliveries starts it
 *   is dead-lettered while its batchmates are handled;
 * - fencing: a delivery whose claim is lost is never started; it is dropped for redelivery.
 */
export class DeliveryPump<D extends Delivery> implements DeliverySink<D> {
  readonly #options: DeliveryPumpOptions<D>;
  /** Arrival order. `#head` is the first live index (shift() on a long array is O(n)). */
  #ready: D[] = [];
  #head = 0;
  /** Deliveries whose key was busy when they came up, per key, in arrival order. */
  readonly #backlog = new Map<string, D[]>();
  #backlogSize = 0;
  /** Next of a key whose previous one finished: they start before anything in #ready. */
  readonly #next: D[] = [];
  readonly #busyKeys = new Set<string>();
  readonly #suspects: D[] = [];
  #suspectRunning = false;
  readonly #running = new Set<D>();
  #stopping = false;
  #started = false;
  #problem: string | undefined;
  #problemSince: string | undefined;
  #spaceWaiters: Array<() => void> = [];
  #idleWaiters: Array<() => void> = [];

  constructor(options: DeliveryPumpOptions<D>) {
    this.#options = options;
  }

  // ── the sink, as sources see it ───────────────────────────────────────────

  push(delivery: D): void {
    this.#options.onPushed(delivery);
    if (delivery.claim.lost) {
      this.#options.onFenced(delivery);
      return;
    }
    if (delivery.suspect) this.#suspects.push(delivery);
    else this.#ready.push(delivery);
    this.#drain();
  }

  get queued(): number {
    return this.#ready.length - this.#head + this.#backlogSize + this.#next.length + this.#suspects.length;
  }

  get hasSpace(): boolean {
    return this.queued <= this.#options.capacity >> 1;
  }

  waitForSpace(): Promise<void> {
    if (this.hasSpace || this.#stopping) return Promise.resolve();
    return new Promise((resolve) => this.#spaceWaiters.push(resolve));
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  started(): void {
    this.#started = true;
    this.problem(undefined);
  }

  problem(description: string | undefined): void {
    if (description === undefined) {
      this.#problem = this.#problemSince = undefined;
      return;
    }
    this.#problem = description;
    this.#problemSince ??= new Date().toISOString();
  }

  fence(claim: Claim): D[] {
    const dropped: D[] = [];
    const keep = (delivery: D): boolean => {
      if (delivery.claim !== claim) return true;
      this.#options.onFenced(delivery);
      dropped.push(delivery);
      return false;
    };
    this.#ready = this.#ready.slice(this.#head).filter(keep);
    this.#head = 0;
    this.#filterInPlace(this.#suspects, keep);
    this.#backlogSize = 0;
    for (const [key, list] of this.#backlog) {
      this.#filterInPlace(list, keep);
      if (list.length === 0) this.#backlog.delete(key);
      this.#backlogSize += list.length;
    }
    // A fenced #next held its key busy (its predecessor had finished): pass the key on.
    const next = this.#next.splice(0);
    for (const delivery of next) {
      if (keep(delivery)) this.#next.push(delivery);
      else this.#advanceKey(this.#options.orderingKey?.(delivery));
    }
    this.#drain();
    return dropped;
  }

  forgetLane(lane: string): void {
    this.#options.forgetLane(lane);
  }

  flushSettlements(): Promise<void> {
    return this.#options.flushSettlements();
  }

  *inProgress(): IterableIterator<D> {
    yield* this.#running;
    yield* this.#options.settling();
  }

  // ── the kit's side ─────────────────────────────────────────────────────────

  /** Handlers running now. */
  get inFlight(): number {
    return this.#running.size;
  }

  /** True between started() and the end of this consumption. */
  get isStarted(): boolean {
    return this.#started;
  }

  get currentProblem(): { readonly description: string; readonly since: string } | undefined {
    return this.#problem === undefined ? undefined : { description: this.#problem, since: this.#problemSince ?? new Date().toISOString() };
  }

  /** Ready for a new consumption (after a stop). */
  reset(): void {
    this.#stopping = false;
    this.#started = false;
    this.#problem = this.#problemSince = undefined;
  }

  /** Stop asked for: sources return; queued deliveries still run until they are taken back. */
  stop(): void {
    this.#stopping = true;
    this.#started = false;
    this.#notify();
  }

  /** Resolves when nothing is queued or running. */
  whenIdle(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Removes and returns every queued, never-started delivery (for hand-back at a deadline). */
  takeQueued(): D[] {
    // A #next holds its key busy with no predecessor running; the running ones release their own.
    for (const delivery of this.#next) {
      const key = this.#options.orderingKey?.(delivery);
      if (key !== undefined) this.#busyKeys.delete(key);
    }
    const taken = [...this.#next, ...this.#ready.slice(this.#head), ...this.#suspects];
    for (const list of this.#backlog.values()) taken.push(...list);
    this.#next.length = 0;
    this.#ready = [];
    this.#head = 0;
    this.#suspects.length = 0;
    this.#backlog.clear();
    this.#backlogSize = 0;
    this.#notify();
    return taken;
  }

  // ── scheduling ─────────────────────────────────────────────────────────────

  #drain(): void {
    const { maxInFlight, orderingKey } = this.#options;
    while (this.#running.size < maxInFlight) {
      if (!this.#suspectRunning && this.#suspects.length > 0) {
        this.#startSuspect(this.#suspects.shift()!);
        continue;
      }
      let delivery = this.#next.shift();
      if (!delivery) {
        if (this.#head >= this.#ready.length) break;
        delivery = this.#ready[this.#head]!;
        this.#ready[this.#head++] = undefined as unknown as D;
        if (this.#head === this.#ready.length) {
          this.#ready = [];
          this.#head = 0;
        }
        const key = orderingKey?.(delivery);
        if (key !== undefined) {
          if (this.#busyKeys.has(key)) {
            const list = this.#backlog.get(key);
            if (list) list.push(delivery);
            else this.#backlog.set(key, [delivery]);
            this.#backlogSize++;
            continue;
          }
          this.#busyKeys.add(key);
        }
      }
      this.#start(delivery);
    }
    this.#notify();
  }

  #start(delivery: D): void {
    if (delivery.claim.lost) {
      this.#options.onFenced(delivery);
      // Pass the key on without #finished(): its #drain() would recurse once per fenced delivery
      // and overflow the stack on a long queue; the #drain() loop that called us continues instead.
      this.#advanceKey(this.#options.orderingKey?.(delivery));
      return;
    }
    this.#running.add(delivery);
    void this.#options.handle(delivery).then(() => this.#finished(delivery));
  }

  #startSuspect(delivery: D): void {
    if (delivery.claim.lost) {
      this.#options.onFenced(delivery);
      return;
    }
    this.#suspectRunning = true;
    this.#running.add(delivery);
    const { recordStart, maxDeliveries } = this.#options;
    const starts = recordStart ? recordStart(delivery).catch(() => delivery.deliveryCount) : Promise.resolve(delivery.deliveryCount);
    void starts
      .then((count) => {
        // The claim may have been lost while the start was being recorded: another consumer may
        // hold the message now, so it is neither started nor dead-lettered here.
        if (delivery.claim.lost) {
          this.#options.onFenced(delivery);
          return undefined;
        }
        if (count > maxDeliveries) return this.#options.poison(delivery, count);
        return this.#options.handle(delivery);
      })
      .then(() => {
        this.#suspectRunning = false;
        this.#finished(delivery);
      });
  }

  #finished(delivery: D): void {
    this.#running.delete(delivery);
    if (!delivery.suspect) this.#advanceKey(this.#options.orderingKey?.(delivery));
    this.#drain();
  }

  /** The running delivery of `key` is done: its next one goes ahead of everything else, or the key is free. */
  #advanceKey(key: string | undefined): void {
    if (key === undefined) return;
    const list = this.#backlog.get(key);
    if (list && list.length > 0) {
      this.#next.push(list.shift()!);
      this.#backlogSize--;
      if (list.length === 0) this.#backlog.delete(key);
    } else {
      this.#busyKeys.delete(key);
    }
  }

  #isIdle(): boolean {
    return this.#running.size === 0 && this.queued === 0;
  }

  #notify(): void {
    if (this.hasSpace || this.#stopping) {
      const waiters = this.#spaceWaiters;
      this.#spaceWaiters = [];
      for (const wake of waiters) wake();
    }
    if (this.#isIdle()) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  #filterInPlace(list: D[], keep: (delivery: D) => boolean): void {
    let w = 0;
    for (const item of list) if (keep(item)) list[w++] = item;
    list.length = w;
  }
}
