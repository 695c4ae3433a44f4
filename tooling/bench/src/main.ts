import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nowNs, nsToMs } from './harness/clock.js';
import { busyWarning, formatMachine, machineInfo } from './harness/machine.js';
import { writeReport, type ScenarioReport } from './harness/report.js';
import { FULL_SETTINGS, QUICK_SETTINGS, type Scenario } from './harness/scenario.js';
import { formatTable } from './harness/table.js';
import { scenarios } from './scenarios/index.js';

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

const USAGE = `Usage: pnpm bench [scenario…] [--quick] [--list]

  scenario   run only these (default: all). Known: ${scenarios.map((s) => s.name).join(', ')}
  --quick    short runs (about 10 s for in-memory), for a smoke check rather than numbers to quote
  --list     print the scenarios and exit`;

function parseArgs(argv: readonly string[]): { quick: boolean; list: boolean; names: string[] } {
  const flags = new Set(argv.filter((a) => a.startsWith('-') && a !== '--'));
  const names = argv.filter((a) => !a.startsWith('-'));
  for (const flag of flags) {
    if (!['--quick', '--list', '--help', '-h'].includes(flag)) fail(`Unknown option ${flag}.\n\n${USAGE}`);
  }
  if (flags.has('--help') || flags.has('-h')) {
    console.log(USAGE);
    process.exit(0);
  }
  return { quick: flags.has('--quick'), list: flags.has('--list'), names };
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

function select(names: readonly string[]): Scenario[] {
  if (names.length === 0) return [...scenarios];
  const unknown = names.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length) fail(`Unknown scenario ${unknown.join(', ')}. Known: ${scenarios.map((s) => s.name).join(', ')}.`);
  return scenarios.filter((s) => names.includes(s.name));
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const s of scenarios) console.log(`${s.name.padEnd(12)} ${s.description}`);
    return;
  }
  const selected = select(args.names);
  const settings = args.quick ? QUICK_SETTINGS : FULL_SETTINGS;
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const start = nowNs();

  console.log(formatMachine(machine));
  const warning = busyWarning(machine);
  if (warning) console.log(warning);
  console.log(
    `mode ${settings.quick ? 'quick' : 'full'}: warm-up ${settings.warmupMs} ms, ${settings.repeats} repeats × ${settings.runMs} ms per subject, median reported`,
  );

  const reports: ScenarioReport[] = [];
  let failed = false;
  for (const scenario of selected) {
    const scenarioStart = nowNs();
    const elapsed = (): number => Math.round(nsToMs(nowNs() - scenarioStart));
    const available = scenario.checkAvailable ? await scenario.checkAvailable() : true;
    if (available !== true) {
      console.log(`\n[${scenario.name}] skipped: ${available}`);
      reports.push({ name: scenario.name, status: 'skipped', reason: available, durationMs: elapsed() });
      // Asked for by name, a skip is a failure: the caller wanted those numbers.
      if (args.names.includes(scenario.name)) failed = true;
      continue;
    }
    console.log(`\n[${scenario.name}] ${scenario.description}`);
    try {
      const result = await scenario.run({
        settings,
        progress: (line) => console.log(`[${scenario.name} ${(elapsed() / 1000).toFixed(1)}s] ${line}`),
      });
      console.log('');
      for (const table of result.tables) console.log(`${formatTable(table)}\n`);
      for (const note of result.notes ?? []) console.log(`  note: ${note}`);
      reports.push({ name: scenario.name, status: 'ok', durationMs: elapsed(), result });
    } catch (error) {
      failed = true;
      const reason = error instanceof Error ? (error.stack ?? error.message) : String(error);
      console.error(`[${scenario.name}] failed: ${reason}`);
      reports.push({ name: scenario.name, status: 'failed', reason, durationMs: elapsed() });
    }
  }

  const durationMs = Math.round(nsToMs(nowNs() - start));
  const file = await writeReport(RESULTS_DIR, { startedAt, durationMs, machine, settings, scenarios: reports });
  console.log(`\nDone in ${(durationMs / 1000).toFixed(1)} s. JSON: ${path.relative(process.cwd(), file)} (and latest.json)`);
  if (failed) process.exitCode = 1;
}

await main();
