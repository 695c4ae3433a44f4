/**
 * Header names of the wire envelope, the same on every transport (AMQP headers, Kafka headers,
 * Redis stream fields). Lower-case and dash-separated so they survive every broker unchanged.
 */
export const HEADER = {
  eventType: 'event-type',
  eventId: 'event-id',
  aggregateType: 'aggregate-type',
  aggregateId: 'aggregate-id',
  aggregateVersion: 'aggregate-version',
  contentType: 'content-type',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  // retry bookkeeping
  attempt: 'attempt',
  firstFailureAt: 'first-failure-at',
  lastFailureAt: 'last-failure-at',
  lastError: 'last-error',
  // dead-letter metadata
  dlqReason: 'dlq-reason',
  dlqErrorType: 'dlq-error-type',
  dlqErrorMessage: 'dlq-error-message',
  dlqAttempts: 'dlq-attempts',
  dlqOriginalDestination: 'dlq-original-destination',
  dlqOriginalId: 'dlq-original-id',
  dlqConsumerGroup: 'dlq-consumer-group',
  dlqDeadLetteredAt: 'dlq-dead-lettered-at',
} as const;

export type HeaderName = (typeof HEADER)[keyof typeof HEADER];

export const JSON_CONTENT_TYPE = 'application/json';

/** Headers as transports hand them over: string values, possibly missing. */
export type EnvelopeHeaders = Readonly<Record<string, string | undefined>>;
