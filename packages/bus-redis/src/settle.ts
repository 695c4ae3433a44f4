import { HEADER, type IncomingEnvelope, type Logger } from '@eventsource/core';
import { errorMessage, type Claim, type DeadLetterWrite, type Delivery, type RetryWrite, type SuccessorWrite } from '@eventsource/core/transport';
import { ENTRY_FIELDS_ALLOWANCE, type ResolvedConfig } from './config.js';
import { isPermanentReplyError, type Connections } from './connection.js';
import { encodeRetryPayload, messageToFields, type EntryMessage, type Field } from './entry.js';
import {
  HAND_BACK,
  MAX_DEAD_LETTER_VALUES,
  RECORD_START,
  RELEASE_RETRIES,
  RETRY_DONE,
  RETRY_TO_DLQ,
  RETRY_TO_RETRY,
  STREAM_TO_DLQ,
  STREAM_TO_RETRY,
  runScript,
} from './scripts.js';

/** One entry handed to this consumer, from the shared stream or from the group's retry schedule. */
export interface RedisDelivery extends Delivery {
  readonly source: 'stream' | 'retry';
  /** Stream entry id, or retry id in the group's schedule. */
  readonly id: string;
  /** Id of the original stream entry (the same as `id` for stream entries). */
  readonly originalId: string;
  readonly message: EntryMessage;
  /**
   * A retry's hand-out token from the claim that fetched it: the retry's scripts act only while it
   * still matches, so a holder that stalled past the visibility timeout neither extends, hands
   * back nor settles (on failure) a retry another member claimed meanwhile.
   */
  readonly token?: string;
}

export function streamDelivery(id: string, message: EntryMessage, deliveries: number, claim: Claim): RedisDelivery {
  return {
    source: 'stream',
    id,
    originalId: id,
    message,
    envelope: envelopeOf(message),
    deliveryCount: deliveries,
    // Handed out before and never settled: whoever held it stopped (crashed, stalled, lost its connection).
    suspect: deliveries > 1,
    claim,
  };
}

export function retryDelivery(id: string, originalId: string, message: EntryMessage, handedOut: number, token: string, claim: Claim): RedisDelivery {
  return {
    source: 'retry',
    id,
    originalId,
    token,
    message,
    envelope: envelopeOf(message),
    deliveryCount: handedOut,
    suspect: handedOut > 1,
    claim,
  };
}

/** A retry without a token matches no hand-out: its scripts then treat it as claimed by another member. */
export function tokenOf(delivery: RedisDelivery): string {
  return delivery.token ?? '';
}

function envelopeOf(message: EntryMessage): IncomingEnvelope {
  if (message.oversized !== undefined) {
    return {
      headers: message.headers,
      body: message.body,
      invalid: {
        reason: 'too_large',
        message: `Stream entry is ${message.oversized} bytes with every field counted, over maxBodyBytes plus ${ENTRY_FIELDS_ALLOWANCE} bytes for headers. Keep large data out of stream fields, or raise maxBodyBytes on every consumer.`,
      },
    };
  }
  if (message.invalid === undefined) return { headers: message.headers, body: message.body };
  return { headers: message.headers, body: message.body, invalid: { reason: 'malformed_json', message: `Stream entry cannot be decoded: ${message.invalid}.` } };
}

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

/** Longest envelope header value a minimal dead letter keeps. */
const MINIMAL_HEADER_CHARS = 1024;

/** Starts of a suspect are remembered this long; long enough for any crash loop to show. */
const START_JOURNAL_TTL_MS = 24 * 60 * 60 * 1000;

/**
 * The Redis half of settlement. Every write that involves more than the acknowledgement (a retry,
 * a dead letter) is a Lua script that writes the successor and acknowledges the original in one
 * atomic step, so it reports `settled`. Scripts answer 0 when another member settled the entry
 * first (`already-settled`). Errors are thrown for the kit to retry with backoff.
 */
export class RedisSettlement {
  readonly #connections: Connections;
  readonly #config: ResolvedConfig;
  readonly #logger: Logger;
  readonly #onRetryScheduled: (delayMs: number) => void;

  constructor(connections: Connections, config: ResolvedConfig, logger: Logger, onRetryScheduled: (delayMs: number) => void) {
    this.#connections = connections;
    this.#config = config;
    this.#logger = logger;
    this.#onRetryScheduled = onRetryScheduled;
  }

  /** One XACK for the stream entries of the batch; finished retries leave the schedule. */
  async ack(deliveries: readonly RedisDelivery[]): Promise<void> {
    const { keys, consumerGroup } = this.#config;
    const commands = this.#connections.commands;
    const streamIds: string[] = [];
    const work: Array<Promise<unknown>> = [];
    for (const delivery of deliveries) {
      if (delivery.source === 'stream') streamIds.push(delivery.id);
      else work.push(runScript(commands, RETRY_DONE, [keys.retrySchedule, keys.retryData], [delivery.id]));
    }
    if (streamIds.length > 0) work.push(commands.call('XACK', [keys.stream, consumerGroup, ...streamIds]));
    await Promise.all(work);
  }

