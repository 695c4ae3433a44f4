import type { DeadLetterDetails } from '../envelope/failure-headers.js';
import { readFailureHistory } from '../envelope/failure-headers.js';
import { errorName } from '../errors.js';
import type { Logger } from '../logger.js';
import type { MessageProcessor, ProcessOutcome } from '../consume/message-processor.js';
import { METRIC_NAMES, type Counter, type Histogram, type MetricAttributes, type Metrics } from '../tracing/metrics.js';
import type { BrokerAdapter, Delivery, SuccessorWrite } from './adapter.js';
import { Backoff } from './backoff.js';
import { deadLetterWrite } from './dead-letters.js';
import { LogThrottle } from './log-throttle.js';
import type { ResolvedBrokerOptions } from './options.js';
import { Batcher, OffsetLedger, writeDurably, type DurableResult, type DurableWriteOptions } from './settlement.js';
import type { KitCounters } from './stats.js';

interface Instruments {
  readonly consumed: Counter;
  readonly duration: Histogram;
  readonly handlerErrors: Counter;
  readonly retries: Counter;
  readonly deadLetters: Counter;
}

/**
 * Turns each delivery's outcome into broker writes, in the one order that never loses a message:
 * the successor (retry copy or dead letter) is made durable first, the original is settled last.
 * Plain acks and offset commits are batched. Every write that fails for a passing reason is tried
 * again with the shared backoff until the shutdown deadline; what is given up stays unsettled and
 * is redelivered.
 */
export class Settler<D extends Delivery> {
  readonly #adapter: BrokerAdapter<D>;
  readonly #options: ResolvedBrokerOptions;
  readonly #processor: MessageProcessor;
  readonly #counters: KitCounters;
  readonly #logger: Logger;
  readonly #throttle: LogThrottle;
  readonly #metrics: Metrics;
  readonly #instruments: Instruments;
  readonly #attributes: MetricAttributes;
  readonly #durable: DurableWriteOptions;
  readonly #acks: Batcher<D> | undefined;
  readonly #commits: Batcher<[string, number]> | undefined;
  readonly #ledger = new OffsetLedger();
  /** The commit write last started; the next waits for it. */
  #lastCommit: Promise<unknown> = Promise.resolve();
  /** Started and not yet settled after their handler slot was freed (awaiting a batched ack). */
  readonly #settling = new Set<D>();
  /** After this time (ms since epoch) failing writes are given up. */
  #abandonAt = Number.POSITIVE_INFINITY;
  /** Settlements given up at the deadline since the last start. */
  abandoned = 0;

