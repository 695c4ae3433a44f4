import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { brokersUsed, exampleProblems, firstTsBlock, packageReadmes, promisedOutput } from '../src/readme-example.js';
import { EXAMPLE_FILE_PREFIX, runExample, runProblem, type ExampleRun } from '../src/run-example.js';

const FENCE = '```';

describe('firstTsBlock', () => {
  it('takes the first ts block, passing over other languages', () => {
    const markdown = ['# pkg', `${FENCE}sh`, 'npm install x', FENCE, `${FENCE}ts`, 'const a = 1;', FENCE, `${FENCE}ts`, 'const b = 2;', FENCE].join('\n');
    expect(firstTsBlock(markdown)).toBe('const a = 1;\n');
  });

  it('accepts typescript and mts, tildes and longer fences', () => {
    expect(firstTsBlock(['~~~typescript', 'x();', '~~~'].join('\n'))).toBe('x();\n');
    expect(firstTsBlock(['````mts', FENCE, 'y();', '````'].join('\n'))).toBe(`${FENCE}\ny();\n`);
  });

  it('does not take a fence shown inside another block for a code block', () => {
    const markdown = ['````md', `${FENCE}ts`, 'shown();', FENCE, '````', `${FENCE}ts`, 'real();', FENCE].join('\n');
    expect(firstTsBlock(markdown)).toBe('real();\n');
  });

  it('returns undefined when there is no ts block', () => {
    expect(firstTsBlock(['# pkg', `${FENCE}js`, 'x();', FENCE].join('\n'))).toBeUndefined();
  });
});

describe('promisedOutput', () => {
  it('collects every // prints: comment in order', () => {
    const code = ["console.log('a'); // prints: Order 1 created", 'log(x);  //prints:   second line  ', '// prints:'].join('\n');
    expect(promisedOutput(code)).toEqual(['Order 1 created', 'second line']);
  });
});

describe('brokersUsed', () => {
  it('finds brokers by the bus package imported or the env var read', () => {
    expect(brokersUsed("import { RedisEventBus } from '@eventsource/bus-redis';")).toEqual(['redis']);
    expect(brokersUsed('const url = process.env.AMQP_URL;')).toEqual(['rabbitmq']);
    expect(brokersUsed('import "@eventsource/bus-kafka"; process.env.REDIS_URL')).toEqual(['redis', 'kafka']);
    expect(brokersUsed("import { InMemoryEventBus } from '@eventsource/core';")).toEqual([]);
  });
});

describe('exampleProblems', () => {
  it('explains a README without a ts block', () => {
    expect(exampleProblems(undefined)).toEqual([expect.stringContaining('it has no ```ts code block')]);
  });

  it('asks for a // prints: comment', () => {
    expect(exampleProblems('doSomething();')).toEqual([expect.stringContaining('Add a `// prints: <text>` comment')]);
  });

  it('asks a broker example to read its broker from the env var', () => {
    const code = "import { RedisEventBus } from '@eventsource/bus-redis';\nconsole.log('x'); // prints: x";
    expect(exampleProblems(code)).toEqual([expect.stringContaining('does not read REDIS_URL')]);
    expect(exampleProblems(`${code}\nprocess.env.REDIS_URL`)).toEqual([]);
  });
});

describe('packageReadmes', () => {
  const root = mkdtempSync(join(tmpdir(), 'readme-examples-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('lists only package directories that have a README, with their first ts block', () => {
    for (const dir of ['b-pkg', 'a-pkg', 'no-readme']) mkdirSync(join(root, dir));
    writeFileSync(join(root, 'a-pkg', 'README.md'), `${FENCE}ts\na();\n${FENCE}\n`);
    writeFileSync(join(root, 'b-pkg', 'README.md'), '# no code\n');
    writeFileSync(join(root, 'README.md'), 'not a package');
    expect(packageReadmes(root)).toEqual([
      { dir: 'a-pkg', packageDir: join(root, 'a-pkg'), code: 'a();\n' },
      { dir: 'b-pkg', packageDir: join(root, 'b-pkg'), code: undefined },
    ]);
  });
});

describe('runProblem', () => {
  const ok: ExampleRun = { exitCode: 0, timedOut: false, stdout: 'first\nsecond\n', stderr: '' };

  it('accepts a run that exited 0 and printed every promised line in order', () => {
    expect(runProblem(ok, ['first', 'second'], 1000)).toBeUndefined();
  });

  it('reports a missing or out-of-order line, a failed exit and a timeout, with the output', () => {
    expect(runProblem(ok, ['third'], 1000)).toMatch(/says it prints "third".*stdout does not contain it\.\n--- stdout ---\nfirst/s);
    expect(runProblem(ok, ['second', 'first'], 1000)).toMatch(/"first".*after the lines before it/);
    expect(runProblem({ ...ok, exitCode: 1, stderr: 'boom' }, [], 1000)).toMatch(/exited with code 1\..*boom/s);
    expect(runProblem({ ...ok, exitCode: null, timedOut: true }, [], 1000)).toMatch(/did not finish within 1000 ms/);
  });
});

describe('runExample', () => {
  const dir = mkdtempSync(join(tmpdir(), 'readme-example-run-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs TypeScript with top-level await as an ES module, passes env, and removes its file', async () => {
    const code = 'const wait: Promise<string> = Promise.resolve(process.env.GREETING ?? "unset");\nconsole.log(await wait);\n';
    const run = await runExample(dir, code, { env: { GREETING: 'hello from env' }, timeoutMs: 30_000 });
    expect(run).toMatchObject({ exitCode: 0, timedOut: false, stdout: 'hello from env\n' });
    expect(readdirSync(dir).filter((name) => name.startsWith(EXAMPLE_FILE_PREFIX))).toEqual([]);
  });

  it('reports a failing example with its exit code and stderr', async () => {
    const run = await runExample(dir, 'throw new Error("example broke");\n', { timeoutMs: 30_000 });
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toContain('example broke');
  });

  it('kills an example that does not end within the timeout', async () => {
    const run = await runExample(dir, 'setInterval(() => {}, 1000);\n', { timeoutMs: 1500 });
    expect(run).toMatchObject({ timedOut: true, exitCode: null });
  });
});
