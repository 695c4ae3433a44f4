// The Confluent client is CommonJS: its named exports are read from the default import.
import kafkaModule from '@confluentinc/kafka-javascript';

export const kafka = kafkaModule;

/** librdkafka error codes the bus reacts to. */
export const CODES = {
  /** Local: the producer queue is full (back off, then produce again). */
  queueFull: -184,
  /** Local: partitions assigned (rebalance callback). */
  assign: -175,
  /** Local: partitions revoked (rebalance callback). */
  revoke: -174,
  /** Local: timed out. */
  timedOut: -185,
} as const;

/** An error from librdkafka as the client hands it over. */
export interface NativeError {
  readonly message: string;
  readonly code: number;
  readonly isFatal?: boolean;
  readonly isRetriable?: boolean;
}

export function isNativeError(error: unknown): error is NativeError {
  return typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'number' && typeof (error as { message?: unknown }).message === 'string';
}
