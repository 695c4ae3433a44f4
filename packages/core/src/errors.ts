/**
 * Every error this library throws carries a stable `code` (safe to switch on; it never changes
 * between minor versions) and a message that says what was wrong and what to do about it.
 */

const BRAND: unique symbol = Symbol.for('@eventsource/error');

/** Every stable error code. The README's error table lists exactly these (a test keeps them equal). */
export const ERROR_CODES = [
  'ES_DUPLICATE_EVENT_TYPE',
  'ES_UNKNOWN_EVENT_TYPE',
  'ES_INVALID_EVENT',
  'ES_ENVELOPE_INVALID',
  'ES_INVALID_HANDLER',
  'ES_HANDLER_DISPATCH',
  'ES_HANDLER_TIMEOUT',
  'ES_INVALID_CONFIG',
  'ES_BUS_CLOSED',
  'ES_NOT_CONNECTED',
  'ES_CONCURRENCY',
  'ES_AGGREGATE_NOT_FOUND',
  'ES_PUBLISH_FAILED',
  'ES_PUBLISH_TIMEOUT',
  'ES_DLQ_MESSAGE_NOT_FOUND',
  'ES_TRANSPORT',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

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

/**
 * A handler did not settle within its time limit (`handlerTimeoutMs`). The attempt counts as
 * failed and goes through the retry policy; the handler's own promise is left to finish, and the
 * bus's health() reports it as stuck until it does.
 */
export class HandlerTimeoutError extends EventSourceError {
  constructor(
    readonly handlerName: string,
    readonly eventType: string,
    readonly timeoutMs: number,
  ) {
    super(
      'ES_HANDLER_TIMEOUT',
      `Handler ${handlerName} did not finish ${eventType} within ${timeoutMs} ms (handlerTimeoutMs). ` +
        'The attempt counts as failed and is retried. Make the handler finish sooner, or raise handlerTimeoutMs for this subscription.',
    );
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

/**
 * Events could not be handed to the bus. One meaning, two places it shows up:
 * - `bus.publish()`: the broker did not accept every event (a partial write says how many were
 *   written); publishing again is safe for idempotent handlers.
 * - `repository.save()`: the events were appended to the event store, but publishing them
 *   failed; they are stored, so publish them again from the store (the message says which).
 */
export class PublishError extends EventSourceError {
  constructor(message: string, options?: EventSourceErrorOptions) {
    super('ES_PUBLISH_FAILED', message, options);
  }
}

/**
 * A broker publish did not finish within `publishTimeoutMs` (typically: the broker is unreachable
 * and the client is still waiting to reconnect). A `PublishError`, so code that handles failed
 * publishes handles this one too; its own `code` tells the two apart. The broker may still take
 * the events after the caller has been told: treat them as maybe written.
 */
export class PublishTimeoutError extends PublishError {
  override readonly code = 'ES_PUBLISH_TIMEOUT' as const;

  constructor(
    /** Events in the publish call that timed out. */
    readonly eventCount: number,
    /** Where they were being written (stream, exchange or topic). */
    readonly destination: string,
    readonly timeoutMs: number,
  ) {
    super(
      `Publishing ${eventCount} event(s) to ${destination} did not finish within ${timeoutMs} ms (publishTimeoutMs); the broker has not confirmed them. ` +
        'Some may have been written, and the write may still complete; publishing again is safe for idempotent handlers (delivery is at-least-once). ' +
        'Check that the broker is reachable (bus.health() says why not), or raise publishTimeoutMs if it is only slow.',
    );
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

// Names that a bare subclass inherits without choosing them: `class TransientError extends Error {}`
// reports `name` "Error", so the constructor's name is the better answer there.
const BUILT_IN_ERROR_PROTOTYPES: ReadonlySet<object> = new Set<object>(
  [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError].map((c) => c.prototype),
);

// A thrown non-error is serialised into logs and message headers; a huge one must not fill them.
const MAX_DESCRIPTION = 2000;

/**
 * A message for anything a handler can throw. Never throws itself: thrown values reach it from user
 * code, and a describing failure would turn one failed handler into a crashed consumer.
 */
export function errorMessage(error: unknown): string {
  try {
    if (typeof error === 'string') return error;
    if (isError(error)) {
      const message: unknown = error.message;
      return typeof message === 'string' ? message : describeThrown(message);
    }
    return describeThrown(error);
  } catch {
    return unreadable(error);
  }
}

/**
 * The type of anything a handler can throw, as recorded in retry and dead-letter headers: a `name`
 * the error's class chose (own or from its own prototype), else the constructor's name, else
 * `typeof`. Never throws itself.
 */
export function errorName(error: unknown): string {
  try {
    if (error === null) return 'null';
    if (typeof error !== 'object' && typeof error !== 'function') return typeof error;
    const chosen = chosenName(error);
    if (chosen !== undefined) return chosen;
    const ctorName = constructorName(error);
    if (ctorName !== undefined && ctorName !== 'Object') return ctorName;
    return isError(error) ? 'Error' : typeof error;
  } catch {
    return typeof error;
  }
}

/** `name` as the error's own class set it; undefined when it is only a built-in default. */
function chosenName(error: object): string | undefined {
  let holder: object | null = error;
  while (holder !== null && !Object.prototype.hasOwnProperty.call(holder, 'name')) holder = Object.getPrototypeOf(holder) as object | null;
  if (holder === null || BUILT_IN_ERROR_PROTOTYPES.has(holder)) return undefined;
  // A plain object's `name` is data, not a type (`throw { name: 'x' }` is rare; `{ name: 'order-1' }` is not).
  if (!isError(error)) return undefined;
  const name: unknown = (error as { name?: unknown }).name;
  return typeof name === 'string' && name.length > 0 ? clip(name, 200) : undefined;
}

function constructorName(value: object): string | undefined {
  const ctor: unknown = (value as { constructor?: unknown }).constructor;
  if (typeof ctor !== 'function') return undefined;
  const name: unknown = (ctor as { name?: unknown }).name;
  return typeof name === 'string' && name.length > 0 ? clip(name, 200) : undefined;
}

function describeThrown(value: unknown): string {
  if (typeof value === 'string') return clip(value, MAX_DESCRIPTION);
  if (typeof value !== 'object' || value === null) return clip(String(value), MAX_DESCRIPTION);
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    json = undefined;
  }
  if (json !== undefined) return clip(json, MAX_DESCRIPTION);
  // Circular, or a toJSON that throws: the object's own string form, else its tag.
  try {
    return clip(String(value), MAX_DESCRIPTION);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** An Error, also one from another realm (a vm context, a worker's structured clone). */
function isError(value: unknown): value is Error {
  return value instanceof Error || Object.prototype.toString.call(value) === '[object Error]';
}

function unreadable(value: unknown): string {
  return `[unreadable ${typeof value}: describing it threw]`;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
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
