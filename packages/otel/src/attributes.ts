import { SPAN_NAMES, type SpanAttributes, type SpanName } from '@eventsource/core';
import type { Attributes } from '@opentelemetry/api';

/**
 * Attribute keys this package reads or adds. Messaging semantic-convention names where the
 * conventions define one (semconv 1.27+: `messaging.operation.type` is `send`, no longer `publish`);
 * `eventsource.*` otherwise. The README lists every key a span can carry, and a test holds the two
 * together.
 */
export const ATTR = {
  messagingSystem: 'messaging.system',
  destinationName: 'messaging.destination.name',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  messageId: 'messaging.message.id',
  consumerGroup: 'messaging.consumer.group.name',
  batchCount: 'messaging.batch.message_count',
  partition: 'messaging.destination.partition.id',
  kafkaOffset: 'messaging.kafka.offset',
  errorType: 'error.type',
  eventType: 'eventsource.event.type',
  eventId: 'eventsource.event.id',
  aggregateType: 'eventsource.aggregate.type',
  aggregateId: 'eventsource.aggregate.id',
  handlerName: 'eventsource.handler.name',
  handlerCount: 'eventsource.handler.count',
  attempt: 'eventsource.attempt',
} as const;

/** The semconv operation name and type per span (the operation name is ours to choose). */
const OPERATION: Readonly<Record<SpanName, { readonly name: string; readonly type: string } | undefined>> = {
  [SPAN_NAMES.publish]: { name: 'publish', type: 'send' },
  [SPAN_NAMES.dispatch]: { name: 'process', type: 'process' },
  // A handler span is an internal step of processing, not a messaging operation of its own.
  [SPAN_NAMES.handle]: undefined,
};

/**
 * Core's span attributes, shaped for OpenTelemetry: undefined values dropped, the operation name
 * and type per the current semantic conventions, the event id under `eventsource.event.id` too
 * (core reports it as `messaging.message.id`), and the attempt number where known.
 */
export function toOtelAttributes(name: SpanName, input: SpanAttributes | undefined, attempt: number | undefined): Attributes {
  const out: Attributes = {};
  if (input) {
    for (const key in input) {
      const value = input[key];
      if (value !== undefined) out[key] = value;
    }
  }
  const operation = OPERATION[name];
  if (operation) {
    out[ATTR.operationType] = operation.type;
    out[ATTR.operationName] = operation.name;
  }
  const messageId = out[ATTR.messageId];
  if (messageId !== undefined && out[ATTR.eventId] === undefined) out[ATTR.eventId] = messageId;
  if (attempt !== undefined && out[ATTR.attempt] === undefined && name !== SPAN_NAMES.publish) out[ATTR.attempt] = attempt;
  return out;
}

/**
 * `error.type`: low cardinality, the failure's class. A HandlerDispatchError names its first
 * failure's type (`errorType`), the same string a dead letter carries in `dlq-error-type`.
 */
export function errorTypeOf(error: unknown): string {
  if (error === null || error === undefined) return '_OTHER';
  if (typeof error === 'object' || typeof error === 'function') {
    try {
      const carried = (error as { errorType?: unknown }).errorType;
      if (typeof carried === 'string' && carried.length > 0) return carried;
      const named = (error as { name?: unknown }).name;
      if (typeof named === 'string' && named.length > 0) return named;
      const ctor = (error as { constructor?: { name?: unknown } }).constructor?.name;
      if (typeof ctor === 'string' && ctor.length > 0 && ctor !== 'Object') return ctor;
    } catch {
      // A hostile getter: fall through to the generic type.
    }
    return '_OTHER';
  }
  return typeof error;
}
