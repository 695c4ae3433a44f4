import { ConfigError, InvalidHandlerError } from '../errors.js';
import type { DomainEvent } from '../events/domain-event.js';

/** A function handler. Sync or async; its return value is ignored. */
export type HandlerFunction<E extends DomainEvent = DomainEvent> = (event: E) => unknown;

/** An object handler: anything with a `handle(event)` method. */
export interface HandlerObject<E extends DomainEvent = DomainEvent> {
  handle(event: E): unknown;
}

export type Handler<E extends DomainEvent = DomainEvent> = HandlerFunction<E> | HandlerObject<E>;

/** The one shape the dispatcher deals with, whatever the user passed. */
export interface NormalizedHandler {
  /** Readable name for logs and spans, e.g. "NotificationService.handle" or "logEvent". */
  readonly name: string;
  /** What the user passed; the key for unsubscribe. */
  readonly original: unknown;
  /** This subscription's time limit per attempt, ms, over the bus's; undefined: the bus's. */
  readonly timeoutMs?: number | undefined;
  invoke(event: DomainEvent): unknown;
}

let anonymousCount = 0;

/** Turns a function, an object with `handle`, or a lambda into a named handler; anything else is a TypeError. */
export function normalizeHandler(handler: unknown, name?: string, timeoutMs?: number): NormalizedHandler {
  if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs >= 1)) {
    throw new ConfigError('handlerTimeoutMs', `must be a number of milliseconds >= 1; received ${String(timeoutMs)}.`);
  }
  if (typeof handler === 'function') {
    const fn = handler as (event: DomainEvent) => unknown;
    return { name: name ?? (fn.name || `anonymous#${++anonymousCount}`), original: handler, invoke: fn, timeoutMs };
  }
  if (handler !== null && typeof handler === 'object' && typeof (handler as { handle?: unknown }).handle === 'function') {
    const object = handler as HandlerObject;
    const className = (object.constructor as { name?: string } | undefined)?.name;
    const label = className && className !== 'Object' ? `${className}.handle` : `handler#${++anonymousCount}.handle`;
    return { name: name ?? label, original: handler, invoke: (event) => object.handle(event), timeoutMs };
  }
  throw new InvalidHandlerError(handler);
}
