import { HandlerDispatchError, HandlerTimeoutError, errorMessage, type HandlerFailure } from '../errors.js';
import type { DomainEvent } from '../events/domain-event.js';
import type { NormalizedHandler } from '../handlers/normalize.js';
import { SPAN_NAMES, type Span, type SpanAttributes, type TraceContext, type Tracer } from '../tracing/tracer.js';

/** The single result of running an event's handlers. */
export type DispatchOutcome =
  | { readonly ok: true; readonly invoked: number }
  | { readonly ok: false; readonly invoked: number; readonly error: HandlerDispatchError };

export interface DispatchContext {
  readonly tracer: Tracer;
  /** Parent of the dispatch span: the publish span in-process, the producer's context on a broker. */
  readonly parent?: Span | TraceContext | undefined;
  /** Extra attributes for the dispatch span (destination, consumer group, …). */
  readonly attributes?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** The bus's time limit per handler attempt, ms; a subscription's own limit wins. 0 or absent: none. */
  readonly handlerTimeoutMs?: number | undefined;
  /** Counts handlers still running past their limit (health() reports them as stuck). */
  readonly watch?: HandlerWatch | undefined;
  /**
   * Called once the handlers are done and before the dispatch span ends: attributes for that span
   * that depend on the outcome (a broker consumer says what it will do with the message), so a
   * retry or a dead letter is visible in the trace.
   */
  readonly outcomeAttributes?: ((outcome: DispatchOutcome) => SpanAttributes | undefined) | undefined;
}

/** Handlers that timed out and have not settled since: health() calls them stuck. */
export class HandlerWatch {
  stuck = 0;
  /** Handlers that ran past their limit since the bus started. */
  timedOut = 0;
}

const OK_NONE: DispatchOutcome = Object.freeze({ ok: true, invoked: 0 });
const OK_ONE: DispatchOutcome = Object.freeze({ ok: true, invoked: 1 });
type IndexedFailure = HandlerFailure & { index: number };
/** Hoisted: an inline arrow would be a new closure per dispatched event. */
const returnOkOne = (): DispatchOutcome => OK_ONE;

function outcomeOf(event: DomainEvent, invoked: number, failures: IndexedFailure[] | undefined): DispatchOutcome {
  if (!failures) return invoked === 1 ? OK_ONE : { ok: true, invoked };
  failures.sort((a, b) => a.index - b.index);
  const list: HandlerFailure[] = failures.map(({ handlerName, error }) => ({ handlerName, error }));
  return { ok: false, invoked, error: new HandlerDispatchError(event.eventType, event.eventId, list) };
}

/**
 * Tracing off: no async frame, no closure or derived promise per handler, and no combinator for a
 * single handler; each of those is an allocation plus a microtask hop per event.
 */
function runUntraced(event: DomainEvent, handlers: readonly NormalizedHandler[], context: DispatchContext): Promise<DispatchOutcome> {
  if (handlers.length === 1) {
    const handler = handlers[0]!;
    let result: unknown;
    try {
      result = handler.invoke(event);
      if (!isThenable(result)) return Promise.resolve(OK_ONE);
    } catch (error) {
      // isThenable runs inside the try: a returned object whose `then` getter throws is a handler failure.
      return Promise.resolve(outcomeOf(event, 1, [{ handlerName: handler.name, error, index: 0 }]));
    }
    return limited(result, handler, event, context).then(
      returnOkOne,
      (error: unknown) => outcomeOf(event, 1, [{ handlerName: handler.name, error, index: 0 }]),
    );
  }
  let failures: IndexedFailure[] | undefined;
  let pending: Array<PromiseLike<unknown>> | undefined;
  let pendingIndex: number[] | undefined;
  for (let index = 0; index < handlers.length; index++) {
    const handler = handlers[index]!;
    let result: unknown;
    let thenable: boolean;
    try {
      result = handler.invoke(event);
      thenable = isThenable(result);
    } catch (error) {
      (failures ??= []).push({ handlerName: handler.name, error, index });
      continue;
    }
    if (thenable) {
      (pending ??= []).push(limited(result as PromiseLike<unknown>, handler, event, context));
      (pendingIndex ??= []).push(index);
    }
  }
  if (!pending) return Promise.resolve(outcomeOf(event, handlers.length, failures));
  // Happy path at the cost of a plain Promise.all; only after a rejection does allSettled run,
  // which still waits for every handler and collects every failure.
  const raw = pending;
  return Promise.all(raw).then(
    () => outcomeOf(event, handlers.length, failures),
    () => Promise.allSettled(raw).then((settled) => {
      for (let i = 0; i < settled.length; i++) {
        const s = settled[i]!;
        if (s.status === 'rejected') {
          const index = pendingIndex![i]!;
          (failures ??= []).push({ handlerName: handlers[index]!.name, error: s.reason, index });
        }
      }
      return outcomeOf(event, handlers.length, failures);
    }),
  );
}

