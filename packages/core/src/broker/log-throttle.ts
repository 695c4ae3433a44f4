import type { Logger } from '../logger.js';

type Level = 'warn' | 'error';

/**
 * Aggregates identical log lines: the first of a kind is logged at once, the rest within `windowMs`
 * are counted and reported in one line when the window closes. A thousand retried events that
 * fail the same way give two lines, not a thousand.
 */
export class LogThrottle {
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #windows = new Map<string, { level: Level; suppressed: number; message: string; fields: Record<string, unknown>; timer: NodeJS.Timeout }>();

  constructor(logger: Logger, windowMs = 5000) {
    this.#logger = logger;
    this.#windowMs = windowMs;
  }

  /** Logs `message` at warn unless the same `kind` was logged within the window. */
  warn(kind: string, message: string, fields: Record<string, unknown>): void {
    this.#log('warn', kind, message, fields);
  }

  /**
   * As warn(), at error level: for failures nothing else reports, such as an in-process handler's,
   * which is neither retried nor dead-lettered.
   */
  error(kind: string, message: string, fields: Record<string, unknown>): void {
    this.#log('error', kind, message, fields);
  }

  /** Reports every open window now (at shutdown). */
  flush(): void {
    for (const kind of [...this.#windows.keys()]) this.#close(kind);
  }

  #log(level: Level, kind: string, message: string, fields: Record<string, unknown>): void {
    const open = this.#windows.get(kind);
    if (open) {
      open.suppressed++;
      open.message = message;
      open.fields = fields;
      return;
    }
    this.#logger[level](message, fields);
    const timer = setTimeout(() => this.#close(kind), this.#windowMs);
    timer.unref();
    this.#windows.set(kind, { level, suppressed: 0, message, fields, timer });
  }

  #close(kind: string): void {
    const window = this.#windows.get(kind);
    if (!window) return;
    clearTimeout(window.timer);
    this.#windows.delete(kind);
    if (window.suppressed > 0) {
      this.#logger[window.level](`${window.message} (and ${window.suppressed} more like it in the last ${Math.round(this.#windowMs / 1000)} s)`, {
        ...window.fields,
        suppressed: window.suppressed,
      });
    }
  }
}
