import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrokerKind } from '@eventsource/test-brokers';

/** What a README example needs from a broker, and how it says so. */
export const BROKER_CLUES: Readonly<Record<BrokerKind, { envVar: string; packageName: string }>> = {
  redis: { envVar: 'REDIS_URL', packageName: '@eventsource/bus-redis' },
  rabbitmq: { envVar: 'AMQP_URL', packageName: '@eventsource/bus-rabbitmq' },
  kafka: { envVar: 'KAFKA_BROKERS', packageName: '@eventsource/bus-kafka' },
};

const TS_LANGUAGES: ReadonlySet<string> = new Set(['ts', 'typescript', 'mts']);

/**
 * The first fenced TypeScript block (```ts, ```typescript or ```mts) of a Markdown text, without
 * its fences; undefined when there is none. Blocks in other languages are passed over whole, so a
 * fence shown inside a ```md block is not mistaken for a code block.
 */
export function firstTsBlock(markdown: string): string | undefined {
  const lines = markdown.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    const language = open[2]!.toLowerCase();
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]!);
      if (close && close[1]![0] === fence[0] && close[1]!.length >= fence.length) break;
      body.push(lines[j]!);
    }
    if (TS_LANGUAGES.has(language)) return `${body.join('\n')}\n`;
    i = j;
  }
  return undefined;
}

/**
 * What the example says it prints: the text after every `// prints:` comment, in order. A
 * comment on the line that logs keeps the promise next to the code that keeps it.
 */
export function promisedOutput(code: string): string[] {
  return [...code.matchAll(/\/\/\s*prints:\s*(.*?)\s*$/gm)].map((match) => match[1]!).filter((text) => text.length > 0);
}

/** Brokers the example talks to: by the bus package it imports or the env var it reads. */
export function brokersUsed(code: string): BrokerKind[] {
  return (Object.keys(BROKER_CLUES) as BrokerKind[]).filter((kind) => {
    const { envVar, packageName } = BROKER_CLUES[kind];
    return code.includes(envVar) || importsPackage(code, packageName);
  });
}

/** Problems that make an example untestable as written; empty when it can run. */
export function exampleProblems(code: string | undefined): string[] {
  if (code === undefined) {
    return ['it has no ```ts code block. Its first ```ts block is the example a newcomer copies; add one that runs as shown.'];
  }
  const problems: string[] = [];
  if (promisedOutput(code).length === 0) {
    problems.push(
      'its first ```ts block promises no output. Add a `// prints: <text>` comment on the line that logs, so readers and this test know what it prints.',
    );
  }
  for (const kind of brokersUsed(code)) {
    const { envVar, packageName } = BROKER_CLUES[kind];
    if (!code.includes(envVar)) {
      problems.push(
        `its first \`\`\`ts block imports ${packageName} but does not read ${envVar}. Write e.g. \`process.env.${envVar} ?? '<local default>'\` so it runs against the test broker.`,
      );
    }
  }
  return problems;
}

function importsPackage(code: string, packageName: string): boolean {
  return code.includes(`'${packageName}'`) || code.includes(`"${packageName}"`);
}

export interface PackageReadme {
  /** Directory name under packages/, e.g. "bus-redis". */
  readonly dir: string;
  /** Absolute path of the package directory. */
  readonly packageDir: string;
  /** The first ```ts block, or undefined when the README has none. */
  readonly code: string | undefined;
}

/** Every package under `packagesDir` that has a README.md, sorted by directory name. */
export function packageReadmes(packagesDir: string): PackageReadme[] {
  return readdirSync(packagesDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(packagesDir, entry.name, 'README.md')))
    .map((entry) => entry.name)
    .sort()
    .map((dir) => {
      const packageDir = join(packagesDir, dir);
      return { dir, packageDir, code: firstTsBlock(readFileSync(join(packageDir, 'README.md'), 'utf8')) };
    });
}
