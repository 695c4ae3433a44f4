/**
 * Every error this library throws carries a stable `code` (safe to switch on; it never changes
 * between minor versions) and a message that says what was wrong and what to do about it.
 */

const BRAND: unique symbol = Symbol.for('@eventsource/error');

export type ErrorCode =
  | 'ES_DUPLICATE_EVENT_TYPE'
  | 'ES_UNKNOWN_EVENT_TYPE'
  | 'ES_INVALID_EVENT'
  | 'ES_ENVELOPE_INVALID'
  | 'ES_INVALID_HANDLER'
  | 'ES_HANDLER_DISPATCH'
  | 'ES_INVALID_CONFIG'
  | 'ES_BUS_CLOSED'
  | 'ES_NOT_CONNECTED'
  | 'ES_CONCURRENCY'
  | 'ES_AGGREGATE_NOT_FOUND'
  | 'ES_PUBLISH_FAILED'
  | 'ES_DLQ_MESSAGE_NOT_FOUND'
  | 'ES_TRANSPORT';

export interface EventSourceErrorOptions {
  cause?: unknown;
}

/** Base class of every error thrown by @eventsource packages. */
export class EventSourceError extends Error {
  readonly code: ErrorCode;
  declare readonly [BRAND]: true;

  constructor(code: ErrorCode, message: string, options?: EventSourceErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
    brand(this);
  }

  // `InvalidHandlerError` must be a TypeError (what JS users expect for a bad argument) and still
  // count as an EventSourceError, so the base class recognises the brand rather than the chain.
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this === EventSourceError) {
      return typeof value === 'object' && value !== null && (value as { [BRAND]?: true })[BRAND] === true;
    }
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }
}

function brand(error: object): void {
  Object.defineProperty(error, BRAND, { value: true, enumerable: false });
}

export function isEventSourceError(value: unknown): value is EventSourceError {
  return value instanceof EventSourceError;
}

export class DuplicateEventTypeError extends EventSourceError {
  constructor(
    readonly eventType: string,
    readonly existing: string,
    readonly incoming: string,
  ) {
    super(
      'ES_DUPLICATE_EVENT_TYPE',
      `Event type "${eventType}" is already registered by ${existing}; ${incoming} tried to register the same name. ` +
        'Give one of them a different event type, or register it in a separate EventRegistry.',
    );
  }
}

export class UnknownEventTypeError extends EventSourceError {
  constructor(
    readonly eventType: string,
    readonly knownTypes: readonly string[],
  ) {
    const known = knownTypes.length === 0 ? 'none' : knownTypes.join(', ');
    super(
      'ES_UNKNOWN_EVENT_TYPE',
      `Unknown event type "${eventType}". Known types: ${known}. ` +
        'Import the module that defines it (defineEvent registers on import) or pass the registry that holds it.',
    );
  }
}

export class InvalidEventError extends EventSourceError {
  constructor(message: string, options?: EventSourceErrorOptions) {
    super('ES_INVALID_EVENT', message, options);
  }
}

/** Why an incoming message could not be turned into an event. Stable; used as the DLQ reason. */
export type DecodeFailureReason =
  | 'too_large'
  | 'malformed_json'
  | 'not_an_object'
  | 'forbidden_key'
  | 'missing_field'
  | 'invalid_field'
  | 'unknown_event_type'
  | 'type_mismatch'
  | 'payload_invalid';

export class EnvelopeDecodeError extends EventSourceError {
  constructor(
    readonly reason: DecodeFailureReason,
    message: string,
    options?: EventSourceErrorOptions,
  ) {
    super('ES_ENVELOPE_INVALID', `${message} [reason: ${reason}]`, options);
  }
}

export class InvalidHandlerError extends TypeError {
  readonly code = 'ES_INVALID_HANDLER' as const;

  constructor(received: unknown) {
    super(
      `A handler must be a function or an object with a handle(event) method; received ${describe(received)}. ` +
        'Pass `event => ...`, a named function, or an instance whose class defines handle().',
    );
    this.name = 'InvalidHandlerError';
    brand(this);
  }
}

export interface HandlerFailure {
  readonly handlerName: string;
  readonly error: unknown;
}

/** One event, every handler that failed on it. Thrown or returned once per dispatch, never per handler. */
export class HandlerDispatchError extends EventSourceError {
  constructor(
    readonly eventType: string,
    readonly eventId: string,
    readonly failures: readonly HandlerFailure[],
  ) {
    const list = failures.map((f) => `${f.handlerName}: ${errorMessage(f.error)}`).join('; ');
    super(
      'ES_HANDLER_DISPATCH',
      `${failures.length} handler(s) failed for ${eventType} ${eventId}: ${list}`,
      { cause: failures[0]?.error },
    );
  }

  /** Type name of the first failure, e.g. "TypeError"; used in dead-letter metadata. */
  get errorType(): string {
    return errorName(this.failures[0]?.error);
  }
}

export class ConfigError extends EventSourceError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super('ES_INVALID_CONFIG', `Invalid option "${option}": ${message}`);
  }
}

export class BusClosedError extends EventSourceError {
  constructor(operation: string) {
    super(
      'ES_BUS_CLOSED',
      `Cannot ${operation}: the bus has been shut down. Create a new bus, or publish before calling shutdown().`,
    );
  }
}

export class NotConnectedError extends EventSourceError {
  constructor(operation: string) {
    super('ES_NOT_CONNECTED', `Cannot ${operation} before connect(). Call \`await bus.connect()\` first.`);
  }
}

export class ConcurrencyError extends EventSourceError {
  constructor(
    readonly aggregateId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(
      'ES_CONCURRENCY',
      `Aggregate ${aggregateId} was changed concurrently: expected version ${expectedVersion}, found ${actualVersion}. ` +
        'Reload the aggregate and apply the command again.',
    );
  }
}

export class AggregateNotFoundError extends EventSourceError {
  constructor(
    readonly aggregateType: string,
    readonly aggregateId: string,
  ) {
    super(
      'ES_AGGREGATE_NOT_FOUND',
      `${aggregateType} ${aggregateId} has no events. Use repository.createNew(id) for a new aggregate, or check the id.`,
    );
  }
}

export class PublishError extends EventSourceError {
  constructor(message: string, options?: EventSourceErrorOptions) {
    super('ES_PUBLISH_FAILED', message, options);
  }
}

export class DlqMessageNotFoundError extends EventSourceError {
  constructor(readonly messageId: string) {
    super(
      'ES_DLQ_MESSAGE_NOT_FOUND',
      `No dead letter with id "${messageId}". List them with getDlqMessages() to find the id.`,
    );
  }
}

export class TransportError extends EventSourceError {
  constructor(message: string, options?: EventSourceErrorOptions) {
    super('ES_TRANSPORT', message, options);
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

export function errorName(error: unknown): string {
  if (error instanceof Error) return error.name || error.constructor.name;
  if (error === null) return 'null';
  return typeof error;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
    return ctor && ctor !== 'Object' ? `an instance of ${ctor} without handle()` : 'an object without handle()';
  }
  return `${typeof value} ${String(value)}`;
}
