/**
 * `@eventsource/core/transport`: the broker kit for writing a transport. Applications do not need
 * this entry point; the broker packages are built from it. See WRITING-A-TRANSPORT.md.
 */
// The kit
export { BrokerEventBusBase, type BrokerKitSettings } from './broker/broker-event-bus-base.js';
export type {
  AdapterKit,
  BrokerAdapter,
  ConnectionState,
  DeadLetterStore,
  DeadLetterWrite,
  Delivery,
  DeliveryPosition,
  DeliverySink,
  RetryWrite,
  StoredDeadLetter,
  SuccessorWrite,
} from './broker/adapter.js';
export { Claim } from './broker/claim.js';
export { Backoff, sleep } from './broker/backoff.js';
export { DeliveryPump, type DeliveryPumpOptions } from './broker/delivery-pump.js';
export { Settler } from './broker/settler.js';
export { Batcher, OffsetLedger, writeDurably, type DurableResult, type DurableWriteOptions } from './broker/settlement.js';
export { deadLetterWrite, toDeadLetterMessage } from './broker/dead-letters.js';
export { LogThrottle } from './broker/log-throttle.js';
export {
  BROKER_DEFAULTS,
  boolean,
  defaultConsumerName,
  identifier,
  integer,
  milliseconds,
  oneOf,
  resolveBrokerOptions,
  type ResolvedBrokerOptions,
} from './broker/options.js';
export { newKitCounters, type KitCounters } from './broker/stats.js';
export { redact } from './broker/redact.js';

// Lower-level building blocks
export { EventBusBase, eventTypeName } from './bus/event-bus.js';
export { BackgroundTasks } from './bus/background-tasks.js';
export { MessageProcessor, type MessageProcessorOptions, type ProcessOutcome } from './consume/message-processor.js';
export { dispatch, HandlerWatch, type DispatchContext, type DispatchOutcome } from './dispatch/dispatcher.js';
export {
  deadLetterHeaders,
  readDeadLetterInfo,
  readFailureHistory,
  retryHeaders,
  stripFailureHeaders,
  type DeadLetterDetails,
  type DeadLetterInfo,
  type DeadLetterReason,
  type FailureHistory,
} from './envelope/failure-headers.js';
export { parseJsonSafely } from './envelope/safe-json.js';
export { normalizeHandler, type NormalizedHandler } from './handlers/normalize.js';
export { SubscriptionRegistry } from './subscriptions/subscription-registry.js';
export { isTraceContext } from './tracing/tracer.js';
export { errorMessage, errorName } from './errors.js';
