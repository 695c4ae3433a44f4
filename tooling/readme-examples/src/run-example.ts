import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ExampleRun {
  /** Exit code; null when the process was killed. */
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Extra environment for the example (broker URLs). */
  readonly env?: Readonly<Record<string, string>>;
  /** The example is killed after this long and the run reports timedOut. */
  readonly timeoutMs: number;
}

const TSX = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', '.bin', 'tsx');

/** Name of the temporary example files, so a crashed run's leftovers can be recognised. */
export const EXAMPLE_FILE_PREFIX = '.readme-example-';

let runs = 0;

/**
 * Runs `code` with tsx as an ES module file inside `packageDir`, so its imports resolve exactly as
 * in that package (its own name by self-reference, its dependencies from its node_modules).
 */
export async function runExample(packageDir: string, code: string, options: RunOptions): Promise<ExampleRun> {
  if (!existsSync(TSX)) throw new Error(`tsx not found at ${TSX}; run pnpm install at the repository root.`);
  const file = join(packageDir, `${EXAMPLE_FILE_PREFIX}${process.pid}-${++runs}.mts`);
  writeFileSync(file, code);
  try {
    return await new Promise<ExampleRun>((resolve, reject) => {
      const child = spawn(TSX, [file], {
        cwd: packageDir,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: .bin/tsx is a shell script that starts node, which starts the
        // example, and a timeout must end all of them, not only the shell.
        detached: true,
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      }, options.timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('close', (exitCode) => {
        clearTimeout(timer);
        resolve({ exitCode, timedOut, stdout, stderr });
      });
    });
  } finally {
    rmSync(file, { force: true });
  }
}

/** Says what went wrong with a run, or returns undefined when it exited 0 and printed every promised line in order. */
export function runProblem(run: ExampleRun, promised: readonly string[], timeoutMs: number): string | undefined {
  const output = `\n--- stdout ---\n${run.stdout}--- stderr ---\n${run.stderr}`;
  if (run.timedOut) return `the example did not finish within ${timeoutMs} ms (it must end by itself, e.g. await bus.shutdown()).${output}`;
  if (run.exitCode !== 0) return `the example exited with code ${String(run.exitCode)}.${output}`;
  let from = 0;
  for (const text of promised) {
    const at = run.stdout.indexOf(text, from);
    if (at < 0) return `the example says it prints "${text}" (a // prints: comment), but stdout does not contain it${from > 0 ? ' after the lines before it' : ''}.${output}`;
    from = at + text.length;
  }
  return undefined;
}
