import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireBroker } from '@eventsource/test-brokers';
import { describe, expect, it } from 'vitest';
import { BROKER_CLUES, brokersUsed, exampleProblems, packageReadmes, promisedOutput } from '../src/readme-example.js';
import { runExample, runProblem } from '../src/run-example.js';

// Every packages/*/README.md: its first ```ts block runs as shown (tsx, as a .mts file in the
// package) and prints what its `// prints:` comments say. A README added later is picked up.

const TIMEOUT_MS = 60_000;
const packagesDir = fileURLToPath(new URL('../../../packages', import.meta.url));
const readmes = packageReadmes(packagesDir);

// Brokers resolve once, before the tests are declared: a missing one skips the examples that need
// it (with the loud summary line), and fails the run under CI=true.
const brokerEnv = new Map<string, string | undefined>();
for (const kind of new Set(readmes.flatMap((readme) => (readme.code ? brokersUsed(readme.code) : [])))) {
  const broker = await requireBroker(kind);
  brokerEnv.set(BROKER_CLUES[kind].envVar, broker?.url);
}

describe('README examples', () => {
  it('finds the package READMEs', () => {
    expect(readmes.map((readme) => readme.dir)).toEqual(expect.arrayContaining(['core', 'bus-redis']));
  });

  for (const readme of readmes) {
    const needs = readme.code ? brokersUsed(readme.code).map((kind) => BROKER_CLUES[kind].envVar) : [];
    const missing = needs.filter((envVar) => brokerEnv.get(envVar) === undefined);

    it.skipIf(missing.length > 0)(`packages/${readme.dir}/README.md: the first example runs and prints what it says`, async () => {
      const problems = exampleProblems(readme.code);
      expect(problems, `packages/${readme.dir}/README.md cannot be tested: ${problems.join(' ')}`).toEqual([]);
      expect(
        existsSync(join(readme.packageDir, 'dist')),
        `packages/${readme.dir} has no dist/: build first (pnpm build, or pnpm turbo run build --filter=./packages/${readme.dir}...).`,
      ).toBe(true);

      const env = Object.fromEntries(needs.map((envVar) => [envVar, brokerEnv.get(envVar)!]));
      const promised = promisedOutput(readme.code!);
      const run = await runExample(readme.packageDir, readme.code!, { env, timeoutMs: TIMEOUT_MS });
      const problem = runProblem(run, promised, TIMEOUT_MS);
      expect(problem, `packages/${readme.dir}/README.md: ${problem}`).toBeUndefined();
    });
  }
});