  async writeRetry(delivery: RedisDelivery, retry: RetryWrite): Promise<SuccessorWrite> {
    const { keys, consumerGroup, consumerName } = this.#config;
    const payload = encodeRetryPayload(delivery.originalId, messageToFields(retry.headers, delivery.message));
    const retryId = `${delivery.originalId}/${retry.attempt}`;
    const commands = this.#connections.commands;
    const written =
      delivery.source === 'stream'
        ? await runScript(commands, STREAM_TO_RETRY, [keys.stream, keys.retrySchedule, keys.retryData], [consumerGroup, delivery.id, retry.delayMs, retryId, payload, consumerName])
        : await runScript(commands, RETRY_TO_RETRY, [keys.retrySchedule, keys.retryData], [delivery.id, retryId, retry.delayMs, payload, tokenOf(delivery)]);
    if (Number(written) === 0) return 'already-settled';
    this.#onRetryScheduled(retry.delayMs);
    return 'settled';
  }

  /**
   * Writes the dead letter and acknowledges the original in one script. An entry with more fields
   * than a script can pass on, or whose full dead letter Redis refuses, gets a minimal one: the
   * envelope headers, key, body and why.
   */
  async writeDeadLetter(delivery: RedisDelivery, letter: DeadLetterWrite): Promise<SuccessorWrite> {
    let fields = messageToFields(letter.headers, delivery.message);
    if (fields.length > MAX_DEAD_LETTER_VALUES || delivery.message.oversized !== undefined) fields = this.#minimal(delivery, letter, fields.length / 2);
    let written: unknown;
    try {
      written = await this.#deadLetterScript(delivery, fields);
    } catch (error) {
      const minimal = this.#minimal(delivery, letter, fields.length / 2);
      if (!isPermanentReplyError(error) || minimal.length >= fields.length) throw error;
      this.#logger.warn('Redis refused the full dead letter; writing a minimal one', { id: delivery.originalId, error: errorMessage(error) });
      written = await this.#deadLetterScript(delivery, minimal);
    }
    return Number(written) === 0 ? 'already-settled' : 'settled';
  }

  /**
   * Gives entries fetched but never started back to the group without a delivery counted against
   * them, so a live member takes them over at its next reclaim and they keep their full
   * maxDeliveries budget: stream entries go back into the pending list already idle for
   * reclaimIdleMs with their delivery count lowered by the one this fetch added (only those still
   * this consumer's: one another member took over is left with it); retries become due at once
   * with their hand-out count lowered (only those still held under their token: one another
   * member claimed is left with it).
   */
  async handBack(deliveries: readonly RedisDelivery[]): Promise<void> {
    const { keys, consumerGroup, consumerName, reclaimIdleMs } = this.#config;
    const commands = this.#connections.commands;
    const streamArgs: Array<string | number> = [];
    const retryArgs: string[] = [];
    for (const delivery of deliveries) {
      if (delivery.source === 'retry') retryArgs.push(delivery.id, tokenOf(delivery));
      else streamArgs.push(delivery.id, Math.max(0, delivery.deliveryCount - 1));
    }
    const work: Array<Promise<unknown>> = [];
    for (let i = 0; i < streamArgs.length; i += 1000) {
      work.push(runScript(commands, HAND_BACK, [keys.stream], [consumerGroup, consumerName, reclaimIdleMs, ...streamArgs.slice(i, i + 1000)]));
    }
    for (let i = 0; i < retryArgs.length; i += 1000) {
      work.push(runScript(commands, RELEASE_RETRIES, [keys.retrySchedule, keys.retryData], retryArgs.slice(i, i + 1000)));
    }
    await Promise.all(work);
  }

  /**
   * Counts a start of a suspect in the group's start journal and returns its starts so far. Only
   * suspects are journaled (a write per message would cost every message a round trip), so the
   * count adds the first holder's start, which made it a suspect. Hand-outs of batchmates that
   * never started are not starts: that is what keeps them from reaching maxDeliveries.
   */
  async recordStart(delivery: RedisDelivery): Promise<number> {
    const key = `${this.#config.keys.startJournal}:${delivery.id}`;
    return 1 + Number(await runScript(this.#connections.commands, RECORD_START, [key], [START_JOURNAL_TTL_MS]));
  }

  #deadLetterScript(delivery: RedisDelivery, fields: readonly Field[]): Promise<unknown> {
    const { keys, consumerGroup, consumerName, dlqMaxLen } = this.#config;
    const commands = this.#connections.commands;
    return delivery.source === 'stream'
      ? runScript(commands, STREAM_TO_DLQ, [keys.stream, keys.dlq], [consumerGroup, delivery.id, consumerName, dlqMaxLen, ...fields])
      : runScript(commands, RETRY_TO_DLQ, [keys.retrySchedule, keys.retryData, keys.dlq], [delivery.id, tokenOf(delivery), dlqMaxLen, ...fields]);
  }

  #minimal(delivery: RedisDelivery, letter: DeadLetterWrite, fieldCount: number): Field[] {
    const kept: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const name of ENVELOPE_HEADERS) {
      const value = delivery.message.headers[name];
      // A header of an oversized entry may be the large part: kept only when of envelope size.
      if (value !== undefined && value.length <= MINIMAL_HEADER_CHARS) kept[name] = value;
    }
    const note = ` (the entry had ${fieldCount} fields; this dead letter keeps only the envelope headers, key and body)`;
    const headers: Record<string, string> = { ...kept };
    for (const [name, value] of Object.entries(letter.headers)) if (name.startsWith('dlq-') || name.endsWith('-failure-at')) headers[name] = value;
    headers[HEADER.dlqErrorMessage] = (letter.headers[HEADER.dlqErrorMessage] ?? '') + note;
    const { key, body } = delivery.message;
    return messageToFields(headers, { body, key: key !== undefined && key.length <= MINIMAL_HEADER_CHARS ? key : undefined });
  }
}
