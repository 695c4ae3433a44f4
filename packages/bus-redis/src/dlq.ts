import { readDeadLetterInfo, stripFailureHeaders, type DeadLetterStore, type StoredDeadLetter } from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import type { Client } from './connection.js';
import { encodeRetryPayload, fieldsToMessage, messageToFields, parseEntries, type Field } from './entry.js';
import { DLQ_TO_RETRY, PURGE, runScript } from './scripts.js';

/**
 * The group's dead-letter stream (`{prefix}:stream_dlq:{group}`): list, count, replay, purge.
 * Replay never re-adds to the shared stream (every other group would get the event again); it
 * puts the entry on this group's retry schedule, due at once, with its failure history cleared.
 */
export class DeadLetters implements DeadLetterStore {
  readonly #config: ResolvedConfig;
  readonly #client: () => Client;

  constructor(config: ResolvedConfig, client: () => Client) {
    this.#config = config;
    this.#client = client;
  }

  async list(count: number): Promise<StoredDeadLetter[]> {
    const reply = await this.#client().callBuffer('XRANGE', [this.#config.keys.dlq, '-', '+', 'COUNT', String(count)]);
    return parseEntries(reply)
      .filter((e): e is { id: string; fields: Field[] } => e.fields !== null)
      .map((e) => {
        const message = fieldsToMessage(e.fields);
        return { id: e.id, headers: message.headers, body: message.body ?? '' };
      });
  }

  async count(): Promise<number> {
    return Number(await this.#client().call('XLEN', [this.#config.keys.dlq]));
  }

  async replay(id: string): Promise<boolean> {
    // An id that is not a stream id makes XRANGE fail: that is "no such dead letter" too.
    const entries = parseEntries(await this.#client().callBuffer('XRANGE', [this.#config.keys.dlq, id, id]).catch(() => []));
    const entry = entries[0];
    if (!entry || entry.id !== id || entry.fields === null) return false;
    return this.#replayEntry(this.#client(), entry.id, entry.fields);
  }

  async replayAll(): Promise<number> {
    const client = this.#client();
    const { dlq } = this.#config.keys;
    // Stop at the newest entry seen now: entries dead-lettered again during the replay wait for the next call.
    const last = parseEntries(await client.call('XREVRANGE', [dlq, '+', '-', 'COUNT', '1']))[0]?.id;
    if (last === undefined) return 0;
    let replayed = 0;
    let from = '-';
    for (;;) {
      const page = parseEntries(await client.callBuffer('XRANGE', [dlq, from, last, 'COUNT', '100']));
      if (page.length === 0) break;
      for (const entry of page) {
        if (entry.fields !== null && (await this.#replayEntry(client, entry.id, entry.fields))) replayed++;
      }
      from = `(${page[page.length - 1]!.id}`;
      if (page[page.length - 1]!.id === last) break;
    }
    return replayed;
  }

  async purge(): Promise<number> {
    return Number(await runScript(this.#client(), PURGE, [this.#config.keys.dlq], []));
  }

  async #replayEntry(client: Client, dlqId: string, fields: Field[]): Promise<boolean> {
    const { keys } = this.#config;
    const message = fieldsToMessage(fields);
    const info = readDeadLetterInfo(message.headers);
    const originalId = info?.originalId || dlqId;
    const payload = encodeRetryPayload(originalId, messageToFields(stripFailureHeaders(message.headers), message));
    const done = await runScript(client, DLQ_TO_RETRY, [keys.dlq, keys.retrySchedule, keys.retryData], [dlqId, `replay:${dlqId}`, payload]);
    return Number(done) === 1;
  }
}
