import type { Logger } from '@eventsource/core';
import { deadLetterHeaders, errorMessage, stripFailureHeaders, type DeadLetterDetails, type DeadLetterInfo } from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import type { Connections } from './connection.js';
import { encodeRetryPayload, messageToFields, type EntryMessage } from './entry.js';
import { RETRY_DONE, RETRY_TO_DLQ, RETRY_TO_RETRY, STREAM_TO_DLQ, STREAM_TO_RETRY, runScript } from './scripts.js';
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

interface AckBatch {
  readonly ids: string[];
  readonly done: Promise<void>;
  readonly resolve: () => void;
}

/**
 * How an outcome becomes durable in Redis. Every path that writes something (a retry, a dead
 * letter) does so in the same Lua script that acknowledges the original, so the entry is never
 * acknowledged without its successor existing. Plain acks are batched into one XACK per tick.
 * A write that fails (Redis down) is tried again with backoff until it succeeds or the bus gives
 * up at its shutdown deadline; an entry left unsettled stays pending and is redelivered.
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
        () => undefined,
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
    const written = await this.#durable('schedule a retry', () =>
      delivery.source === 'stream'
        ? runScript(this.#connections.commands, STREAM_TO_RETRY, [keys.stream, keys.retrySchedule, keys.retryData], [
            consumerGroup,
            delivery.id,
            delay,
            retryId,
            payload,
          ]).then(() => 1)
        : runScript(this.#connections.commands, RETRY_TO_RETRY, [keys.retrySchedule, keys.retryData], [delivery.id, retryId, delay, payload]),
    );
    if (written) {
      this.#counters.eventsRetried++;
      this.#onRetryScheduled(delay);
    }
    return written;
  }

  async deadLetter(delivery: Delivery, details: DeadLetterDetails): Promise<boolean> {
    const { keys, consumerGroup, enableDlq } = this.#config;
    let fields: string[] = [];
    if (enableDlq) {
      const info: DeadLetterInfo = {
        ...details,
        originalDestination: keys.stream,
        originalId: originalIdOf(delivery),
        consumerGroup,
        deadLetteredAt: new Date().toISOString(),
      };
      fields = messageToFields({ ...stripFailureHeaders(delivery.message.headers), ...deadLetterHeaders(info) }, delivery.message);
    }
    const written = await this.#durable(enableDlq ? 'write a dead letter' : 'drop an entry', () =>
      delivery.source === 'stream'
        ? runScript(this.#connections.commands, STREAM_TO_DLQ, [keys.stream, keys.dlq], [consumerGroup, delivery.id, ...fields]).then(() => 1)
        : runScript(this.#connections.commands, RETRY_TO_DLQ, [keys.retrySchedule, keys.retryData, keys.dlq], [delivery.id, ...fields]),
    );
    if (!written) return false;
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
    ).then(() => {
      this.#flushing.delete(running);
      // Written, or given up at the deadline (then still pending in Redis): either way no longer ours to keep alive.
      this.#onAcked(batch.ids);
      batch.resolve();
    });
    this.#flushing.add(running);
  }

  /** Runs `write` until it succeeds; false when given up at the deadline (the entry stays pending). */
  async #durable(what: string, write: () => Promise<unknown>): Promise<boolean> {
    let delay = this.#config.reconnectBaseDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await write();
        // Retry-schedule scripts answer 0 when another consumer settled the same retry first.
        return result !== 0;
      } catch (error) {
        if (Date.now() + delay > this.abandonAt) {
          this.#logger.error(`Could not ${what} before the shutdown deadline; the entry stays pending and will be redelivered`, {
            error: errorMessage(error),
          });
          return false;
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
