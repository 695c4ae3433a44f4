import type { DecodeFailureReason } from '../errors.js';
import { HEADER, type EnvelopeHeaders } from './headers.js';

/** Why a message was dead-lettered. Stable strings; alert on them. */
export type DeadLetterReason =
  | 'max_retries_exceeded'
  | 'retries_disabled'
  /** Started maxDeliveries times without being settled: it keeps killing (or stalling) its consumers. */
  | 'max_deliveries_exceeded'
  /** No handler in this consumer group subscribes to its type (with `unsubscribedTypes: 'dead-letter'`). */
  | 'no_subscribers'
  | DecodeFailureReason;

/** Retry bookkeeping carried on a message between attempts. */
export interface FailureHistory {
  /** Failed attempts so far (0 for a fresh message). */
  readonly attempt: number;
  readonly firstFailureAt: string | undefined;
  readonly lastFailureAt: string | undefined;
}

/** Why a message failed for good: what the consume path decides, before a transport stores it. */
export interface DeadLetterDetails {
  readonly reason: DeadLetterReason;
  readonly errorType: string;
  readonly errorMessage: string;
  /** Handler attempts made (0 when the message could not be decoded at all). */
  readonly attempts: number;
  readonly firstFailureAt: string;
  readonly lastFailureAt: string;
}

/** Everything a dead letter records about why it is there. */
export interface DeadLetterInfo extends DeadLetterDetails {
  /** The stream, queue or topic it came from. */
  readonly originalDestination: string;
  /** The broker's id for the original message (stream entry id, offset, message id). */
  readonly originalId: string;
  readonly consumerGroup: string;
  readonly deadLetteredAt: string;
}

const MAX_ERROR_MESSAGE = 2000;

export function readFailureHistory(headers: EnvelopeHeaders | undefined): FailureHistory {
  const raw = headers?.[HEADER.attempt];
  const attempt = raw === undefined ? 0 : Number.parseInt(raw, 10);
  return {
    attempt: Number.isFinite(attempt) && attempt > 0 ? attempt : 0,
    firstFailureAt: headers?.[HEADER.firstFailureAt],
    lastFailureAt: headers?.[HEADER.lastFailureAt],
  };
}

/** Headers for the next attempt after a failure at `now`. */
export function retryHeaders(previous: FailureHistory, error: unknown, now: Date): Record<string, string> {
  const at = now.toISOString();
  return {
    [HEADER.attempt]: String(previous.attempt + 1),
    [HEADER.firstFailureAt]: previous.firstFailureAt ?? at,
    [HEADER.lastFailureAt]: at,
    [HEADER.lastError]: truncate(error instanceof Error ? error.message : String(error)),
  };
}

export function deadLetterHeaders(info: DeadLetterInfo): Record<string, string> {
  return {
    [HEADER.dlqReason]: info.reason,
    [HEADER.dlqErrorType]: info.errorType,
    [HEADER.dlqErrorMessage]: truncate(info.errorMessage),
    [HEADER.dlqAttempts]: String(info.attempts),
    [HEADER.firstFailureAt]: info.firstFailureAt,
    [HEADER.lastFailureAt]: info.lastFailureAt,
    [HEADER.dlqOriginalDestination]: info.originalDestination,
    [HEADER.dlqOriginalId]: info.originalId,
    [HEADER.dlqConsumerGroup]: info.consumerGroup,
    [HEADER.dlqDeadLetteredAt]: info.deadLetteredAt,
  };
}

export function readDeadLetterInfo(headers: EnvelopeHeaders): DeadLetterInfo | undefined {
  const reason = headers[HEADER.dlqReason];
  if (reason === undefined) return undefined;
  return {
    reason: reason as DeadLetterReason,
    errorType: headers[HEADER.dlqErrorType] ?? 'Error',
    errorMessage: headers[HEADER.dlqErrorMessage] ?? '',
    attempts: Number.parseInt(headers[HEADER.dlqAttempts] ?? '0', 10) || 0,
    firstFailureAt: headers[HEADER.firstFailureAt] ?? '',
    lastFailureAt: headers[HEADER.lastFailureAt] ?? '',
    originalDestination: headers[HEADER.dlqOriginalDestination] ?? '',
    originalId: headers[HEADER.dlqOriginalId] ?? '',
    consumerGroup: headers[HEADER.dlqConsumerGroup] ?? '',
    deadLetteredAt: headers[HEADER.dlqDeadLetteredAt] ?? '',
  };
}

/** Headers for a replayed dead letter: the original envelope, with failure bookkeeping removed. */
export function stripFailureHeaders(headers: EnvelopeHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || FAILURE_HEADERS.has(name)) continue;
    out[name] = value;
  }
  return out;
}

const FAILURE_HEADERS: ReadonlySet<string> = new Set([
  HEADER.attempt,
  HEADER.firstFailureAt,
  HEADER.lastFailureAt,
  HEADER.lastError,
  HEADER.dlqReason,
  HEADER.dlqErrorType,
  HEADER.dlqErrorMessage,
  HEADER.dlqAttempts,
  HEADER.dlqOriginalDestination,
  HEADER.dlqOriginalId,
  HEADER.dlqConsumerGroup,
  HEADER.dlqDeadLetteredAt,
]);

function truncate(text: string): string {
  return text.length > MAX_ERROR_MESSAGE ? `${text.slice(0, MAX_ERROR_MESSAGE)}…` : text;
}
