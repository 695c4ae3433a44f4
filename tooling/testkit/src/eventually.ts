export interface EventuallyOptions {
  /** Give up after this long, ms. Default 10000. */
  timeoutMs?: number;
  /** First pause between checks, ms; it doubles up to 100. Default 5. */
  intervalMs?: number;
}

/**
 * Re-runs `check` until it neither throws nor returns `false`, then returns its value. On timeout
 * it throws the last failure (so an `expect` inside shows its usual diff), prefixed with how long
 * it waited. Waiting on a condition instead of sleeping keeps fast transports fast and slow ones
 * correct.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutOrOptions?: number | EventuallyOptions,
): Promise<Exclude<T, false>> {
  const options = typeof timeoutOrOptions === 'number' ? { timeoutMs: timeoutOrOptions } : (timeoutOrOptions ?? {});
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let pause = options.intervalMs ?? 5;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== false) return value as Exclude<T, false>;
      lastError = new Error('the check returned false');
    } catch (error) {
      lastError = error;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await new Promise((resolve) => setTimeout(resolve, Math.min(pause, remaining)));
    pause = Math.min(pause * 2, 100);
  }
  if (lastError instanceof Error) {
    lastError.message = `not met within ${timeoutMs} ms: ${lastError.message}`;
    throw lastError;
  }
  throw new Error(`not met within ${timeoutMs} ms: ${String(lastError)}`);
}

/**
 * Polls `check` every `intervalMs` until it returns true; after `timeoutMs` throws
 * "Timed out after <ms> ms waiting for <what>". Unlike `eventually`, a check that throws fails at
 * once: use it for plain conditions (a counter reached, a health flag set), not for `expect`s.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Fails with a clear message instead of hanging when `promise` never settles (e.g. a deadlock). */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise a test opens by hand: handlers await it to stay "in flight" as long as the test needs. */
export interface Gate {
  readonly promise: Promise<void>;
  readonly isOpen: boolean;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  let isOpen = false;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    promise,
    get isOpen() {
      return isOpen;
    },
    open() {
      isOpen = true;
      open();
    },
  };
}

/** Simulated handler work: yields to the event loop for about `ms`. */
export function work(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
