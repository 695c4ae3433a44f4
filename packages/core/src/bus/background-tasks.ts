/**
 * Bounded fire-and-forget work. Below the cap a task runs detached; at the cap the caller runs it
 * inline instead, so work is never dropped and a handler that publishes in the background cannot
 * deadlock waiting for a free slot.
 */
export class BackgroundTasks {
  readonly #inFlight = new Set<Promise<void>>();
  #created = 0;
  #completed = 0;

  constructor(
    readonly limit: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  get inFlight(): number {
    return this.#inFlight.size;
  }
  get created(): number {
    return this.#created;
  }
  get completed(): number {
    return this.#completed;
  }

  /** Starts `task` detached, or, at the cap, awaits it inline. Resolves once handed off. */
  async launch(task: () => Promise<void>): Promise<void> {
    if (this.#inFlight.size >= this.limit) {
      await task();
      return;
    }
    this.#created++;
    // setImmediate: the caller gets control back before any handler code runs.
    const running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(task)
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.#completed++;
        this.#inFlight.delete(running);
      });
    this.#inFlight.add(running);
  }

  /** Waits until no task is in flight (tasks started meanwhile included) or the timeout passes. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight.size > 0) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        Promise.allSettled([...this.#inFlight]).then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), remaining);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) return this.#inFlight.size === 0;
    }
    return true;
  }
}
