import type { DeadLetterMessage } from '../bus/broker-bus.js';
import type { EnvelopeCodec } from '../envelope/codec.js';
import {
  deadLetterHeaders,
  readDeadLetterInfo,
  stripFailureHeaders,
  type DeadLetterDetails,
  type DeadLetterInfo,
} from '../envelope/failure-headers.js';
import { HEADER } from '../envelope/headers.js';
import type { DomainEvent } from '../events/domain-event.js';
import type { DeadLetterWrite, Delivery, StoredDeadLetter } from './adapter.js';

const utf8 = new TextDecoder('utf-8');

/** What a dead letter of `delivery` records, and the headers it is stored with. */
export function deadLetterWrite(
  delivery: Delivery,
  details: DeadLetterDetails,
  where: { readonly destination: string; readonly consumerGroup: string },
  now: Date = new Date(),
): DeadLetterWrite {
  const info: DeadLetterInfo = {
    ...details,
    originalDestination: where.destination,
    originalId: delivery.originalId ?? delivery.id,
    consumerGroup: where.consumerGroup,
    deadLetteredAt: now.toISOString(),
  };
  const original = delivery.envelope.headers ?? {};
  return { info, headers: { ...stripFailureHeaders(original), ...deadLetterHeaders(info) } };
}

/**
 * A stored dead letter as getDlqMessages() returns it: the event when the body still decodes, the
 * original envelope without failure bookkeeping, the original bytes, and why it is there.
 */
export async function toDeadLetterMessage(
  stored: StoredDeadLetter,
  codec: EnvelopeCodec,
  where: { readonly destination: string; readonly consumerGroup: string },
): Promise<DeadLetterMessage> {
  const headers = stripFailureHeaders(stored.headers);
  const rawBody = typeof stored.body === 'string' ? Buffer.from(stored.body, 'utf8') : stored.body;
  const body = typeof stored.body === 'string' ? stored.body : utf8.decode(stored.body);
  let event: DomainEvent | undefined;
  try {
    event = await codec.decode({ headers, body: stored.body });
  } catch {
    event = undefined;
  }
  const info: DeadLetterInfo = readDeadLetterInfo(stored.headers) ?? {
    reason: 'malformed_json',
    errorType: 'Unknown',
    errorMessage: 'This dead letter carries no dead-letter metadata (written by something other than this library?).',
    attempts: 0,
    firstFailureAt: '',
    lastFailureAt: '',
    originalDestination: where.destination,
    originalId: stored.id,
    consumerGroup: where.consumerGroup,
    deadLetteredAt: '',
  };
  return { id: stored.id, event, eventType: headers[HEADER.eventType] ?? event?.eventType, headers, body, rawBody, info };
}
