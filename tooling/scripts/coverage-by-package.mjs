#!/usr/bin/env node
// Prints line coverage per package from vitest's json-summary, so each package's figure (and
// core's >= 90% floor, enforced by vitest's thresholds) is visible at the end of `pnpm test`.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const summary = JSON.parse(readFileSync('coverage/coverage-summary.json', 'utf8'));
const packages = new Map();
for (const [file, data] of Object.entries(summary)) {
  if (file === 'total') continue;
  const name = relative(process.cwd(), file).split('/').slice(0, 2).join('/');
  const entry = packages.get(name) ?? { covered: 0, total: 0 };
  entry.covered += data.lines.covered;
  entry.total += data.lines.total;
  packages.set(name, entry);
}
console.log('\nline coverage by package');
for (const [name, { covered, total }] of [...packages].sort()) {
  const pct = total === 0 ? 100 : (100 * covered) / total;
  console.log(`  ${name.padEnd(28)} ${pct.toFixed(2).padStart(6)}%  (${covered}/${total} lines)`);
}
