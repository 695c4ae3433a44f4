/**
 * `@eventsource/core/transport`: the building blocks for writing a transport. Applications do not
 * need this entry point; the broker packages are built from it.
 */
export { EventBusBase, eventTypeName } from './bus/event-bus.js';
export { BackgroundTasks } from './bus/background-tasks.js';
export { MessageProcessor, type MessageProcessorOptions, type ProcessOutcome } from './consume/message-processor.js';
export { dispatch, type DispatchContext, type DispatchOutcome } from './dispatch/dispatcher.js';
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
