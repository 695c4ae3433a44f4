import { errorMessage } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Backoff } from './backoff.js';
import { redact } from './redact.js';

/**
 * How a write that must not be lost ended: `ok` (with what the write returned), `failed` (the
 * broker refused for good: retrying cannot help), `abandoned` (the broker stayed unreachable
 * until the shutdown deadline; the message stays unsettled and is redelivered).
 */
export type DurableResult<T> = { readonly status: 'ok'; readonly value: T } | { readonly status: 'failed'; readonly error: unknown } | { readonly status: 'abandoned' };

export interface DurableWriteOptions {
  readonly backoff: Backoff;
  readonly logger: Logger;
  /** True when the broker refused for good. */
  readonly isPermanent: (error: unknown) => boolean;
  /** Past this time (ms since epoch) a failing write is given up. Read on every try. */
  readonly deadline: () => number;
}

/**
 * Runs `write` until it succeeds, the broker refuses it for good, or the shutdown deadline
 * passes; one shared backoff between tries. Every settlement write of every transport goes
 * through here: a retry copy, a dead letter, an ack batch, an offset commit.
 */
export async function writeDurably<T>(what: string, write: () => Promise<T>, options: DurableWriteOptions): Promise<DurableResult<T>> {
  for (let failures = 1; ; failures++) {
    try {
      return { status: 'ok', value: await write() };
    } catch (error) {
      const message = redact(errorMessage(error));
      if (options.isPermanent(error)) {
        options.logger.error(`Could not ${what}: the broker refused it, so trying again cannot help`, { error: message });
        return { status: 'failed', error };
      }
      const delay = options.backoff.delay(failures);
      if (Date.now() + delay >= options.deadline()) return abandon(what, message, options);
      if (failures === 1 || failures % 20 === 0) options.logger.warn(`Could not ${what}; trying again`, { attempt: failures, error: message });
      await new Promise((resolve) => setTimeout(resolve, delay));
      // The deadline may have been set while we slept (a shutdown began): past it, the connection
      // may already be closed, so do not try again.
      if (Date.now() >= options.deadline()) return abandon(what, message, options);
    }
  }
}

function abandon(what: string, error: string, options: DurableWriteOptions): DurableResult<never> {
  options.logger.error(`Could not ${what} before the shutdown deadline; the message stays unsettled and will be redelivered`, { error });
  return { status: 'abandoned' };
}

/**
 * Collects settlements made in one tick and writes them in one broker call (one XACK, one
 * multiple-ack, one offset commit). `write` receives the batch; a batch that cannot be written
 * before the deadline is given up (its messages are redelivered).
 */
export class Batcher<T> {
  readonly #write: (items: readonly T[]) => Promise<DurableResult<unknown>>;
  readonly #onWritten: (items: readonly T[], result: DurableResult<unknown>) => void;
  #items: T[] = [];
  #done: Promise<void> | undefined;
  #resolve: () => void = () => {};
  readonly #flushing = new Set<Promise<void>>();

  constructor(write: (items: readonly T[]) => Promise<DurableResult<unknown>>, onWritten: (items: readonly T[], result: DurableResult<unknown>) => void) {
    this.#write = write;
    this.#onWritten = onWritten;
  }

  /** Resolves once the batch holding `item` is written (or given up). */
  add(item: T): Promise<void> {
    this.#items.push(item);
    if (!this.#done) {
      this.#done = new Promise<void>((resolve) => (this.#resolve = resolve));
      setImmediate(() => this.#flush());
    }
    return this.#done;
  }

  /** Resolves when everything added so far is written (or given up). */
  async flush(): Promise<void> {
    this.#flush();
    while (this.#flushing.size > 0) await Promise.all([...this.#flushing]);
  }

  #flush(): void {
    if (!this.#done) return;
    const items = this.#items;
    const resolve = this.#resolve;
    this.#items = [];
    this.#done = undefined;
    const running = this.#write(items).then(
      (result) => {
        this.#flushing.delete(running);
        this.#onWritten(items, result);
        resolve();
      },
    );
    this.#flushing.add(running);
  }
}

/**
 * Offset settlement: per lane (partition), the commit point moves only past a contiguous run of
 * settled messages, so a slow or failing message holds the commit point but never the messages
 * behind it. Offsets arrive in increasing order per lane.
 */
export class OffsetLedger {
  readonly #lanes = new Map<string, Lane>();

  /** Records a message fetched at `offset` in `lane`, before it is handled. */
  track(lane: string, offset: number): void {
    let state = this.#lanes.get(lane);
    if (!state) this.#lanes.set(lane, (state = new Lane()));
    state.track(offset);
  }

  /**
   * Marks the message settled. Returns the lane's new commit offset (the next offset to read) when
   * it moved, else undefined.
   */
  settle(lane: string, offset: number): number | undefined {
    return this.#lanes.get(lane)?.settle(offset);
  }

  /** Stops tracking a lane (its partition was revoked). */
  forget(lane: string): void {
    this.#lanes.delete(lane);
  }

  /** Messages tracked and not yet settled in `lane`. */
  outstanding(lane: string): number {
    return this.#lanes.get(lane)?.outstanding ?? 0;
  }
}

class Lane {
  /** Offsets not yet passed by the commit point, in arrival order; `head` is the first live index. */
  #offsets: number[] = [];
  #head = 0;
  readonly #settled = new Set<number>();

  get outstanding(): number {
    return this.#offsets.length - this.#head - this.#settled.size;
  }

  track(offset: number): void {
    // Offsets arrive in increasing order unless the lane is fetched again from an earlier point (a
    // seek, or the partition came back after a revoke fenced what was queued). What was tracked
    // from there on is fetched again: forget it, or it would hold the commit point forever.
    let end = this.#offsets.length;
    while (end > this.#head && this.#offsets[end - 1]! >= offset) this.#settled.delete(this.#offsets[--end]!);
    this.#offsets.length = end;
    this.#offsets.push(offset);
  }

  settle(offset: number): number | undefined {
    // Nothing live, or already passed (a late settlement of a message fetched again since).
    if (this.#head >= this.#offsets.length || offset < this.#offsets[this.#head]!) return undefined;
    this.#settled.add(offset);
    let next: number | undefined;
    while (this.#head < this.#offsets.length && this.#settled.has(this.#offsets[this.#head]!)) {
      const passed = this.#offsets[this.#head++]!;
      this.#settled.delete(passed);
      next = passed + 1;
    }
    // Compact now and then, so a long-lived lane does not keep every offset it ever saw.
    if (this.#head > 1024 && this.#head * 2 > this.#offsets.length) {
      this.#offsets = this.#offsets.slice(this.#head);
      this.#head = 0;
    }
    return next;
  }
}
