import type { IAdminClient, KafkaConsumer, Message } from '@confluentinc/kafka-javascript';
import { stripFailureHeaders, type DeadLetterStore, type StoredDeadLetter } from '@eventsource/core/transport';
import type { ResolvedKafkaConfig } from './config.js';
import { connectClient, disconnectClient, readerProperties } from './connection.js';
import { KAFKA_HEADER, withoutHeaders } from './delivery.js';
import { kafka } from './native.js';
import { fromKafkaHeaders, toKafkaHeaders, type Publisher } from './publisher.js';
import { watermarks } from './topics.js';

const PARTITION = 0;
const ADMIN_TIMEOUT_MS = 10_000;
/** Longest a DLQ scan may take before it fails instead of hanging. */
const SCAN_TIMEOUT_MS = 15_000;

interface Scanned {
  /** Dead letters not replayed, oldest first. */
  readonly live: Array<StoredDeadLetter & { readonly offset: number; readonly key: string | null; readonly value: Buffer | null }>;
  /** The high watermark the scan stopped at. */
  readonly high: number;
}

/**
 * The group's dead letters on a log. A log cannot delete one record, so:
 * - replaying one appends a marker record (`dlq-marker: replayed`, `dlq-replayed-offset`) and
 *   listing skips the records a marker names;
 * - replaying all, and purging, delete the records up to the high watermark read at the start
 *   (Kafka's DeleteRecords: the log start moves, the space is freed); letters dead-lettered during
 *   the call are past that mark and stay.
 * Every call reads the DLQ partition from its start to the high watermark it saw first, so it
 * always returns, however few records there are.
 */
export class KafkaDeadLetters implements DeadLetterStore {
  readonly #config: ResolvedKafkaConfig;
  readonly #admin: () => IAdminClient;
  readonly #publisher: () => Publisher;
  #reader: KafkaConsumer | undefined;
  /** One admin call at a time: they share the reader. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(config: ResolvedKafkaConfig, admin: () => IAdminClient, publisher: () => Publisher) {
    this.#config = config;
    this.#admin = admin;
    this.#publisher = publisher;
  }

  list(count: number): Promise<StoredDeadLetter[]> {
    return this.#serial(async () => (await this.#scan()).live.slice(0, count).map(({ id, headers, body }) => ({ id, headers, body })));
  }

  count(): Promise<number> {
    return this.#serial(async () => (await this.#scan()).live.length);
  }

  replay(id: string): Promise<boolean> {
    return this.#serial(async () => {
      const { live } = await this.#scan();
      const letter = live.find((l) => l.id === id);
      if (!letter) return false;
      await this.#sendBack(letter);
      await this.#publisher().produce({
        topic: this.#config.topics.dlq,
        key: null,
        value: null,
        headers: toKafkaHeaders({ [KAFKA_HEADER.marker]: 'replayed', [KAFKA_HEADER.replayedOffset]: String(letter.offset) }),
      });
      return true;
    });
  }

  replayAll(): Promise<number> {
    return this.#serial(async () => {
      const { live, high } = await this.#scan();
      await Promise.all(live.map((letter) => this.#sendBack(letter)));
      await this.#deleteUpTo(high);
      return live.length;
    });
  }

  purge(): Promise<number> {
    return this.#serial(async () => {
      const { live, high } = await this.#scan();
      await this.#deleteUpTo(high);
      return live.length;
    });
  }

  async close(deadline: number): Promise<void> {
    const reader = this.#reader;
    this.#reader = undefined;
    if (reader) await disconnectClient(reader, deadline);
  }

  /** Back to this group only (its retry topic, due now), with a fresh set of attempts. */
  async #sendBack(letter: Scanned['live'][number]): Promise<void> {
    const headers = withoutHeaders(stripFailureHeaders(letter.headers), [KAFKA_HEADER.originalTopic, KAFKA_HEADER.originalPartition, KAFKA_HEADER.originalOffset]);
    headers[KAFKA_HEADER.retryDueAt] = '0';
    await this.#publisher().produce({ topic: this.#config.topics.retry, key: letter.key, value: letter.value, headers: toKafkaHeaders(headers) });
  }

  async #deleteUpTo(high: number): Promise<void> {
    if (high <= 0) return;
    await new Promise<void>((resolve, reject) =>
      this.#admin().deleteRecords([{ topic: this.#config.topics.dlq, partition: PARTITION, offset: high }], { timeout: ADMIN_TIMEOUT_MS, operationTimeout: ADMIN_TIMEOUT_MS }, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }

  async #scan(): Promise<Scanned> {
    const topic = this.#config.topics.dlq;
    const [offsets] = await watermarks(this.#admin(), topic, ADMIN_TIMEOUT_MS);
    const low = offsets?.low ?? 0;
    const high = offsets?.high ?? 0;
    if (high <= low) return { live: [], high };
    const reader = await this.#openReader();
    reader.assign([{ topic, partition: PARTITION, offset: low }]);
    const records: Message[] = [];
    const deadline = Date.now() + SCAN_TIMEOUT_MS;
    try {
      let next = low;
      while (next < high) {
        if (Date.now() > deadline) {
          throw new Error(`Reading the dead letters of ${topic} stopped at offset ${next} of ${high} after ${SCAN_TIMEOUT_MS / 1000} s; is the broker reachable?`);
        }
        const batch = await new Promise<Message[]>((resolve, reject) => reader.consume(500, (error, messages) => (error ? reject(error) : resolve(messages))));
        for (const message of batch) {
          if (message.offset >= high) continue;
          records.push(message);
          next = message.offset + 1;
        }
      }
    } finally {
      reader.unassign();
    }
    const replayed = new Set<number>();
    const letters: Scanned['live'] = [];
    for (const record of records) {
      const headers = fromKafkaHeaders(record.headers);
      if (headers[KAFKA_HEADER.marker] === 'replayed') {
        replayed.add(Number(headers[KAFKA_HEADER.replayedOffset]));
        continue;
      }
      letters.push({
        id: `${record.topic}/${record.partition}/${record.offset}`,
        offset: record.offset,
        headers,
        body: record.value ?? new Uint8Array(0),
        key: record.key === undefined || record.key === null ? null : record.key.toString(),
        value: record.value,
      });
    }
    return { live: letters.filter((l) => !replayed.has(l.offset)), high };
  }

  async #openReader(): Promise<KafkaConsumer> {
    if (this.#reader?.isConnected()) return this.#reader;
    const reader = new kafka.KafkaConsumer(readerProperties(this.#config) as never);
    await connectClient(reader, ADMIN_TIMEOUT_MS);
    reader.setDefaultConsumeTimeout(200);
    this.#reader = reader;
    return reader;
  }

  #serial<T>(run: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }
}
