// Events
export {
  DomainEvent,
  defineEvent,
  fields,
  isDomainEvent,
  payloadOf,
  withCausation,
  type AnyEventClass,
  type BaseEventInit,
  type DefineEventOptions,
  type Event,
  type EventClass,
  type EventEnvelopeFields,
  type EventInit,
  type EventOf,
  type PayloadFields,
  type PayloadOf,
  type PayloadSpec,
} from './events/domain-event.js';
export { EventRegistry, defaultRegistry } from './events/registry.js';
export type { StandardSchemaV1 } from './events/standard-schema.js';

// Wire envelope
export {
  EnvelopeCodec,
  DEFAULT_MAX_BODY_BYTES,
  type Envelope,
  type EnvelopeCodecOptions,
  type IncomingEnvelope,
} from './envelope/codec.js';
export { HEADER, type EnvelopeHeaders, type HeaderName } from './envelope/headers.js';
export type { DeadLetterInfo, DeadLetterReason } from './envelope/failure-headers.js';

// Handlers, subscriptions, dispatch
export type { Handler, HandlerFunction, HandlerObject } from './handlers/normalize.js';
export type { DispatchOutcome } from './dispatch/dispatcher.js';
export { RetryPolicy, type RetryDecision, type RetryPolicyOptions } from './retry/retry-policy.js';

// Buses
export {
  DEFAULT_MAX_BACKGROUND_TASKS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  type EventBus,
  type EventBusBaseOptions,
  type EventPublisher,
  type PublishOptions,
  type ShutdownResult,
  type SubscribeOptions,
  type Subscriber,
  type Unsubscribe,
} from './bus/event-bus.js';
export type { BrokerEventBus, BusHealth, DeadLetterMessage, DeadLetterQueue } from './bus/broker-bus.js';
export type { BrokerBusOptions } from './broker/options.js';
export type { BusStats } from './broker/stats.js';
export { InMemoryEventBus, type InMemoryEventBusOptions, type InMemoryEventBusStats } from './bus/in-memory-event-bus.js';

// Observability
export {
  SPAN_NAMES,
  noopTracer,
  extractTraceContext,
  type Span,
  type SpanAttributeValue,
  type SpanAttributes,
  type SpanKind,
  type SpanName,
  type StartSpanOptions,
  type TraceContext,
  type Tracer,
} from './tracing/tracer.js';
export {
  METRIC_NAMES,
  noopMetrics,
  type Counter,
  type Histogram,
  type InstrumentOptions,
  type MetricAttributes,
  type MetricName,
  type Metrics,
  type Observe,
} from './tracing/metrics.js';
export { consoleLogger, silentLogger, type Logger } from './logger.js';

// Aggregates
export { AggregateRoot } from './aggregates/aggregate-root.js';
export { InMemoryEventStore, NO_STREAM, type AppendResult, type EventStore } from './aggregates/event-store.js';
export { AggregateRepository, type AggregateRepositoryOptions } from './aggregates/aggregate-repository.js';

// Errors
export {
  AggregateNotFoundError,
  BusClosedError,
  ConcurrencyError,
  ConfigError,
  DlqMessageNotFoundError,
  DuplicateEventTypeError,
  ERROR_CODES,
  EnvelopeDecodeError,
  EventSourceError,
  HandlerDispatchError,
  HandlerTimeoutError,
  InvalidEventError,
  InvalidHandlerError,
  NotConnectedError,
  PublishError,
  PublishTimeoutError,
  TransportError,
  UnknownEventTypeError,
  isEventSourceError,
  type DecodeFailureReason,
  type ErrorCode,
  type HandlerFailure,
} from './errors.js';
