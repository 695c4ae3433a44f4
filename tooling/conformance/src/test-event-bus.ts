import { afterAll, describe, it } from 'vitest';
import { eventually } from '@eventsource/testkit';
import { applicableScenarios, describeRegistration, resolveCapabilities, scenarioKey } from './registry.js';
import { buildResults, writeResults } from './results.js';
import { newUniqueId, type Scenario, type ScenarioEnv } from './scenario.js';
import type { ConformanceCapabilities, ConformanceHarness, TestBus } from './types.js';

export { ALL_SCENARIOS, describeRegistration, scenarioCount } from './registry.js';

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Registers the conformance scenarios for one transport as vitest `describe`/`it` blocks. Call it
 * at the top level of the transport's test file, next to that transport's own tests. Scenarios
 * needing a capability the harness does not declare are not registered at all. After the block
 * ran, each scenario's outcome goes to `tooling/conformance/results/<harness>.json` for the ledger.
 */
export function testEventBus(harness: ConformanceHarness): void {
  const capabilities = resolveCapabilities(harness.capabilities);
  const timeoutMs = harness.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const scenarios = applicableScenarios(capabilities);
  const outcomes = new Map<string, 'pass' | 'fail'>();
  console.log(describeRegistration(harness));

  describe(`conformance: ${harness.name}`, () => {
    afterAll(() => {
      writeResults(buildResults(harness.name, harness.transport ?? harness.name, capabilities, outcomes));
    });
    const areas = [...new Set(scenarios.map((s) => s.area))];
    for (const area of areas) {
      describe(area, () => {
        for (const scenario of scenarios.filter((s) => s.area === area)) {
          const key = scenarioKey(scenario);
          it(
            scenario.title,
            async () => {
              // Set first: a scenario that vitest times out never reaches the line after it.
              outcomes.set(key, 'fail');
              await runScenario(harness, capabilities, timeoutMs, scenario);
              outcomes.set(key, 'pass');
            },
            timeoutMs * (scenario.budget ?? 2) + 5_000,
          );
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
