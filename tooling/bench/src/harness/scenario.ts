import type { Table } from './table.js';

export interface BenchSettings {
  readonly quick: boolean;
  /** Time each subject runs before measuring (JIT, inline caches, first allocations). */
  readonly warmupMs: number;
  /** Length of one measured repeat. */
  readonly runMs: number;
  /** Repeats per measurement; the median is reported. */
  readonly repeats: number;
  /** Upper bound on latency samples per repeat. */
  readonly maxLatencySamples: number;
}

export const FULL_SETTINGS: BenchSettings = { quick: false, warmupMs: 300, runMs: 500, repeats: 3, maxLatencySamples: 200_000 };
export const QUICK_SETTINGS: BenchSettings = { quick: true, warmupMs: 60, runMs: 100, repeats: 3, maxLatencySamples: 50_000 };

export interface ScenarioContext {
  readonly settings: BenchSettings;
  /** One line of progress, prefixed with the scenario name. Long work must call it regularly. */
  progress(line: string): void;
}

/** One row of results: a subject (ours or a baseline) on one case. */
export interface Measurement {
  /** What was done, e.g. "publish 1 event/call". Rows with equal case and handlers are compared. */
  readonly case: string;
  /** Who did it, e.g. "eventsource", "node:events", "emittery". */
  readonly subject: string;
  readonly handlers?: number;
  /** What ops/s counts, e.g. "events", "encodes". */
  readonly unit: string;
  readonly opsPerSec?: number;
  readonly opsPerSecRuns?: readonly number[];
  readonly p50Us?: number;
  readonly p99Us?: number;
  readonly latencyRuns?: ReadonlyArray<{ readonly p50Us: number; readonly p99Us: number; readonly samples: number }>;
}

export interface ScenarioResult {
  readonly measurements: readonly Measurement[];
  /** Printed in order; build them with `resultsTable` and `comparisonTable`, or by hand. */
  readonly tables: readonly Table[];
  readonly notes?: readonly string[];
}

export interface Scenario {
  /** The name given on the command line, e.g. `pnpm bench redis`. */
  readonly name: string;
  readonly description: string;
  /**
   * Whether the scenario can run here (e.g. its broker answers). Return a reason to skip it.
   * Omit for scenarios that always can.
   */
  readonly checkAvailable?: () => Promise<true | string>;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}
