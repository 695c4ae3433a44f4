import { ConfigError } from '../errors.js';

export interface RetryPolicyOptions {
  /** Delay before the first retry, in ms. Default 1000. */
  baseDelayMs?: number;
  /** Upper bound of any delay, in ms. Default 60000. */
  maxDelayMs?: number;
  /** Random spread as a fraction of the delay, 0 to 1: 0.1 means ±10%. Default 0.1. */
  jitter?: number;
  /** Retries after the first attempt; the handler runs at most 1 + maxRetries times. Default 3. */
  maxRetries?: number;
}

/** What to do with a message whose handlers failed `attempt` times in all. */
export type RetryDecision = { readonly kind: 'retry'; readonly delay: number } | { readonly kind: 'dead-letter' };

/**
 * Exponential backoff with jitter, bounded by `maxRetries`. The delay doubles per attempt from
 * `baseDelayMs` up to `maxDelayMs`; jitter spreads retries of a burst of failures so they do not
 * return in lock-step.
 */
export class RetryPolicy {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly jitter: number;
  readonly maxRetries: number;
  readonly #random: () => number;

  constructor(options: RetryPolicyOptions = {}, random: () => number = Math.random) {
    this.baseDelayMs = options.baseDelayMs ?? 1000;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
    this.jitter = options.jitter ?? 0.1;
    this.maxRetries = options.maxRetries ?? 3;
    this.#random = random;
    nonNegativeNumber('baseDelayMs', this.baseDelayMs);
    nonNegativeNumber('maxDelayMs', this.maxDelayMs);
    if (this.maxDelayMs < this.baseDelayMs) {
      throw new ConfigError('maxDelayMs', `must be >= baseDelayMs (${this.baseDelayMs} ms); received ${this.maxDelayMs} ms.`);
    }
    if (!(this.jitter >= 0 && this.jitter <= 1)) {
      throw new ConfigError('jitter', `must be a fraction between 0 and 1 (0.1 = ±10%); received ${String(this.jitter)}.`);
    }
    if (!Number.isInteger(this.maxRetries) || this.maxRetries < 0) {
      throw new ConfigError('maxRetries', `must be an integer >= 0; received ${String(this.maxRetries)}.`);
    }
  }

  /** Delay in ms before retry number `attempt` (1 = first retry). */
  delayFor(attempt: number): number {
    if (!Number.isInteger(attempt) || attempt < 1) {
      throw new RangeError(`delayFor(attempt) takes the retry number, an integer >= 1; received ${String(attempt)}.`);
    }
    const exponential = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.min(attempt - 1, 52));
    const spread = exponential * this.jitter * (this.#random() * 2 - 1);
    return Math.max(0, Math.min(this.maxDelayMs, Math.round(exponential + spread)));
  }

  /** After `failedAttempts` failures in all, retry (with its delay) or give up. */
  decide(failedAttempts: number): RetryDecision {
    if (failedAttempts > this.maxRetries) return { kind: 'dead-letter' };
    return { kind: 'retry', delay: this.delayFor(failedAttempts) };
  }
}

function nonNegativeNumber(option: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(option, `must be a finite number of milliseconds >= 0; received ${String(value)}.`);
  }
}
