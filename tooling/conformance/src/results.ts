import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ALL_SCENARIOS, missingCapabilities, resolveCapabilities, scenarioKey } from './registry.js';
import type { ConformanceCapabilities } from './types.js';

/** Where testEventBus() writes one JSON file per harness; gitignored, read by the ledger. */
export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

export type ScenarioStatus = 'pass' | 'fail' | 'not run' | 'n/a';

export interface ScenarioResult {
  readonly area: string;
  readonly title: string;
  readonly status: ScenarioStatus;
  /** For n/a: the capabilities that are off. */
  readonly missing?: readonly string[];
}

/** One harness's last run. Nothing in it varies between two green runs, so the ledger is reproducible. */
export interface HarnessResults {
  readonly harness: string;
  readonly transport: string;
  readonly capabilities: Required<ConformanceCapabilities>;
  readonly scenarios: readonly ScenarioResult[];
}

export function resultsFileName(harness: string): string {
  return `${harness.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '')}.json`;
}

/** Every scenario of the suite, with its outcome (`pass`/`fail`), `n/a` or `not run` (filtered out, or the run stopped). */
export function buildResults(
  harness: string,
  transport: string,
  capabilities: ConformanceCapabilities,
  outcomes: ReadonlyMap<string, 'pass' | 'fail'>,
): HarnessResults {
  const resolved = resolveCapabilities(capabilities);
  return {
    harness,
    transport,
    capabilities: resolved,
    scenarios: ALL_SCENARIOS.map((scenario) => {
      const missing = missingCapabilities(scenario, resolved);
      if (missing.length > 0) return { area: scenario.area, title: scenario.title, status: 'n/a', missing };
      return { area: scenario.area, title: scenario.title, status: outcomes.get(scenarioKey(scenario)) ?? 'not run' };
    }),
  };
}

export function writeResults(results: HarnessResults, dir = RESULTS_DIR): string {
  mkdirSync(dir, { recursive: true });
  const path = `${dir}/${resultsFileName(results.harness)}`;
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  return path;
}

/** The harness's last results, or undefined when it never ran here. */
export function readResults(harness: string, dir = RESULTS_DIR): HarnessResults | undefined {
  try {
    return JSON.parse(readFileSync(`${dir}/${resultsFileName(harness)}`, 'utf8')) as HarnessResults;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Every results file in `dir` (none when it does not exist). */
export function readAllResults(dir = RESULTS_DIR): HarnessResults[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return names.map((name) => JSON.parse(readFileSync(`${dir}/${name}`, 'utf8')) as HarnessResults);
}
