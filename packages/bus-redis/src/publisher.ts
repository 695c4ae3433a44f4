import { PublishError, type Envelope } from '@eventsource/core';
import { errorMessage, redact } from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import type { Client } from './connection.js';
import { appendFields } from './entry.js';

/**
 * Appends encoded events to the stream: one XADD for one event, one pipelined round trip (in list
 * order) for several. Every XADD trims the stream as configured, so it never grows without bound.
 */
export class Publisher {
  readonly #config: ResolvedConfig;

  constructor(config: ResolvedConfig) {
    this.#config = config;
  }

  /** Resolves once Redis has accepted every entry; returns their stream ids. */
  async publish(client: Client, envelopes: readonly Envelope[]): Promise<string[]> {
    const stream = this.#config.keys.stream;
    if (envelopes.length === 1) {
      try {
        return [String(await client.call('XADD', appendFields(this.#xaddHead(), envelopes[0]!)))];
      } catch (error) {
        throw new PublishError(`Publishing to ${stream} failed; nothing was written: ${redact(errorMessage(error))}`, { cause: error });
      }
    }
    const pipeline = client.pipeline();
    for (const envelope of envelopes) pipeline.call('XADD', appendFields(this.#xaddHead(), envelope));
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      throw new PublishError(`Publishing ${envelopes.length} events to ${stream} failed: ${redact(errorMessage(error))}`, { cause: error });
    }
    const ids: string[] = [];
    let firstError: Error | undefined;
    for (const [error, id] of results ?? []) {
      if (error) firstError ??= error;
      else ids.push(String(id));
    }
    if (firstError || ids.length !== envelopes.length) {
      throw new PublishError(
        `Publishing to ${stream}: ${ids.length} of ${envelopes.length} events were written, the rest failed: ${redact(errorMessage(firstError ?? 'no reply'))}. ` +
          'Publishing again is safe for idempotent handlers (delivery is at-least-once).',
        { cause: firstError },
      );
    }
    return ids;
  }

  /** XADD's arguments before the fields: the stream, its trimming, the auto id. */
  #xaddHead(): string[] {
    const { keys, maxLen, maxAgeMs } = this.#config;
    if (maxLen > 0) return [keys.stream, 'MAXLEN', '~', String(maxLen), '*'];
    if (maxAgeMs > 0) return [keys.stream, 'MINID', '~', `${Date.now() - maxAgeMs}-0`, '*'];
    return [keys.stream, '*'];
  }
}
