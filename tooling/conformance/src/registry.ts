import type { CapabilityName, Scenario } from './scenario.js';
import { brokerLifecycleScenarios } from './scenarios/broker-lifecycle.js';
import { causationScenarios } from './scenarios/causation.js';
import { consumerGroupScenarios } from './scenarios/consumer-groups.js';
import { deadLetterScenarios } from './scenarios/dead-letters.js';
import { deliveryScenarios } from './scenarios/delivery.js';
import { handlerErrorScenarios } from './scenarios/handler-errors.js';
import { handlerTimeoutScenarios } from './scenarios/handler-timeout.js';
import { inputScenarios } from './scenarios/input.js';
import { lifecycleScenarios } from './scenarios/lifecycle.js';
import { loadScenarios } from './scenarios/load.js';
import { orderingScenarios } from './scenarios/ordering.js';
import { outageScenarios } from './scenarios/outage.js';
import { publishTimeoutScenarios } from './scenarios/publish-timeout.js';
import { redeliveryLimitScenarios } from './scenarios/redelivery-limit.js';
import { retryScenarios } from './scenarios/retries.js';
import { subscriptionScenarios } from './scenarios/subscriptions.js';
import { tracingScenarios } from './scenarios/tracing.js';
import type { ConformanceCapabilities, ConformanceHarness } from './types.js';

// No vitest describe/it in this module: the ledger imports it outside the test runner.

/** Every scenario, in report order. */
export const ALL_SCENARIOS: readonly Scenario[] = [
  ...deliveryScenarios,
  ...subscriptionScenarios,
  ...handlerErrorScenarios,
  ...orderingScenarios,
  ...lifecycleScenarios,
  ...brokerLifecycleScenarios,
  ...causationScenarios,
  ...tracingScenarios,
  ...loadScenarios,
  ...inputScenarios,
  ...retryScenarios,
  ...handlerTimeoutScenarios,
  ...consumerGroupScenarios,
  ...redeliveryLimitScenarios,
  ...deadLetterScenarios,
  ...outageScenarios,
  ...publishTimeoutScenarios,
];

/** How the registration line names a capability that is off. */
export const CAPABILITY_LABELS: Readonly<Record<CapabilityName, string>> = {
  orderedPerPublish: 'ordering per publish call',
  exactInMemoryStats: 'exact in-memory stats',
  rawInjection: 'raw injection',
  retries: 'retries',
  retryDoesNotBlock: 'non-blocking retries',
  competingConsumers: 'competing consumers',
  fanOutAcrossGroups: 'fan-out across groups',
  redeliveryAfterCrash: 'redelivery after crash',
  dlqAdmin: 'dead-letter admin',
  brokerLifecycle: 'broker lifecycle',
  traceContext: 'trace context',
  shutdownDeadline: 'shutdown deadline',
  redeliveryLimit: 'redelivery limit',
  handlerTimeout: 'handler timeout',
  outage: 'outage',
};

/** Fills in the optional capabilities (off unless declared). */
export function resolveCapabilities(capabilities: ConformanceCapabilities): Required<ConformanceCapabilities> {
  return {
    orderedPerPublish: false,
    exactInMemoryStats: false,
    brokerLifecycle: false,
    traceContext: false,
    shutdownDeadline: false,
    redeliveryLimit: false,
    handlerTimeout: false,
    outage: false,
    ...capabilities,
  };
}

/** The capabilities `scenario` needs that are off, in the order it lists them. */
export function missingCapabilities(scenario: Scenario, capabilities: ConformanceCapabilities): CapabilityName[] {
  const resolved = resolveCapabilities(capabilities);
  return (scenario.requires ?? []).filter((capability) => !resolved[capability]);
}

/** The scenarios testEventBus() registers for these capabilities. */
export function applicableScenarios(capabilities: ConformanceCapabilities): Scenario[] {
  return ALL_SCENARIOS.filter((scenario) => missingCapabilities(scenario, capabilities).length === 0);
}

/** How many scenarios testEventBus() registers for these capabilities. */
export function scenarioCount(capabilities: ConformanceCapabilities): number {
  return applicableScenarios(capabilities).length;
}

/** `area > title`: unique across the suite, the key of results files and ledger rows. */
export function scenarioKey(scenario: Pick<Scenario, 'area' | 'title'>): string {
  return `${scenario.area} > ${scenario.title}`;
}

/** One line for the test log: what runs, and which promises this transport does not make. */
export function describeRegistration(harness: Pick<ConformanceHarness, 'name' | 'capabilities'>): string {
  const resolved = resolveCapabilities(harness.capabilities);
  const applicable = scenarioCount(resolved);
  const left = ALL_SCENARIOS.length - applicable;
  const line = `conformance[${harness.name}]: ${applicable} scenarios`;
  if (left === 0) return line;
  const off = (Object.keys(CAPABILITY_LABELS) as CapabilityName[])
    .filter((capability) => !resolved[capability])
    .filter((capability) => ALL_SCENARIOS.some((s) => s.requires?.includes(capability) && missingCapabilities(s, resolved).length > 0))
    .map((capability) => CAPABILITY_LABELS[capability]);
  return `${line} (${left} not applicable: ${off.join(', ')})`;
}
