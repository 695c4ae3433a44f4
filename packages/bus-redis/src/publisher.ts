import { PublishError, SPAN_NAMES, type DomainEvent, type EnvelopeCodec, type Span, type Tracer } from '@eventsource/core';
import { errorMessage } from '@eventsource/core/transport';
import type { ResolvedConfig } from './config.js';
import type { Client } from './connection.js';
import { appendFields } from './entry.js';

/**
 * Encodes events with core's codec and appends them to the stream: one XADD for one event, one
 * pipelined round trip (in list order) for several. Every XADD trims the stream as configured,
 * so it never grows without bound.
 */
export class Publisher {
  readonly #config: ResolvedConfig;
  readonly #codec: EnvelopeCodec;
  readonly #tracer: Tracer;

  constructor(config: ResolvedConfig, codec: EnvelopeCodec, tracer: Tracer) {
    this.#config = config;
    this.#codec = codec;
    this.#tracer = tracer;
  }

  /** Resolves once Redis has accepted every entry; returns their stream ids. */
  async publish(client: Client, events: readonly DomainEvent[]): Promise<string[]> {
    if (!this.#tracer.enabled) return this.#write(client, events, undefined);
    const span = this.#tracer.startSpan(SPAN_NAMES.publish, {
      kind: 'producer',
      attributes: {
        'messaging.system': 'redis',
        'messaging.operation.type': 'publish',
        'messaging.destination.name': this.#config.keys.stream,
        'messaging.batch.message_count': events.length,
      },
    });
    try {
      const ids = await span.run(() => this.#write(client, events, span));
      span.setStatus('ok');
      return ids;
    } catch (error) {
      span.recordException(error);
      span.setStatus('error', errorMessage(error));
      throw error;
    } finally {
      span.end();
    }
  }

  async #write(client: Client, events: readonly DomainEvent[], span: Span | undefined): Promise<string[]> {
    // Encode everything first: an event that cannot be encoded means nothing is written.
    let trace: Record<string, string> | undefined;
    if (span) this.#tracer.inject(span, (trace = {}));
    const commands = events.map((event) => appendFields(this.#xaddHead(), this.#codec.encode(event, trace)));
    const stream = this.#config.keys.stream;
    if (commands.length === 1) {
      try {
        return [String(await client.call('XADD', commands[0]!))];
      } catch (error) {
        throw new PublishError(`Publishing to ${stream} failed; nothing was written: ${errorMessage(error)}`, { cause: error });
      }
    }
    const pipeline = client.pipeline();
    for (const args of commands) pipeline.call('XADD', args);
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (error) {
      throw new PublishError(`Publishing ${events.length} events to ${stream} failed: ${errorMessage(error)}`, { cause: error });
    }
    const ids: string[] = [];
    let written = 0;
    let firstError: Error | undefined;
    for (const [error, id] of results ?? []) {
      if (error) firstError ??= error;
      else {
        written++;
        ids.push(String(id));
      }
    }
    if (firstError || written !== events.length) {
      throw new PublishError(
        `Publishing to ${stream}: ${written} of ${events.length} events were written, the rest failed: ${errorMessage(firstError ?? 'no reply')}. ` +
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
