import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const README_PATH = fileURLToPath(new URL('../../README.md', import.meta.url));

export type When = 'always' | 'failure' | 'broker' | 'kafka';

/** One row of the README's span-attribute table, per span it names: `publish`, `dispatch`, `handle`. */
export interface DocumentedAttribute {
  readonly key: string;
  readonly span: string;
  readonly when: When;
}

/**
 * Reads the table under "### Span attributes":
 * `| \`key\` | publish, dispatch | always | meaning |`.
 */
export function documentedAttributes(): DocumentedAttribute[] {
  const readme = readFileSync(README_PATH, 'utf8');
  const section = readme.split(/^### Span attributes$/m)[1]?.split(/^#{2,3} /m)[0];
  if (!section) throw new Error('README.md has no "### Span attributes" section');
  const rows: DocumentedAttribute[] = [];
  for (const line of section.split('\n')) {
    const match = /^\|\s*`([^`]+)`\s*\|([^|]+)\|\s*(always|failure|broker|kafka)\s*\|/.exec(line);
    if (!match) continue;
    for (const span of match[2]!.split(',').map((s) => s.trim())) rows.push({ key: match[1]!, span, when: match[3] as When });
  }
  if (rows.length === 0) throw new Error('README.md "### Span attributes" has no rows');
  return rows;
}

const SHORT = /^eventsource\.event_bus\.(publish|dispatch|handle)$/;

/** `dispatch messaging.system` style pairs, for comparing what spans carry against the README. */
export function pairsOf(spans: ReadonlyArray<{ readonly name: string; readonly attributes: Record<string, unknown> }>): Set<string> {
  const pairs = new Set<string>();
  for (const span of spans) {
    const short = SHORT.exec(span.name)?.[1];
    if (!short) continue;
    for (const key of Object.keys(span.attributes)) pairs.add(`${short} ${key}`);
  }
  return pairs;
}

/** The README's pairs: all of them (`every`), and those a scenario must emit (`expected`). */
export function documentedPairs(emittedWhen: readonly When[]): { every: Set<string>; expected: Set<string> } {
  const rows = documentedAttributes();
  return {
    every: new Set(rows.map((r) => `${r.span} ${r.key}`)),
    expected: new Set(rows.filter((r) => emittedWhen.includes(r.when)).map((r) => `${r.span} ${r.key}`)),
  };
}
