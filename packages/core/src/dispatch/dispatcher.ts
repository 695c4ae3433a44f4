import { HandlerDispatchError, type HandlerFailure } from '../errors.js';
import type { DomainEvent } from '../events/domain-event.js';
import type { NormalizedHandler } from '../handlers/normalize.js';
import { SPAN_NAMES, type Span, type TraceContext, type Tracer } from '../tracing/tracer.js';

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
}

const OK_NONE: DispatchOutcome = Object.freeze({ ok: true, invoked: 0 });

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
  if (!context.tracer.enabled) return runHandlers(event, handlers, undefined, undefined);

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
  return span.run(() => runHandlers(event, handlers, tracer, span)).then((outcome) => {
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

async function runHandlers(
  event: DomainEvent,
  handlers: readonly NormalizedHandler[],
  tracer: Tracer | undefined,
  parent: Span | undefined,
): Promise<DispatchOutcome> {
  let failures: Array<HandlerFailure & { index: number }> | undefined;
  let pending: Array<Promise<void>> | undefined;

  for (let index = 0; index < handlers.length; index++) {
    const handler = handlers[index]!;
    const fail = (error: unknown): void => {
      (failures ??= []).push({ handlerName: handler.name, error, index });
    };
    const span = tracer?.startSpan(SPAN_NAMES.handle, {
      kind: 'internal',
      parent,
      attributes: { 'eventsource.handler.name': handler.name, 'eventsource.event.type': event.eventType },
    });
    try {
      const result = span ? span.run(() => handler.invoke(event)) : handler.invoke(event);
      if (isThenable(result)) {
        const settled = Promise.resolve(result).then(
          () => endSpan(span),
          (error: unknown) => {
            fail(error);
            endSpan(span, error);
          },
        );
        (pending ??= []).push(settled);
      } else {
        endSpan(span);
      }
    } catch (error) {
      fail(error);
      endSpan(span, error);
    }
  }
  if (pending) await Promise.all(pending);
  if (!failures) return { ok: true, invoked: handlers.length };
  failures.sort((a, b) => a.index - b.index);
  const list: HandlerFailure[] = failures.map(({ handlerName, error }) => ({ handlerName, error }));
  return {
    ok: false,
    invoked: handlers.length,
    error: new HandlerDispatchError(event.eventType, event.eventId, list),
  };
}

function endSpan(span: Span | undefined, error?: unknown): void {
  if (!span) return;
  if (error !== undefined) {
    span.recordException(error);
    span.setStatus('error', error instanceof Error ? error.message : String(error));
  } else {
    span.setStatus('ok');
  }
  span.end();
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}
