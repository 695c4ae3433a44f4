export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogEntry {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: Record<string, unknown> | undefined;
}

/**
 * Keeps log lines in memory so tests can assert on what a bus reported. It has the shape of
 * core's `Logger` without importing it: core's own tests use this kit, and the kit depending on
 * core would make a cycle.
 */
export class RecordingLogger {
  readonly entries: LogEntry[] = [];

  debug(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.entries.push({ level: 'error', message, fields });
  }

  at(level: LogLevel): LogEntry[] {
    return this.entries.filter((entry) => entry.level === level);
  }

  /** Every line as `level message {fields}`, for `toContain`/`toMatch` over the whole log. */
  get text(): string {
    return this.entries.map((e) => `${e.level} ${e.message} ${JSON.stringify(e.fields ?? {})}`).join('\n');
  }
}
