import type { Delivery, DeliveryPosition } from '@eventsource/core/transport';
import type { PartitionState } from './rebalance.js';

/** A Kafka record as the kit sees it, with what a retry copy or dead letter must carry over. */
export interface KafkaDelivery extends Delivery {
  readonly position: DeliveryPosition;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** The record key (the aggregate id), null when the producer sent none. */
  readonly key: string | null;
  /** The record value, byte for byte. */
  readonly value: Buffer | null;
  /** Retry topic records: when they are due (ms since epoch). */
  readonly dueAt: number;
  readonly state: PartitionState;
}

/** Bus headers on retry copies and dead letters (the envelope's own headers pass through unchanged). */
export const KAFKA_HEADER = {
  /** When a retry copy is due, ms since epoch. */
  retryDueAt: 'retry-due-at',
  /** `topic/partition/offset` of the record on the main topic, carried through retries. */
  origin: 'kafka-origin',
  /** Dead letters: the original record's place. */
  originalTopic: 'dlq-original-topic',
  originalPartition: 'dlq-original-partition',
  originalOffset: 'dlq-original-offset',
  /** DLQ markers: a record saying an earlier dead letter was replayed. */
  marker: 'dlq-marker',
  replayedOffset: 'dlq-replayed-offset',
} as const;

/** A copy of `headers` without `names`. */
export function withoutHeaders(headers: Readonly<Record<string, string>>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!names.includes(name)) out[name] = value;
  return out;
}
