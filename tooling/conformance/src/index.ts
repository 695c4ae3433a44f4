export { testEventBus, scenarioCount, describeRegistration } from './test-event-bus.js';
export type {
  ConformanceCapabilities,
  ConformanceContext,
  ConformanceHarness,
  RawMessage,
  TestBus,
  TestBusOptions,
} from './types.js';
export { EVERY_CAPABILITY } from './types.js';
export {
  ConformanceEvents,
  UNREGISTERED_EVENT_TYPE,
  orderPlaced,
  pings,
  type OrderLine,
  type OrderCancelledEvent,
  type OrderPlacedEvent,
  type OrderShippedEvent,
  type PingEvent,
  type UnheardEvent,
} from './events.js';
export { eventually, gate, withTimeout, work, type EventuallyOptions, type Gate } from './eventually.js';
export { Recorder } from './scenario.js';
