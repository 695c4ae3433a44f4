import { HEADER, type Logger } from '@eventsource/core';
import { deadLetterHeaders, errorMessage, stripFailureHeaders, type DeadLetterDetails, type DeadLetterInfo } from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import { isPermanentReplyError, type Connections } from './connection.js';
import { encodeRetryPayload, messageToFields, type EntryMessage } from './entry.js';
import {
  MAX_DEAD_LETTER_VALUES,
  RETRY_DONE,
  RETRY_TO_DLQ,
  RETRY_TO_RETRY,
  STREAM_TO_DLQ,
  STREAM_TO_RETRY,
  runScript,
} from './scripts.js';
import type { MutableCounters } from './stats.js';

/** One entry handed to this consumer, from the shared stream or from the group's retry schedule. */
export type Delivery =
  | {
      readonly source: 'stream';
      /** Stream entry id. */
      readonly id: string;
      readonly message: EntryMessage;
      /** Times Redis handed this entry out (1 for a fresh read). */
      readonly deliveries: number;
    }
  | {
      readonly source: 'retry';
      /** Retry id in the group's schedule. */
      readonly id: string;
      /** Id of the original stream entry. */
      readonly originalId: string;
      readonly message: EntryMessage;
      readonly deliveries: number;
    };

export function originalIdOf(delivery: Delivery): string {
  return delivery.source === 'stream' ? delivery.id : delivery.originalId;
}

/**
 * How a settlement write ended: `done`; `skipped` (another member had settled the entry first);
 * `abandoned` (Redis unreachable until the shutdown deadline: the entry stays pending); `failed`
 * (Redis refused the write for good, e.g. a script error or a missing permission).
 */
type WriteResult = 'done' | 'skipped' | 'abandoned' | 'failed';

/** Envelope headers a minimal dead letter keeps: enough to identify, decode and trace the event. */
const ENVELOPE_HEADERS: readonly string[] = [
  HEADER.eventType,
  HEADER.eventId,
  HEADER.aggregateType,
  HEADER.aggregateId,
  HEADER.aggregateVersion,
  HEADER.contentType,
  HEADER.traceparent,
  HEADER.tracestate,
];

interface AckBatch {
  readonly ids: string[];
  readonly done: Promise<void>;
  readonly resolve: () => void;
}

/**
 * How an outcome becomes durable in Redis. Every path that writes something (a retry, a dead
 * letter) does so in the same Lua script that acknowledges the original, so the entry is never
 * acknowledged without its successor existing. Plain acks are batched into one XACK per tick.
 * A write that fails because Redis is unreachable is tried again with backoff until it succeeds
 * or the bus gives up at its shutdown deadline; an entry left unsettled stays pending and is
 * redelivered. A write Redis refuses for good is never retried: a dead letter falls back to a
 * minimal one, anything else is logged and left pending for redelivery (and, past
 * maxDeliveries, dead-lettered).
 */
export class Settler {
  readonly #connections: Connections;
  readonly #config: ResolvedConfig;
  readonly #logger: Logger;
  readonly #counters: MutableCounters;
  readonly #onRetryScheduled: (delayMs: number) => void;
  readonly #onAcked: (ids: readonly string[]) => void;
  #batch: AckBatch | undefined;
  readonly #flushing = new Set<Promise<void>>();
  /** After this time (ms since epoch) failing writes are given up and left for redelivery. */
  abandonAt = Number.POSITIVE_INFINITY;
  /** Settlements given up at the shutdown deadline since the last start (their entries stay pending). */
  abandoned = 0;

  constructor(
    connections: Connections,
    config: ResolvedConfig,
    logger: Logger,
    counters: MutableCounters,
    onRetryScheduled: (delayMs: number) => void,
    onAcked: (ids: readonly string[]) => void,
  ) {
    this.#connections = connections;
    this.#config = config;
    this.#logger = logger;
    this.#counters = counters;
    this.#onRetryScheduled = onRetryScheduled;
    this.#onAcked = onAcked;
  }

