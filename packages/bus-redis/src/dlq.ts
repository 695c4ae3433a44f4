import { DlqMessageNotFoundError, HEADER, type DeadLetterMessage, type DomainEvent, type EnvelopeCodec } from '@eventsource/core';
import { readDeadLetterInfo, stripFailureHeaders, type DeadLetterInfo } from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import type { Client } from './connection.js';
import { encodeRetryPayload, fieldsToMessage, messageToFields, parseEntries } from './entry.js';
import { DLQ_TO_RETRY, PURGE, runScript } from './scripts.js';

/**
 * The group's dead-letter stream (`{prefix}:stream_dlq:{group}`): list, count, replay, purge.
 * Replay never re-adds to the shared stream (every other group would get the event again); it
 * puts the entry on this group's retry schedule, due at once, with its failure history cleared.
 */
export class DeadLetters {
  readonly #config: ResolvedConfig;
  readonly #codec: EnvelopeCodec;

  constructor(config: ResolvedConfig, codec: EnvelopeCodec) {
    this.#config = config;
    this.#codec = codec;
  }

  async list(client: Client, count: number): Promise<DeadLetterMessage[]> {
    const reply = await client.call('XRANGE', [this.#config.keys.dlq, '-', '+', 'COUNT', String(count)]);
    return Promise.all(
      parseEntries(reply)
        .filter((e): e is { id: string; fields: string[] } => e.fields !== null)
        .map((e) => this.#toMessage(e.id, e.fields)),
    );
  }

  async count(client: Client): Promise<number> {
    return Number(await client.call('XLEN', [this.#config.keys.dlq]));
  }

  async replay(client: Client, id: string): Promise<void> {
    const entries = parseEntries(await client.call('XRANGE', [this.#config.keys.dlq, id, id]).catch(() => []));
    const entry = entries[0];
    if (!entry || entry.id !== id || entry.fields === null) throw new DlqMessageNotFoundError(id);
    if (!(await this.#replayEntry(client, entry.id, entry.fields))) throw new DlqMessageNotFoundError(id);
  }

  async replayAll(client: Client): Promise<number> {
    const { dlq } = this.#config.keys;
    // Stop at the newest entry seen now: entries dead-lettered again during the replay wait for the next call.
    const last = parseEntries(await client.call('XREVRANGE', [dlq, '+', '-', 'COUNT', '1']))[0]?.id;
    if (last === undefined) return 0;
    let replayed = 0;
    let from = '-';
    for (;;) {
      const page = parseEntries(await client.call('XRANGE', [dlq, from, last, 'COUNT', '100']));
      if (page.length === 0) break;
      for (const entry of page) {
        if (entry.fields !== null && (await this.#replayEntry(client, entry.id, entry.fields))) replayed++;
      }
      from = `(${page[page.length - 1]!.id}`;
      if (page[page.length - 1]!.id === last) break;
    }
    return replayed;
  }

  async purge(client: Client): Promise<number> {
    return Number(await runScript(client, PURGE, [this.#config.keys.dlq], []));
  }

  async #replayEntry(client: Client, dlqId: string, fields: string[]): Promise<boolean> {
    const { keys } = this.#config;
    const message = fieldsToMessage(fields);
    const info = readDeadLetterInfo(message.headers);
    const originalId = info?.originalId || dlqId;
    const payload = encodeRetryPayload({ o: originalId, f: messageToFields(stripFailureHeaders(message.headers), message) });
    const done = await runScript(client, DLQ_TO_RETRY, [keys.dlq, keys.retrySchedule, keys.retryData], [dlqId, `replay:${dlqId}`, payload]);
    return Number(done) === 1;
  }

  async #toMessage(id: string, fields: string[]): Promise<DeadLetterMessage> {
    const message = fieldsToMessage(fields);
    const headers = stripFailureHeaders(message.headers);
    const body = message.body ?? '';
    let event: DomainEvent | undefined;
    try {
      event = await this.#codec.decode({ headers, body });
    } catch {
      event = undefined;
    }
    const info: DeadLetterInfo = readDeadLetterInfo(message.headers) ?? {
      reason: 'malformed_json',
      errorType: 'Unknown',
      errorMessage: 'Entry in the dead-letter stream carries no dead-letter metadata.',
      attempts: 0,
      firstFailureAt: '',
      lastFailureAt: '',
      originalDestination: this.#config.keys.stream,
      originalId: id,
      consumerGroup: this.#config.consumerGroup,
      deadLetteredAt: '',
    };
    return { id, event, eventType: headers[HEADER.eventType] ?? event?.eventType, headers, body, info };
  }
}
