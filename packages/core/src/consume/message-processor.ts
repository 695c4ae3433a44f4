import { EnvelopeDecodeError, type HandlerDispatchError, errorMessage, errorName } from '../errors.js';
import { isWellFormedEventType, type EnvelopeCodec, type IncomingEnvelope } from '../envelope/codec.js';
import { type DeadLetterDetails, readFailureHistory, retryHeaders } from '../envelope/failure-headers.js';
import type { DomainEvent } from '../events/domain-event.js';
import { dispatch, type DispatchContext, type DispatchOutcome, type HandlerWatch } from '../dispatch/dispatcher.js';
import type { RetryPolicy } from '../retry/retry-policy.js';
import type { SubscriptionRegistry } from '../subscriptions/subscription-registry.js';
import type { Tracer } from '../tracing/tracer.js';

/**
 * What a transport must do with one message. It settles (acks / commits) only after carrying out
 * the outcome durably: a retry copy or a dead letter is written first, then the original is acked.
 */
export type ProcessOutcome =
  | { readonly kind: 'ack'; readonly event: DomainEvent; readonly invoked: number }
  | {
      /** Nobody here handles it (another service's type, or a type this process never registered). */
      readonly kind: 'skip';
      readonly reason: 'no_subscribers' | 'unknown_event_type';
      readonly eventType: string | undefined;
    }
  | {
      readonly kind: 'retry';
      readonly event: DomainEvent;
      /** Wait this long (ms) before the next attempt; never by blocking the consumer. */
      readonly delay: number;
      /** Failed attempts so far, this one included. */
      readonly attempt: number;
      /** Retry bookkeeping to carry on the retry copy (merge over the original headers). */
      readonly headers: Record<string, string>;
      readonly error: HandlerDispatchError;
      readonly invoked: number;
    }
  | (DeadLetterDetails & {
      readonly kind: 'dead-letter';
      readonly event: DomainEvent | undefined;
      readonly error: unknown;
      readonly invoked: number;
    });

export interface MessageProcessorOptions {
  readonly codec: EnvelopeCodec;
  readonly subscriptions: SubscriptionRegistry;
  readonly tracer: Tracer;
  readonly retryPolicy: RetryPolicy;
  /** Attributes for the dispatch span (destination, consumer group). */
  readonly spanAttributes?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** Clock, injectable for tests. */
  readonly now?: () => Date;
  /** The bus's time limit per handler attempt, ms (0: none); a subscription's own limit wins. */
  readonly handlerTimeoutMs?: number;
  /** Counts handlers running past their limit, for health(). */
  readonly watch?: HandlerWatch;
  /** What to do with a type nobody here subscribes to. Default `ack` (skip). */
  readonly unsubscribedTypes?: 'ack' | 'dead-letter';
}

/**
 * The consume path shared by every broker transport: decode → dispatch → decide. It never throws
 * for anything a message can contain; every message ends in exactly one outcome.
 */
export class MessageProcessor {
  readonly #options: MessageProcessorOptions;
  readonly #now: () => Date;
  /** Built once: untraced dispatch needs nothing per message. */
  readonly #untraced: DispatchContext;

  constructor(options: MessageProcessorOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#untraced = { tracer: options.tracer, handlerTimeoutMs: options.handlerTimeoutMs, watch: options.watch };
  }

