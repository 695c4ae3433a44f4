/**
 * Capped exponential backoff with jitter: the one schedule for reconnects, consumer-group setup
 * and settlement writes on every transport. Jitter keeps a fleet of consumers that lost the same
 * broker from coming back in lock-step.
 */
export class Backoff {
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #jitter: number;
  readonly #random: () => number;

  constructor(baseMs: number, maxMs: number, options: { jitter?: number; random?: () => number } = {}) {
    this.#baseMs = baseMs;
    this.#maxMs = maxMs;
    this.#jitter = options.jitter ?? 0.2;
    this.#random = options.random ?? Math.random;
  }

  /** Delay before try number `failures + 1`, after `failures` (>= 1) failures in a row. */
  delay(failures: number): number {
    const exponential = Math.min(this.#maxMs, this.#baseMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30));
    const spread = exponential * this.#jitter * (this.#random() * 2 - 1);
    return Math.max(0, Math.min(this.#maxMs, Math.round(exponential + spread)));
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
