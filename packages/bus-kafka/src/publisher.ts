import type { DeliveryReport, MessageHeader, Producer } from '@confluentinc/kafka-javascript';
import type { Envelope } from '@eventsource/core';
import { CODES, isNativeError } from './native.js';

type Settle = (error: unknown, report: DeliveryReport | undefined) => void;

/** Headers as the native client takes and gives them: an array of single-key objects. */
export function toKafkaHeaders(headers: Readonly<Record<string, string>>): MessageHeader[] {
  const out: MessageHeader[] = [];
  for (const name of Object.keys(headers)) {
    const value = headers[name];
    if (value !== undefined) out.push({ [name]: value });
  }
  return out;
}

/**
 * Kafka headers as the envelope's string record. A prototype-less object, so a header named
 * `__proto__` or `constructor` is just a header. A repeated header keeps its last value.
 */
export function fromKafkaHeaders(headers: readonly MessageHeader[] | undefined): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  if (!headers) return out;
  for (const header of headers) {
    for (const name of Object.keys(header)) {
      const value = header[name];
      out[name] = typeof value === 'string' ? value : value === undefined || value === null ? '' : value.toString('utf8');
    }
  }
  return out;
}

/** One record to produce. */
export interface Outgoing {
  readonly topic: string;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: MessageHeader[];
}

/**
 * Produces records and resolves once the broker acknowledged them (delivery reports, awaited
 * together for a batch). librdkafka batches by itself (linger.ms, batch.num.messages); when its
 * queue is full, producing waits for space instead of failing.
 */
export class Publisher {
  readonly #producer: Producer;

  constructor(producer: Producer) {
    this.#producer = producer;
    producer.on('delivery-report', (error, report) => {
      const settle = report?.opaque as Settle | undefined;
      if (typeof settle === 'function') settle(error, report);
    });
  }

  /** Writes `envelopes` in list order to `topic`, keyed by aggregate id. */
  async publish(topic: string, envelopes: readonly Envelope[]): Promise<void> {
    const pending: Promise<DeliveryReport>[] = new Array(envelopes.length);
    for (let i = 0; i < envelopes.length; i++) {
      const envelope = envelopes[i]!;
      pending[i] = this.produce({ topic, key: envelope.key, value: Buffer.from(envelope.body, 'utf8'), headers: toKafkaHeaders(envelope.headers) });
    }
    const results = await Promise.allSettled(pending);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Produces one record; resolves with its delivery report. */
  async produce(record: Outgoing): Promise<DeliveryReport> {
    let settle: Settle = () => {};
    const delivered = new Promise<DeliveryReport>((resolve, reject) => {
      settle = (error, report) => (error ? reject(error) : resolve(report!));
    });
    for (let waits = 0; ; waits++) {
      try {
        this.#producer.produce(record.topic, null, record.value, record.key, Date.now(), settle, record.headers);
        break;
      } catch (error) {
        if (!isNativeError(error) || error.code !== CODES.queueFull) throw error;
        // The local queue is full: delivery reports free it. Wait, bounded by the caller's publish.
        await new Promise((resolve) => setTimeout(resolve, Math.min(50, 1 + waits)));
      }
    }
    return delivered;
  }
}
