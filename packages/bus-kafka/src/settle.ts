import { HEADER } from '@eventsource/core';
import type { DeadLetterWrite, RetryWrite, SuccessorWrite } from '@eventsource/core/transport';
import type { KafkaTopics } from './topics.js';
import { KAFKA_HEADER, withoutHeaders, type KafkaDelivery } from './delivery.js';
import { isNativeError } from './native.js';
import { toKafkaHeaders, type Publisher } from './publisher.js';

/**
 * Successor writes. Kafka cannot produce and commit in one step (short of transactions), so both
 * return 'written' once the delivery report is in: the kit then moves the commit point past the
 * original. A crash in between repeats the write (at-least-once), never loses the message.
 */
export class KafkaSettlement {
  constructor(
    private readonly publisher: Publisher,
    private readonly topics: KafkaTopics,
  ) {}

  /** A copy on the group's retry topic, due `delayMs` from now; other groups never read it. */
  async writeRetry(delivery: KafkaDelivery, retry: RetryWrite): Promise<SuccessorWrite> {
    const headers: Record<string, string> = { ...retry.headers };
    headers[KAFKA_HEADER.retryDueAt] = String(Date.now() + retry.delayMs);
    headers[KAFKA_HEADER.origin] = retry.headers[KAFKA_HEADER.origin] ?? delivery.id;
    await this.publisher.produce({ topic: this.topics.retry, key: delivery.key, value: delivery.value, headers: toKafkaHeaders(headers) });
    return 'written';
  }

  /** The group's dead-letter topic, with where the record first came from. */
  async writeDeadLetter(delivery: KafkaDelivery, letter: DeadLetterWrite): Promise<SuccessorWrite> {
    const origin = letter.headers[KAFKA_HEADER.origin] ?? delivery.id;
    const headers = withoutHeaders(letter.headers, [KAFKA_HEADER.retryDueAt, KAFKA_HEADER.origin]);
    const [topic, partition, offset] = splitId(origin);
    headers[HEADER.dlqOriginalId] = origin;
    headers[KAFKA_HEADER.originalTopic] = topic;
    headers[KAFKA_HEADER.originalPartition] = partition;
    headers[KAFKA_HEADER.originalOffset] = offset;
    await this.publisher.produce({ topic: this.topics.dlq, key: delivery.key, value: delivery.value, headers: toKafkaHeaders(headers) });
    return 'written';
  }
}

/** `topic/partition/offset` (topic names cannot hold `/`). */
export function splitId(id: string): [topic: string, partition: string, offset: string] {
  const parts = id.split('/');
  return [parts[0] ?? '', parts[1] ?? '', parts[2] ?? ''];
}

/** Kafka error codes a retry cannot fix: authorization, authentication, sizes, a lost group membership. */
const PERMANENT = new Set([
  10, // MSG_SIZE_TOO_LARGE
  17, // INVALID_TOPIC_EXCEPTION
  18, // RECORD_LIST_TOO_LARGE
  22, // ILLEGAL_GENERATION (commit after this member left the generation)
  25, // UNKNOWN_MEMBER_ID
  29, // TOPIC_AUTHORIZATION_FAILED
  30, // GROUP_AUTHORIZATION_FAILED
  31, // CLUSTER_AUTHORIZATION_FAILED
  58, // SASL_AUTHENTICATION_FAILED
  -169, // local: authentication
  -186, // local: invalid argument
]);

export function isPermanentKafkaError(error: unknown): boolean {
  if (!isNativeError(error)) return false;
  return error.isFatal === true || PERMANENT.has(error.code);
}
