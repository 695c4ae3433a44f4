import { describe, it } from 'vitest';
import { eventually } from './eventually.js';
import { newUniqueId, type CapabilityName, type Scenario, type ScenarioEnv } from './scenario.js';
import { causationScenarios } from './scenarios/causation.js';
import { consumerGroupScenarios } from './scenarios/consumer-groups.js';
import { deadLetterScenarios } from './scenarios/dead-letters.js';
import { deliveryScenarios } from './scenarios/delivery.js';
import { handlerErrorScenarios } from './scenarios/handler-errors.js';
import { inputScenarios } from './scenarios/input.js';
import { lifecycleScenarios } from './scenarios/lifecycle.js';
import { loadScenarios } from './scenarios/load.js';
import { orderingScenarios } from './scenarios/ordering.js';
import { retryScenarios } from './scenarios/retries.js';
import { subscriptionScenarios } from './scenarios/subscriptions.js';
import type { ConformanceCapabilities, ConformanceHarness, TestBus } from './types.js';

const DEFAULT_TIMEOUT_MS = 10_000;

/** Every scenario, in report order. */
export const ALL_SCENARIOS: readonly Scenario[] = [
  ...deliveryScenarios,
  ...subscriptionScenarios,
  ...handlerErrorScenarios,
  ...orderingScenarios,
  ...lifecycleScenarios,
  ...causationScenarios,
  ...loadScenarios,
  ...inputScenarios,
  ...retryScenarios,
  ...consumerGroupScenarios,
  ...deadLetterScenarios,
];

/** How the registration line names a capability that is off. */
const CAPABILITY_LABELS: Readonly<Record<CapabilityName, string>> = {
  orderedPerPublish: 'ordering per publish call',
  exactInMemoryStats: 'exact in-memory stats',
  rawInjection: 'raw injection',
  retries: 'retries',
  retryDoesNotBlock: 'non-blocking retries',
  competingConsumers: 'competing consumers',
  fanOutAcrossGroups: 'fan-out across groups',
  redeliveryAfterCrash: 'redelivery after crash',
  dlqAdmin: 'dead-letter admin',
};

function resolve(capabilities: ConformanceCapabilities): Required<ConformanceCapabilities> {
  return { orderedPerPublish: false, exactInMemoryStats: false, ...capabilities };
}

function applies(scenario: Scenario, capabilities: Required<ConformanceCapabilities>): boolean {
  return (scenario.requires ?? []).every((capability) => capabilities[capability]);
}

/** The scenarios testEventBus() registers for these capabilities. */
export function applicableScenarios(capabilities: ConformanceCapabilities): Scenario[] {
  const resolved = resolve(capabilities);
  return ALL_SCENARIOS.filter((scenario) => applies(scenario, resolved));
}

/** How many scenarios testEventBus() registers for these capabilities. */
export function scenarioCount(capabilities: ConformanceCapabilities): number {
  return applicableScenarios(capabilities).length;
}

/** One line for the test log: what runs, and which promises this transport does not make. */
export function describeRegistration(harness: Pick<ConformanceHarness, 'name' | 'capabilities'>): string {
  const resolved = resolve(harness.capabilities);
  const applicable = scenarioCount(resolved);
  const left = ALL_SCENARIOS.length - applicable;
  const line = `conformance[${harness.name}]: ${applicable} scenarios`;
  if (left === 0) return line;
  const off = (Object.keys(CAPABILITY_LABELS) as CapabilityName[])
    .filter((capability) => !resolved[capability])
    .filter((capability) => ALL_SCENARIOS.some((s) => !applies(s, resolved) && s.requires?.includes(capability)))
    .map((capability) => CAPABILITY_LABELS[capability]);
  return `${line} (${left} not applicable: ${off.join(', ')})`;
}

/**
 * Registers the conformance scenarios for one transport as vitest `describe`/`it` blocks. Call it
 * at the top level of the transport's test file, next to that transport's own tests. Scenarios
 * needing a capability the harness does not declare are not registered at all.
 */
export function testEventBus(harness: ConformanceHarness): void {
  const capabilities = resolve(harness.capabilities);
  const timeoutMs = harness.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const scenarios = applicableScenarios(capabilities);
  console.log(describeRegistration(harness));

  describe(`conformance: ${harness.name}`, () => {
    const areas = [...new Set(scenarios.map((s) => s.area))];
    for (const area of areas) {
      describe(area, () => {
        for (const scenario of scenarios.filter((s) => s.area === area)) {
          it(scenario.title, () => runScenario(harness, capabilities, timeoutMs, scenario), timeoutMs * (scenario.budget ?? 2) + 5_000);
        }
      });
    }
  });
}

async function runScenario(
  harness: ConformanceHarness,
  capabilities: Required<ConformanceCapabilities>,
  timeoutMs: number,
  scenario: Scenario,
): Promise<void> {
  const context = await harness.createContext();
  const cleanups: Array<() => void | Promise<void>> = [];
  const env: ScenarioEnv = {
    harnessName: harness.name,
    capabilities,
    context,
    timeoutMs,
    eventually: (check, ms) => eventually(check, ms ?? timeoutMs),
    async startBus(setup, options): Promise<TestBus> {
      const testBus = await context.createBus(options);
      setup?.(testBus.bus);
      await testBus.start();
      return testBus;
    },
    onCleanup(step) {
      cleanups.push(step);
    },
    uniqueId: newUniqueId,
  };

  const errors: unknown[] = [];
  try {
    await scenario.run(env);
  } catch (error) {
    errors.push(error);
  }
  for (const step of cleanups.reverse()) {
    try {
      await step();
    } catch (error) {
      errors.push(error);
    }
  }
  try {
    await context.cleanup();
  } catch (error) {
    errors.push(error);
  }
  // The scenario's own failure is the interesting one; a cleanup failure only surfaces on its own.
  if (errors.length > 0) throw errors[0];
}