/**
 * Runs every handler of one event with error isolation: handlers start in order (specific, then
 * wildcard), run concurrently, and the outcome waits for all of them. A throwing or rejecting
 * handler never stops the others; all failures come back together in one HandlerDispatchError.
 * Every transport dispatches through this function.
 */
export function dispatch(
  event: DomainEvent,
  handlers: readonly NormalizedHandler[],
  context: DispatchContext,
): Promise<DispatchOutcome> {
  if (handlers.length === 0) return Promise.resolve(OK_NONE);
  if (!context.tracer.enabled) return runUntraced(event, handlers, context);

  const { tracer } = context;
  const span = tracer.startSpan(SPAN_NAMES.dispatch, {
    kind: context.parent && !('run' in context.parent) ? 'consumer' : 'internal',
    parent: context.parent,
    attributes: {
      'messaging.system': 'eventsource',
      'messaging.operation.type': 'process',
      'messaging.message.id': event.eventId,
      'eventsource.event.type': event.eventType,
      'eventsource.aggregate.type': event.aggregateType,
      'eventsource.aggregate.id': event.aggregateId,
      'eventsource.handler.count': handlers.length,
      ...context.attributes,
    },
  });
  return span.run(() => runHandlers(event, handlers, tracer, span, context)).then((outcome) => {
    const extra = context.outcomeAttributes?.(outcome);
    if (extra) {
      for (const key in extra) {
        const value = extra[key];
        if (value !== undefined) span.setAttribute(key, value);
      }
    }
    if (!outcome.ok) {
      span.recordException(outcome.error);
      span.setStatus('error', outcome.error.message);
    } else {
      span.setStatus('ok');
    }
    span.end();
    return outcome;
  });
}

/** Tracing on: the same isolation as runUntraced, with a handle span around each handler. No async frame: one fewer promise and microtask hop per event. */
function runHandlers(
  event: DomainEvent,
  handlers: readonly NormalizedHandler[],
  tracer: Tracer,
  parent: Span,
  context: DispatchContext,
): Promise<DispatchOutcome> {
  let failures: IndexedFailure[] | undefined;
  let pending: Array<Promise<void>> | undefined;

  for (let index = 0; index < handlers.length; index++) {
    const handler = handlers[index]!;
    const span = tracer.startSpan(SPAN_NAMES.handle, {
      kind: 'internal',
      parent,
      attributes: { 'eventsource.handler.name': handler.name, 'eventsource.event.type': event.eventType },
    });
    const fail = (error: unknown): void => {
      (failures ??= []).push({ handlerName: handler.name, error, index });
      failSpan(span, error);
    };
    let result: unknown;
    let thenable: boolean;
    try {
      result = span.run(() => handler.invoke(event));
      thenable = isThenable(result);
    } catch (error) {
      fail(error);
      continue;
    }
    if (thenable) {
      (pending ??= []).push(limited(result as PromiseLike<unknown>, handler, event, context).then(() => endSpan(span), fail));
    } else {
      endSpan(span);
    }
  }
  if (!pending) return Promise.resolve(outcomeOf(event, handlers.length, failures));
  // Every pending promise settles to undefined (failures are recorded, not rethrown).
  return (pending.length === 1 ? pending[0]! : Promise.all(pending)).then(() => outcomeOf(event, handlers.length, failures));
}

/**
 * The handler's promise, bounded by its time limit when one is set. Past the limit the attempt
 * fails with HandlerTimeoutError; the handler itself cannot be stopped, so it is watched until it
 * settles. Without a limit: no timer, no extra promise.
 */
function limited(result: PromiseLike<unknown>, handler: NormalizedHandler, event: DomainEvent, context: DispatchContext): Promise<unknown> {
  const timeoutMs = handler.timeoutMs ?? context.handlerTimeoutMs ?? 0;
  // Promise.resolve of a native promise is that promise: no allocation on the common path.
  if (!(timeoutMs > 0)) return Promise.resolve(result);
  const watch = context.watch;
  return new Promise((resolve, reject) => {
    let overdue = false;
    const timer = setTimeout(() => {
      overdue = true;
      if (watch) {
        watch.stuck++;
        watch.timedOut++;
      }
      reject(new HandlerTimeoutError(handler.name, event.eventType, timeoutMs));
    }, timeoutMs);
    const settle = (done: () => void): void => {
      clearTimeout(timer);
      if (overdue) {
        if (watch) watch.stuck--;
      } else done();
    };
    result.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}

function endSpan(span: Span): void {
  span.setStatus('ok');
  span.end();
}

/** A failed handler's span; `throw undefined` is a failure too. */
function failSpan(span: Span, error: unknown): void {
  span.recordException(error);
  span.setStatus('error', errorMessage(error));
  span.end();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}
