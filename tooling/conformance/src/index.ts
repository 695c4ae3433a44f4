export { testEventBus } from './test-event-bus.js';
export { ALL_SCENARIOS, applicableScenarios, describeRegistration, missingCapabilities, scenarioCount, scenarioKey } from './registry.js';
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
export { Recorder } from './scenario.js';
export { brokerBusOptions, brokerTestBus } from './broker-harness.js';
// The shared test kit, so a transport's tests need this one devDependency.
export * from '@eventsource/testkit';
export {
  CROSS_PROCESS_GROUPS,
  testCrossProcessTrace,
  type CrossProcessTraceHarness,
} from './cross-process-trace/suite.js';
export { memoryTracing, registerOtelGlobals, toSpanRecord, type SpanRecord } from './cross-process-trace/telemetry.js';
