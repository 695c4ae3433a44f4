// Writes docs/conformance.md from the suite's registration and the results files of the last
// run; with --check, fails when the committed file differs from what it would write.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR, readAllResults, resultsFileName, type HarnessResults } from '../results.js';
import { LEDGER_PATH_FROM_ROOT, LEDGER_TRANSPORTS, renderLedger, resolveTransports } from './ledger.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const ledgerPath = `${root}${LEDGER_PATH_FROM_ROOT}`;
const check = process.argv.includes('--check');

const found = readAllResults();
const transports = resolveTransports(LEDGER_TRANSPORTS, found);
const results = new Map<string, HarnessResults | undefined>(found.map((run) => [run.harness, run]));
const missing: string[] = [];
for (const { harnesses } of transports) {
  for (const harness of harnesses) {
    if (!results.has(harness)) {
      missing.push(`${RESULTS_DIR}${resultsFileName(harness)}`);
      results.set(harness, undefined);
    }
  }
}
const failed = [...results.values()].flatMap((run) =>
  run ? run.scenarios.filter((s) => s.status === 'fail').map((s) => `${run.harness}: ${s.area} > ${s.title}`) : [],
);
const generated = renderLedger(results, transports);

if (check) {
  let committed: string | undefined;
  try {
    committed = readFileSync(ledgerPath, 'utf8');
  } catch {
    committed = undefined;
  }
  if (committed === generated) {
    console.log(`${LEDGER_PATH_FROM_ROOT} is up to date.`);
  } else {
    const why: string[] = [];
    if (committed === undefined) why.push(`${LEDGER_PATH_FROM_ROOT} does not exist.`);
    else {
      const a = committed.split('\n');
      const b = generated.split('\n');
      const at = a.findIndex((line, i) => line !== b[i]);
      const line = at === -1 ? Math.min(a.length, b.length) : at;
      why.push(`First difference at line ${line + 1}:`, `  committed: ${a[line] ?? '(end of file)'}`, `  generated: ${b[line] ?? '(end of file)'}`);
    }
    if (missing.length > 0) why.push(`No results from the last run for: ${missing.join(', ')} (run the full test suite first).`);
    if (failed.length > 0) why.push(`Failing scenarios in the last run:`, ...failed.map((f) => `  ${f}`));
    console.error(
      [
        `${LEDGER_PATH_FROM_ROOT} is out of date with the conformance suite and its last run.`,
        ...why,
        'Fix: run the tests (`pnpm test`), then `pnpm --filter @eventsource/conformance ledger`, and commit docs/conformance.md.',
      ].join('\n'),
    );
    process.exitCode = 1;
  }
} else {
  mkdirSync(dirname(ledgerPath), { recursive: true });
  writeFileSync(ledgerPath, generated);
  console.log(`wrote ${LEDGER_PATH_FROM_ROOT}${missing.length > 0 ? ` (no results yet for ${missing.length} harness(es): shown as not run)` : ''}`);
  if (failed.length > 0) console.log(`failing in the last run:\n${failed.map((f) => `  ${f}`).join('\n')}`);
}