  /** Acknowledges the delivery; resolves once Redis has it (or it was left pending at the deadline). */
  ack(delivery: Delivery): Promise<void> {
    if (delivery.source === 'retry') {
      const { retrySchedule, retryData } = this.#config.keys;
      return this.#durable('remove a finished retry', () => runScript(this.#connections.commands, RETRY_DONE, [retrySchedule, retryData], [delivery.id])).then(
        (result) => {
          if (result === 'abandoned') this.abandoned++;
        },
      );
    }
    let batch = this.#batch;
    if (!batch) {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      batch = this.#batch = { ids: [], done, resolve };
      setImmediate(() => this.#flushBatch());
    }
    batch.ids.push(delivery.id);
    return batch.done;
  }

  async retry(delivery: Delivery, delayMs: number, attempt: number, retryHeaders: Record<string, string>): Promise<boolean> {
    const { keys, consumerGroup } = this.#config;
    const originalId = originalIdOf(delivery);
    const headers = { ...delivery.message.headers, ...retryHeaders };
    const payload = encodeRetryPayload({ o: originalId, f: messageToFields(headers, delivery.message) });
    const retryId = `${originalId}/${attempt}`;
    const delay = Math.max(0, Math.round(delayMs));
    const result = await this.#durable('schedule a retry', () =>
      delivery.source === 'stream'
        ? runScript(this.#connections.commands, STREAM_TO_RETRY, [keys.stream, keys.retrySchedule, keys.retryData], [
            consumerGroup,
            delivery.id,
            delay,
            retryId,
            payload,
          ])
        : runScript(this.#connections.commands, RETRY_TO_RETRY, [keys.retrySchedule, keys.retryData], [delivery.id, retryId, delay, payload]),
    );
    if (result === 'done') {
      this.#counters.eventsRetried++;
      this.#onRetryScheduled(delay);
      return true;
    }
    this.#afterUnwritten(delivery, 'schedule a retry', result);
    return false;
  }

  async deadLetter(delivery: Delivery, details: DeadLetterDetails): Promise<boolean> {
    const { keys, consumerGroup, enableDlq } = this.#config;
    const info: DeadLetterInfo = {
      ...details,
      originalDestination: keys.stream,
      originalId: originalIdOf(delivery),
      consumerGroup,
      deadLetteredAt: new Date().toISOString(),
    };
    let fields: string[] = [];
    if (enableDlq) {
      fields = messageToFields({ ...stripFailureHeaders(delivery.message.headers), ...deadLetterHeaders(info) }, delivery.message);
      if (fields.length > MAX_DEAD_LETTER_VALUES) fields = this.#minimalDeadLetter(delivery, info, fields.length / 2);
    }
    const what = enableDlq ? 'write a dead letter' : 'drop an entry';
    let result = await this.#writeDeadLetter(delivery, fields, what);
    if (result === 'failed' && enableDlq) {
      const minimal = this.#minimalDeadLetter(delivery, info, fields.length / 2);
      if (minimal.length < fields.length) result = await this.#writeDeadLetter(delivery, minimal, 'write a minimal dead letter');
    }
    if (result !== 'done') {
      this.#afterUnwritten(delivery, what, result);
      return false;
    }
    if (enableDlq) {
      this.#counters.eventsDeadLettered++;
      this.#logger.warn('Entry dead-lettered', {
        stream: keys.stream,
        group: consumerGroup,
        id: originalIdOf(delivery),
        reason: details.reason,
        error: details.errorMessage,
        dlq: keys.dlq,
      });
    } else {
      this.#counters.eventsDropped++;
      this.#logger.error('Entry dropped: its retries are exhausted and enableDlq is false', {
        stream: keys.stream,
        group: consumerGroup,
        id: originalIdOf(delivery),
        reason: details.reason,
        error: details.errorMessage,
      });
    }
    return true;
  }

  #writeDeadLetter(delivery: Delivery, fields: readonly string[], what: string): Promise<WriteResult> {
    const { keys, consumerGroup, dlqMaxLen } = this.#config;
    return this.#durable(what, () =>
      delivery.source === 'stream'
        ? runScript(this.#connections.commands, STREAM_TO_DLQ, [keys.stream, keys.dlq], [consumerGroup, delivery.id, dlqMaxLen, ...fields])
        : runScript(this.#connections.commands, RETRY_TO_DLQ, [keys.retrySchedule, keys.retryData, keys.dlq], [delivery.id, dlqMaxLen, ...fields]),
    );
  }

  /**
   * A dead letter Redis can always take: the body, the key, the envelope headers and why. Used
   * for entries with more fields than a script can pass on, and when the full one was refused.
   */
  #minimalDeadLetter(delivery: Delivery, info: DeadLetterInfo, fieldCount: number): string[] {
    const kept: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const name of ENVELOPE_HEADERS) {
      const value = delivery.message.headers[name];
      if (value !== undefined) kept[name] = value;
    }
    const note = ` (the entry had ${fieldCount} fields; this dead letter keeps only the envelope headers, key and body)`;
    return messageToFields({ ...kept, ...deadLetterHeaders({ ...info, errorMessage: info.errorMessage + note }) }, delivery.message);
  }

  #afterUnwritten(delivery: Delivery, what: string, result: WriteResult): void {
    if (result === 'abandoned') this.abandoned++;
    else if (result === 'failed') {
      this.#logger.error(`Redis refused to ${what}; the entry stays pending and is handed out again after reclaimIdleMs`, {
        stream: this.#config.keys.stream,
        group: this.#config.consumerGroup,
        id: originalIdOf(delivery),
      });
    }
  }

  /** Resolves when every acknowledgement handed over so far is written (or given up). */
  async flush(): Promise<void> {
    if (this.#batch) this.#flushBatch();
    while (this.#flushing.size > 0) await Promise.all([...this.#flushing]);
  }

  #flushBatch(): void {
    const batch = this.#batch;
    if (!batch) return;
    this.#batch = undefined;
    const { keys, consumerGroup } = this.#config;
    const running = this.#durable('acknowledge entries', () =>
      this.#connections.commands.call('XACK', [keys.stream, consumerGroup, ...batch.ids]).then(() => 1),
    ).then((result) => {
      if (result === 'abandoned') this.abandoned += batch.ids.length;
      this.#flushing.delete(running);
      // Written, or given up at the deadline (then still pending in Redis): either way no longer ours to keep alive.
      this.#onAcked(batch.ids);
      batch.resolve();
    });
    this.#flushing.add(running);
  }

  /** Runs `write` until it succeeds, Redis refuses it for good, or the shutdown deadline passes. */
  async #durable(what: string, write: () => Promise<unknown>): Promise<WriteResult> {
    let delay = this.#config.reconnectBaseDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        // Settlement scripts answer 0 when another member settled the same entry first.
        return (await write()) === 0 ? 'skipped' : 'done';
      } catch (error) {
        if (isPermanentReplyError(error)) {
          this.#logger.error(`Could not ${what}: Redis refused it, so trying again cannot help`, { error: errorMessage(error) });
          return 'failed';
        }
        if (Date.now() + delay > this.abandonAt) {
          this.#logger.error(`Could not ${what} before the shutdown deadline; the entry stays pending and will be redelivered`, {
            error: errorMessage(error),
          });
          return 'abandoned';
        }
        if (attempt === 1 || attempt % 20 === 0) {
          this.#logger.warn(`Could not ${what}; trying again`, { attempt, error: errorMessage(error) });
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay = Math.min(this.#config.reconnectMaxDelayMs, delay * 2);
      }
    }
  }
}
