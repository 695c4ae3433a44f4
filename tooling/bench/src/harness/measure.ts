import { collectGarbage, nowNs, nsToMs } from './clock.js';
import { median, percentile } from './stats.js';
import type { ScenarioContext } from './scenario.js';

/** One thing being measured, e.g. "eventsource" or "node:events", for one case. */
export interface Subject {
  readonly name: string;
  /** 'sync' ops are timed in a plain loop; 'async' ones are awaited one after another. */
  readonly kind: 'sync' | 'async';
  /** The operation. Build inputs outside it: only this call is on the clock. */
  readonly op: () => unknown;
  /** How many counted units one call handles (100 for a publish of 100 events). Default 1. */
  readonly unitsPerCall?: number;
}

export interface ThroughputResult {
  /** Median over the repeats, in units (events, encodes, …) per second. */
  readonly opsPerSec: number;
  readonly runs: readonly number[];
  readonly callsPerRun: number;
}

export interface LatencyResult {
  /** Medians over the repeats of each repeat's percentile, in microseconds. */
  readonly p50Us: number;
  readonly p99Us: number;
  readonly runs: ReadonlyArray<{ readonly p50Us: number; readonly p99Us: number; readonly samples: number }>;
}

// Sync results land here so the optimiser cannot drop the call as dead code.
let sink: unknown;
export const blackhole = (): unknown => sink;

async function timeCalls(subject: Subject, calls: number): Promise<bigint> {
  const { op } = subject;
  if (subject.kind === 'sync') {
    const start = nowNs();
    for (let i = 0; i < calls; i++) sink = op();
    return nowNs() - start;
  }
  const start = nowNs();
  for (let i = 0; i < calls; i++) await op();
  return nowNs() - start;
}

/** Runs the op for about `ms` and returns its rate in calls per second. */
async function warmUp(subject: Subject, ms: number): Promise<number> {
  let calls = 0;
  let chunk = 16;
  const start = nowNs();
  let elapsedMs = 0;
  while (elapsedMs < ms) {
    await timeCalls(subject, chunk);
    calls += chunk;
    elapsedMs = nsToMs(nowNs() - start);
    if (elapsedMs < ms / 8) chunk *= 2;
  }
  return calls / (elapsedMs / 1000);
}

/** A different starting subject each repeat, so no subject always runs first (or last) in a round. */
function rotate<T>(items: readonly T[], by: number): T[] {
  const n = by % items.length;
  return [...items.slice(n), ...items.slice(0, n)];
}

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/**
 * Throughput of several subjects for one case, measured in interleaved rounds (each repeat times
 * every subject once) so drift in CPU frequency or JIT state is shared rather than pinned on one.
 */
export async function measureThroughput(
  ctx: ScenarioContext,
  label: string,
  subjects: readonly Subject[],
): Promise<Map<string, ThroughputResult>> {
  const { warmupMs, runMs, repeats } = ctx.settings;
  const calls = new Map<string, number>();
  for (const subject of subjects) {
    const rate = await warmUp(subject, warmupMs);
    calls.set(subject.name, Math.max(1, Math.round((rate * runMs) / 1000)));
  }
  const runs = new Map<string, number[]>(subjects.map((s) => [s.name, []]));
  for (let repeat = 0; repeat < repeats; repeat++) {
    const parts: string[] = [];
    for (const subject of rotate(subjects, repeat)) {
      const n = calls.get(subject.name)!;
      collectGarbage();
      const ns = await timeCalls(subject, n);
      const rate = (n * (subject.unitsPerCall ?? 1)) / (Number(ns) / 1e9);
      runs.get(subject.name)!.push(rate);
      parts.push(`${subject.name} ${compact.format(rate)}/s`);
    }
    ctx.progress(`${label} · throughput run ${repeat + 1}/${repeats}: ${parts.join(' · ')}`);
  }
  return new Map(
    subjects.map((s) => {
      const list = runs.get(s.name)!;
      return [s.name, { opsPerSec: median(list), runs: list, callsPerRun: calls.get(s.name)! }];
    }),
  );
}

/**
 * Latency of one awaited call: each sample is timed on its own, so it includes every microtask hop
 * until the call's promise settles. Interleaved like `measureThroughput`.
 */
export async function measureLatency(
  ctx: ScenarioContext,
  label: string,
  subjects: readonly Subject[],
): Promise<Map<string, LatencyResult>> {
  const { warmupMs, runMs, repeats, maxLatencySamples } = ctx.settings;
  for (const subject of subjects) await warmUp(subject, warmupMs);
  const buffer = new Float64Array(maxLatencySamples);
  const runs = new Map<string, Array<{ p50Us: number; p99Us: number; samples: number }>>(subjects.map((s) => [s.name, []]));
  for (let repeat = 0; repeat < repeats; repeat++) {
    const parts: string[] = [];
    for (const subject of rotate(subjects, repeat)) {
      collectGarbage();
      const { op } = subject;
      const deadline = nowNs() + BigInt(Math.round(runMs * 1e6));
      let count = 0;
      while (count < maxLatencySamples) {
        const start = nowNs();
        await op();
        const end = nowNs();
        buffer[count++] = Number(end - start) / 1000;
        if (end >= deadline) break;
      }
      const samples = buffer.subarray(0, count);
      const run = { p50Us: percentile(samples, 50), p99Us: percentile(samples, 99), samples: count };
      runs.get(subject.name)!.push(run);
      parts.push(`${subject.name} p50 ${run.p50Us.toFixed(2)}µs p99 ${run.p99Us.toFixed(2)}µs`);
    }
    ctx.progress(`${label} · latency run ${repeat + 1}/${repeats}: ${parts.join(' · ')}`);
  }
  return new Map(
    subjects.map((s) => {
      const list = runs.get(s.name)!;
      return [
        s.name,
        { p50Us: median(list.map((r) => r.p50Us)), p99Us: median(list.map((r) => r.p99Us)), runs: list },
      ];
    }),
  );
}