  constructor(adapter: BrokerAdapter<D>, options: ResolvedBrokerOptions, processor: MessageProcessor, counters: KitCounters, logger: Logger, metrics: Metrics) {
    this.#adapter = adapter;
    this.#options = options;
    this.#processor = processor;
    this.#counters = counters;
    this.#logger = logger;
    this.#throttle = new LogThrottle(logger);
    this.#metrics = metrics;
    this.#attributes = { 'messaging.system': adapter.system, 'messaging.destination.name': adapter.destination, 'messaging.consumer.group.name': options.consumerGroup };
    const unit = { description: '', unit: '{message}' };
    this.#instruments = {
      consumed: metrics.counter(METRIC_NAMES.consumed, { ...unit, description: 'Messages this consumer took from the broker.' }),
      duration: metrics.histogram(METRIC_NAMES.processDuration, { description: 'Time to run the handlers of one message.', unit: 's' }),
      handlerErrors: metrics.counter(METRIC_NAMES.handlerErrors, { ...unit, description: 'Handler failures, timeouts included.' }),
      retries: metrics.counter(METRIC_NAMES.retries, { ...unit, description: 'Retries scheduled.' }),
      deadLetters: metrics.counter(METRIC_NAMES.deadLetters, { ...unit, description: 'Messages dead-lettered.' }),
    };
    this.#durable = {
      backoff: new Backoff(options.reconnectBaseDelayMs, options.reconnectMaxDelayMs),
      logger,
      isPermanent: (error) => adapter.isPermanentError(error),
      deadline: () => this.#abandonAt,
    };
    if (adapter.settlement === 'ack') {
      const ack = adapter.ack?.bind(adapter);
      if (!ack) throw new TypeError(`The ${adapter.system} adapter declares settlement 'ack' but has no ack().`);
      this.#acks = new Batcher<D>(
        (batch) => writeDurably('acknowledge messages', () => ack(batch), this.#durable),
        (batch, result) => {
          if (result.status === 'abandoned') this.abandoned += batch.length;
          for (const delivery of batch) this.#settling.delete(delivery);
        },
      );
    } else {
      const commit = adapter.commit?.bind(adapter);
      if (!commit) throw new TypeError(`The ${adapter.system} adapter declares settlement 'offset' but has no commit().`);
      this.#commits = new Batcher<[string, number]>(
        (moves) => {
          // Several moves of one lane in a batch: the last is the furthest.
          const offsets = new Map<string, number>();
          for (const [lane, offset] of moves) offsets.set(lane, Math.max(offset, offsets.get(lane) ?? 0));
          // One commit at a time, in order: an earlier batch retried after a later one was written
          // would move its lanes back, and the messages in between would be consumed again.
          const written = this.#lastCommit.then(() => writeDurably('commit offsets', () => commit(offsets), this.#durable));
          this.#lastCommit = written;
          return written;
        },
        (moves, result) => {
          if (result.status === 'abandoned') this.abandoned += moves.length;
        },
      );
    }
  }

  /** Ready for a new consumption. */
  reset(): void {
    this.#abandonAt = Number.POSITIVE_INFINITY;
    this.abandoned = 0;
  }

  /** From `deadline` on, failing writes are given up (the messages are redelivered). */
  giveUpAt(deadline: number): void {
    this.#abandonAt = deadline;
  }

  settling(): IterableIterator<D> {
    return this.#settling.values();
  }

  /** Offset settlement: records a fetched message so the commit point cannot pass it unsettled. */
  track(delivery: D): void {
    if (this.#commits && delivery.position) this.#ledger.track(delivery.position.lane, delivery.position.offset);
    this.#counters.eventsConsumed++;
    if (this.#metrics.enabled) this.#instruments.consumed.add(1, this.#attributes);
  }

  /** Offset settlement: a revoked lane is no longer ours to commit. */
  forgetLane(lane: string): void {
    this.#ledger.forget(lane);
  }

  /**
   * Processes one delivery and settles it. Resolves when its handler slot may be reused; never rejects.
   * Written without `async` (and #settle returns undefined on the plain-ack path): this runs once
   * per consumed message, and every async frame costs a promise and microtask hops. The order of
   * the writes is the same as with awaits: the outcome is settled before the slot is freed.
   */
  handle(delivery: D): Promise<void> {
    const started = this.#metrics.enabled ? performance.now() : 0;
    let processing: Promise<ProcessOutcome>;
    try {
      processing = this.#processor.process(delivery.envelope);
    } catch (error) {
      this.#unexpected(delivery, error);
      return Promise.resolve();
    }
    return processing.then(
      (outcome) => this.#afterProcessing(delivery, outcome, started),
      (error: unknown) => this.#unexpected(delivery, error),
    );
  }

  #afterProcessing(delivery: D, outcome: ProcessOutcome, started: number): Promise<void> | undefined {
    try {
      if (this.#metrics.enabled && outcome.kind !== 'skip') {
        this.#instruments.duration.record((performance.now() - started) / 1000, {
          ...this.#attributes,
          'eventsource.event.type': outcome.event?.eventType,
          'eventsource.outcome': outcome.kind === 'dead-letter' ? 'dead_letter' : outcome.kind,
        });
      }
      return this.#settle(delivery, outcome)?.catch((error: unknown) => this.#unexpected(delivery, error));
    } catch (error) {
      this.#unexpected(delivery, error);
      return undefined;
    }
  }

  /**
   * The processor turns everything a message can contain into an outcome, so this is a bug.
   * The message is left unsettled so it is redelivered.
   */
  #unexpected(delivery: D, error: unknown): void {
    this.#logger.error('Unexpected error while handling a message; it stays unsettled and will be redelivered', {
      id: delivery.id,
      error: String(error),
    });
  }

  /** Dead-letters a suspect started more than maxDeliveries times. Never rejects. */
  async poison(delivery: D, starts: number): Promise<void> {
    const at = new Date().toISOString();
    const history = readFailureHistory(delivery.envelope.headers);
    await this.deadLetter(
      delivery,
      {
        reason: 'max_deliveries_exceeded',
        errorType: 'RedeliveryLimitExceeded',
        errorMessage:
          `Started ${starts} times (maxDeliveries ${this.#options.maxDeliveries}) without being settled: ` +
          'the consumers running it died or stalled each time. Its batchmates were handled.',
        attempts: history.attempt,
        firstFailureAt: history.firstFailureAt ?? at,
        lastFailureAt: at,
      },
      undefined,
    ).catch(() => undefined);
  }

  /** Resolves once every settlement handed over so far is written (or given up). */
  async flush(): Promise<void> {
    await Promise.all([this.#acks?.flush(), this.#commits?.flush()]);
    this.#throttle.flush();
  }

  /** Undefined when there is nothing to wait for (a plain ack, batched): no promise on the hot path. */
  #settle(delivery: D, outcome: ProcessOutcome): Promise<void> | undefined {
    const counters = this.#counters;
    switch (outcome.kind) {
      case 'ack':
        counters.eventsProcessed++;
        counters.handlersInvoked += outcome.invoked;
        return this.#settleAfterSuccess(delivery);
      case 'skip':
        counters.eventsSkipped++;
        return this.#settleAfterSuccess(delivery);
      case 'retry':
        return this.#retry(delivery, outcome);
      case 'dead-letter':
        if (outcome.invoked > 0) {
          counters.eventsFailed++;
          counters.handlersInvoked += outcome.invoked;
          const failures = (outcome.error as { failures?: readonly { error: unknown }[] } | undefined)?.failures;
          if (failures) this.#countHandlerErrors(failures, outcome.event?.eventType);
        }
        return this.deadLetter(delivery, outcome, outcome.event?.eventType);
    }
  }

  async #retry(delivery: D, outcome: Extract<ProcessOutcome, { kind: 'retry' }>): Promise<void> {
    const counters = this.#counters;
    counters.eventsFailed++;
    counters.handlersInvoked += outcome.invoked;
    this.#countHandlerErrors(outcome.error.failures, outcome.event.eventType);
    this.#throttle.warn(`retry:${outcome.event.eventType}:${outcome.error.errorType}`, 'Handler failed; retry scheduled', {
      id: delivery.id,
      eventType: outcome.event.eventType,
      attempt: outcome.attempt,
      delayMs: outcome.delay,
      error: outcome.error.message,
    });
    const headers = { ...(delivery.envelope.headers as Record<string, string> | undefined), ...outcome.headers };
    const result = await this.#successor('schedule a retry', delivery, () =>
      this.#adapter.writeRetry(delivery, { delayMs: Math.max(0, Math.round(outcome.delay)), attempt: outcome.attempt, headers }),
    );
    if (result) {
      counters.eventsRetried++;
      if (this.#metrics.enabled) this.#instruments.retries.add(1, { ...this.#attributes, 'eventsource.event.type': outcome.event.eventType, 'error.type': outcome.error.errorType });
    }
  }

  /** Writes the dead letter (or, without a DLQ, drops the message), then settles the original. */
  async deadLetter(delivery: D, details: DeadLetterDetails, eventType: string | undefined): Promise<void> {
    const { consumerGroup, enableDlq } = this.#options;
    const where = { destination: this.#adapter.destination, consumerGroup };
    const fields = { id: delivery.id, reason: details.reason, error: details.errorMessage, destination: where.destination, group: consumerGroup };
    if (!enableDlq) {
      this.#counters.eventsDropped++;
      this.#logger.error('Message dropped: it failed for good and enableDlq is false', fields);
      void this.#settleOriginal(delivery);
      return;
    }
    const letter = deadLetterWrite(delivery, details, where);
    const written = await this.#successor('write a dead letter', delivery, () => this.#adapter.writeDeadLetter(delivery, letter));
    if (!written) return;
    this.#counters.eventsDeadLettered++;
    if (this.#metrics.enabled) {
      this.#instruments.deadLetters.add(1, { ...this.#attributes, 'eventsource.event.type': eventType, 'error.type': details.errorType, 'eventsource.dlq.reason': details.reason });
    }
    this.#throttle.warn(`dlq:${details.reason}:${eventType ?? ''}`, 'Message dead-lettered', fields);
  }

  /** Makes a successor durable, then settles the original if the write did not. True when written. */
  async #successor(what: string, delivery: D, write: () => Promise<SuccessorWrite>): Promise<boolean> {
    const result: DurableResult<SuccessorWrite> = await writeDurably(what, write, this.#durable);
    if (result.status === 'abandoned') {
      this.abandoned++;
      return false;
    }
    if (result.status === 'failed') {
      this.#logger.error(`${brokerName(this.#adapter.system)} refused to ${what}; the message stays unsettled and is redelivered`, { id: delivery.id });
      return false;
    }
    if (result.value === 'written') await this.#settleOriginal(delivery);
    else if (result.value === 'settled' || result.value === 'already-settled') this.#settledElsewhere(delivery);
    return result.value !== 'already-settled';
  }

  /**
   * The handler slot frees at once and the ack is batched (the message counts as in progress until
   * it is written). A suspect's slot frees only once its ack is written: the isolation lane starts
   * the next suspect then, and if that one kills the process, this one must not still be pending,
   * or it would run again after every crash until it too passed maxDeliveries.
   */
  #settleAfterSuccess(delivery: D): Promise<void> | undefined {
    const settled = this.#settleOriginal(delivery);
    return delivery.suspect ? settled : undefined;
  }

  /**
   * Acks (batched) or moves the lane's commit point. The promise is for callers that must wait;
   * undefined when the commit point moved at once (offset settlement), which saves a promise per message.
   */
  #settleOriginal(delivery: D): Promise<void> | undefined {
    if (this.#acks) {
      this.#settling.add(delivery);
      return this.#acks.add(delivery);
    }
    this.#settledElsewhere(delivery);
    return undefined;
  }

  /** The original is settled (or needs no broker call of its own): only the commit point may move. */
  #settledElsewhere(delivery: D): void {
    if (!this.#commits || !delivery.position) return;
    const next = this.#ledger.settle(delivery.position.lane, delivery.position.offset);
    if (next !== undefined) void this.#commits.add([delivery.position.lane, next]);
  }

  #countHandlerErrors(failures: readonly { error: unknown }[], eventType: string | undefined): void {
    this.#counters.handlerErrors += failures.length;
    if (!this.#metrics.enabled) return;
    for (const failure of failures) {
      this.#instruments.handlerErrors.add(1, { ...this.#attributes, 'eventsource.event.type': eventType, 'error.type': errorName(failure.error) });
    }
  }
}

const BROKER_NAMES: Readonly<Record<string, string>> = { redis: 'Redis', rabbitmq: 'RabbitMQ', kafka: 'Kafka' };

/** How logs name the broker. */
function brokerName(system: string): string {
  return BROKER_NAMES[system] ?? system;
}
