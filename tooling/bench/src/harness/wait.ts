export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Rejects after `ms` when `promise` has not settled. `what` is read only on timeout, so a
 * function can report the progress made by then (e.g. "17/20000 handled").
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${typeof what === 'function' ? what() : what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
