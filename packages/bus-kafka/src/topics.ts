import type { IAdminClient, TopicDescription } from '@confluentinc/kafka-javascript';
import { kafka } from './native.js';

/**
 * Topic layout, for prefix `p` and consumer group `g`:
 *
 * | topic         | partitions          | written by                    | read by                 |
 * |---------------|---------------------|-------------------------------|-------------------------|
 * | `p`           | `partitions`        | publish(), keyed by aggregate | every group             |
 * | `p.retry.g`   | `partitions`        | group g's failed attempts     | group g only            |
 * | `p.dlq.g`     | 1                   | group g's dead letters        | the DLQ admin calls     |
 *
 * Retries and dead letters are per group, so another group never sees a retry copy. The DLQ has
 * one partition so "oldest first" is one order, and a purge is one deleteRecords call.
 */
export interface KafkaTopics {
  readonly main: string;
  readonly retry: string;
  readonly dlq: string;
}

export function topicNames(prefix: string, group: string): KafkaTopics {
  return { main: prefix, retry: `${prefix}.retry.${group}`, dlq: `${prefix}.dlq.${group}` };
}

/** Kafka's "topic already exists" error code. */
const TOPIC_ALREADY_EXISTS = 36;

/**
 * Creates whichever of `topics` are missing. Concurrent creators are fine: "already exists" counts
 * as success. Resolves once the broker has created them.
 */
export async function ensureTopics(
  admin: IAdminClient,
  topics: readonly { readonly name: string; readonly partitions: number }[],
  replicationFactor: number,
  timeoutMs: number,
): Promise<string[]> {
  const existing = new Set(await new Promise<string[]>((resolve, reject) => admin.listTopics({ timeout: timeoutMs }, (error, names) => (error ? reject(error) : resolve(names)))));
  const missing = topics.filter((topic) => !existing.has(topic.name));
  await Promise.all(
    missing.map(
      (topic) =>
        new Promise<void>((resolve, reject) =>
          admin.createTopic({ topic: topic.name, num_partitions: topic.partitions, replication_factor: replicationFactor }, timeoutMs, (error) =>
            error && error.code !== TOPIC_ALREADY_EXISTS ? reject(error) : resolve(),
          ),
        ),
    ),
  );
  return missing.map((topic) => topic.name);
}

export interface PartitionOffsets {
  readonly partition: number;
  /** First offset still in the log. */
  readonly low: number;
  /** Offset the next record will get. */
  readonly high: number;
}

/** Low and high watermarks of every partition of `topic`. */
export async function watermarks(admin: IAdminClient, topic: string, timeoutMs: number): Promise<PartitionOffsets[]> {
  const partitions = await partitionIds(admin, topic, timeoutMs);
  const { OffsetSpec } = kafka;
  const query = (spec: unknown) =>
    new Promise<{ partition: number; offset: number }[]>((resolve, reject) =>
      admin.listOffsets(
        partitions.map((partition) => ({ topic, partition, offset: spec as never })),
        { timeout: timeoutMs },
        (error, result) => (error ? reject(error) : resolve(result)),
      ),
    );
  const [low, high] = await Promise.all([query(OffsetSpec.EARLIEST), query(OffsetSpec.LATEST)]);
  const lows = new Map(low.map((r) => [r.partition, r.offset]));
  return high
    .map((r) => ({ partition: r.partition, low: lows.get(r.partition) ?? 0, high: r.offset }))
    .sort((a, b) => a.partition - b.partition);
}

export async function partitionIds(admin: IAdminClient, topic: string, timeoutMs: number): Promise<number[]> {
  const [description] = await new Promise<TopicDescription[]>((resolve, reject) =>
    admin.describeTopics([topic], { timeout: timeoutMs }, (error, result) => (error ? reject(error) : resolve(result))),
  );
  if (!description || description.error) {
    throw new Error(`Topic ${topic} is not there (${description?.error?.message ?? 'not described'}); connect() creates it unless createTopics is false.`);
  }
  return description.partitions.map((p) => p.partition).sort((a, b) => a - b);
}

/** Committed offsets of `group` on `topic`, per partition (absent: nothing committed). */
export async function committedOffsets(admin: IAdminClient, group: string, topic: string, partitions: readonly number[], timeoutMs: number): Promise<Map<number, number>> {
  const results = await new Promise<{ partitions: { topic: string; partition: number; offset: number }[] }[]>((resolve, reject) =>
    admin.listConsumerGroupOffsets([{ groupId: group, partitions: partitions.map((partition) => ({ topic, partition })) }], { timeout: timeoutMs }, (error, result) =>
      error ? reject(error) : resolve(result),
    ),
  );
  const out = new Map<number, number>();
  for (const p of results[0]?.partitions ?? []) if (p.offset >= 0) out.set(p.partition, p.offset);
  return out;
}
