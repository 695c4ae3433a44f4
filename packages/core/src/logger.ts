/** Minimal structured logger; pino, winston and console all fit with a one-line adapter. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

const noop = (): void => {};

export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/** The default: warnings and errors to the console, quieter levels dropped. */
export const consoleLogger: Logger = Object.freeze({
  debug: noop,
  info: noop,
  warn: (message: string, fields?: Record<string, unknown>) => console.warn(`[eventsource] ${message}`, fields ?? ''),
  error: (message: string, fields?: Record<string, unknown>) => console.error(`[eventsource] ${message}`, fields ?? ''),
});