  /**
   * Never rejects for anything a message can contain. Written without `async` on purpose: it runs
   * once per consumed message, and each async frame would add a promise and a microtask hop.
   */
  process(incoming: IncomingEnvelope): Promise<ProcessOutcome> {
    const { codec, subscriptions } = this.#options;
    const peeked = codec.peekEventType(incoming);
    // Cheap exit for other services' types: no parse, no validation. The body of such a message
    // is not ours to judge, so it is acked even if it would not decode. An empty or malformed
    // type header names nobody's type: it is bad input, and decoding dead-letters it.
    if (peeked !== undefined && incoming.invalid === undefined && !subscriptions.hasHandlersFor(peeked) && isWellFormedEventType(peeked)) {
      return Promise.resolve(this.#unsubscribed(incoming, 'no_subscribers', peeked));
    }
    let decoded: DomainEvent | Promise<DomainEvent>;
    try {
      decoded = codec.decodeNow(incoming);
    } catch (error) {
      return Promise.resolve(this.#undecodable(incoming, peeked, error));
    }
    if (decoded instanceof Promise) {
      return decoded.then(
        (event) => this.#dispatch(event, incoming),
        (error: unknown) => this.#undecodable(incoming, peeked, error),
      );
    }
    return this.#dispatch(decoded, incoming);
  }

  #dispatch(event: DomainEvent, incoming: IncomingEnvelope): Promise<ProcessOutcome> {
    const { subscriptions, tracer } = this.#options;
    const handlers = subscriptions.handlersFor(event.eventType);
    if (handlers.length === 0) {
      return Promise.resolve(this.#unsubscribed(incoming, 'no_subscribers', event.eventType));
    }
    const decide = (outcome: DispatchOutcome): ProcessOutcome =>
      outcome.ok ? { kind: 'ack', event, invoked: outcome.invoked } : this.#failed(event, incoming, outcome.error, outcome.invoked);
    if (!tracer.enabled) {
      return dispatch(event, handlers, this.#untraced).then(decide);
    }
    // Traced: decide before the dispatch span ends, so the span says what happens next.
    let decided: ProcessOutcome | undefined;
    return dispatch(event, handlers, {
      tracer,
      parent: tracer.extract(incoming.headers),
      attributes: this.#options.spanAttributes,
      handlerTimeoutMs: this.#options.handlerTimeoutMs,
      watch: this.#options.watch,
      outcomeAttributes: (outcome) => {
        decided = decide(outcome);
        return { 'eventsource.outcome': decided.kind === 'dead-letter' ? 'dead_letter' : decided.kind };
      },
    }).then((outcome) => decided ?? decide(outcome));
  }

  #undecodable(incoming: IncomingEnvelope, peeked: string | undefined, error: unknown): ProcessOutcome {
    if (error instanceof EnvelopeDecodeError && error.reason === 'unknown_event_type') {
      return this.#unsubscribed(incoming, 'unknown_event_type', peeked);
    }
    const history = readFailureHistory(incoming.headers);
    const at = this.#now().toISOString();
    return {
      kind: 'dead-letter',
      reason: error instanceof EnvelopeDecodeError ? error.reason : 'malformed_json',
      errorType: errorName(error),
      errorMessage: errorMessage(error),
      attempts: history.attempt,
      firstFailureAt: history.firstFailureAt ?? at,
      lastFailureAt: at,
      event: undefined,
      error,
      invoked: 0,
    };
  }

  /** Skipped, or with `unsubscribedTypes: 'dead-letter'` kept in the DLQ as `no_subscribers`. */
  #unsubscribed(incoming: IncomingEnvelope, reason: 'no_subscribers' | 'unknown_event_type', eventType: string | undefined): ProcessOutcome {
    if (this.#options.unsubscribedTypes !== 'dead-letter') return { kind: 'skip', reason, eventType };
    const history = readFailureHistory(incoming.headers);
    const at = this.#now().toISOString();
    return {
      kind: 'dead-letter',
      reason: 'no_subscribers',
      errorType: 'NoSubscribers',
      errorMessage: `No handler in this consumer group subscribes to ${JSON.stringify(eventType ?? '')}${reason === 'unknown_event_type' ? ' (not registered in this process)' : ''}; kept because unsubscribedTypes is "dead-letter". Replay it once a handler is deployed.`,
      attempts: history.attempt,
      firstFailureAt: history.firstFailureAt ?? at,
      lastFailureAt: at,
      event: undefined,
      error: undefined,
      invoked: 0,
    };
  }

  #failed(event: DomainEvent, incoming: IncomingEnvelope, error: HandlerDispatchError, invoked: number): ProcessOutcome {
    const { retryPolicy } = this.#options;
    const history = readFailureHistory(incoming.headers);
    const failed = history.attempt + 1;
    const decision = retryPolicy.decide(failed);
    const now = this.#now();
    if (decision.kind === 'retry') {
      return {
        kind: 'retry',
        event,
        delay: decision.delay,
        attempt: failed,
        headers: retryHeaders(history, error, now),
        error,
        invoked,
      };
    }
    const at = now.toISOString();
    return {
      kind: 'dead-letter',
      reason: retryPolicy.maxRetries === 0 ? 'retries_disabled' : 'max_retries_exceeded',
      errorType: error.errorType,
      errorMessage: error.message,
      attempts: failed,
      firstFailureAt: history.firstFailureAt ?? at,
      lastFailureAt: at,
      event,
      error,
      invoked,
    };
  }
}
