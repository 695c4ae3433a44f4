import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { MachineInfo } from './machine.js';
import type { BenchSettings, ScenarioResult } from './scenario.js';

export interface ScenarioReport {
  readonly name: string;
  readonly status: 'ok' | 'skipped' | 'failed';
  readonly reason?: string;
  readonly durationMs: number;
  readonly result?: ScenarioResult;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly machine: MachineInfo;
  readonly settings: BenchSettings;
  readonly scenarios: readonly ScenarioReport[];
}

/** Writes `<timestamp>.json` (kept for comparing runs) and `latest.json` (overwritten). */
export async function writeReport(dir: string, report: BenchReport): Promise<string> {
  await mkdir(dir, { recursive: true });
  // Colons are not allowed in file names on every system.
  const stamp = report.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const file = path.join(dir, `${stamp}.json`);
  const text = `${JSON.stringify(report, null, 2)}\n`;
  await writeFile(file, text);
  await writeFile(path.join(dir, 'latest.json'), text);
  return file;
}
