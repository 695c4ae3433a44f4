/**
 * Vitest globalSetup: probes each broker ONCE, up front, in the main process, and prints one
 * loud line naming what will be skipped and why — or, under CI=true, throws so the run fails
 * at once with that message.
 *
 *   // vitest.config.ts of a package with integration tests
 *   export default defineProject({
 *     test: {
 *       globalSetup: ['@eventsource/test-brokers/global-setup'],
 *       provide: { eventsourceBrokers: ['redis'] }, // optional; default: all three
 *     },
 *   });
 */
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import {
  BROKER_ENV_VARS,
  BROKER_KINDS,
  BrokerUnavailableError,
  formatSkipSummary,
  isCi,
  maskUrl,
  planBroker,
  type BrokerKind,
  type BrokerOptions,
  type BrokerPlan,
} from './index.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Which brokers this project's integration tests need (default: all). */
    eventsourceBrokers?: BrokerKind[];
  }
}

/** Probes the given brokers; returns the plans and the summary line ('' when nothing is skipped). */
export async function probeBrokers(
  kinds: readonly BrokerKind[] = BROKER_KINDS,
  options: BrokerOptions = {},
): Promise<{ plans: BrokerPlan[]; summary: string }> {
  const plans = await Promise.all(kinds.map((k) => planBroker(k, options)));
  const missing = plans.flatMap((p) => (p.status === 'missing' ? [[p.kind, p.reason] as [BrokerKind, string]] : []));
  return { plans, summary: formatSkipSummary(missing) };
}

// Several projects may list this globalSetup; print each line once per process.
const printed: Set<string> = ((globalThis as Record<symbol, unknown>)[Symbol.for('eventsource.test-brokers.printed')] ??=
  new Set<string>()) as Set<string>;

function printOnce(line: string): void {
  if (printed.has(line)) return;
  printed.add(line);
  process.stderr.write(`${line}\n`);
}

export default async function setup(project?: TestProject): Promise<void> {
  const env = process.env;
  const kinds = project?.getProvidedContext().eventsourceBrokers ?? BROKER_KINDS;
  const { plans, summary } = await probeBrokers(kinds, { env });

  const missing = plans.filter((p): p is Extract<BrokerPlan, { status: 'missing' }> => p.status === 'missing');
  if (missing.length > 0 && isCi(env)) {
    const msgs = missing.map((p) => new BrokerUnavailableError(p.kind, BROKER_ENV_VARS[p.kind], p.reason).message);
    throw new Error(`integration brokers missing under CI=true:\n  ${msgs.join('\n  ')}`);
  }
  if (summary) {
    printOnce(`\n${summary}\n`);
    return;
  }
  const found = plans.map((p) => (p.status === 'env' ? `${p.kind} ${maskUrl(p.url)}` : `${p.kind} (container)`));
  printOnce(`brokers: ${found.join(', ')}`);
}
