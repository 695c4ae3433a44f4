/**
 * Vitest globalSetup: probes each broker ONCE, up front, in the main process, and prints one
 * loud line naming what will be skipped and why — or, under CI=true, throws so the run fails
 * at once with that message.
 *
 * A broker whose env var is unset while a container runtime answers is started here, as one
 * container for the whole run: its URL goes into the env var (REDIS_URL, ...) and its id into
 * EVENTSOURCE_<BROKER>_CONTAINER, which the test processes inherit, and it is stopped when the
 * run ends. So the Ryuk reaper is not needed.
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
import { CONTAINER_ID_ENV_VARS, brokerImage, startBrokerContainer, type BrokerContainer } from './containers.js';

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

// Several projects may need the same broker (setups of one run share this process): one
// container each, stopped when the last project that uses it tears down.
interface SharedContainer {
  container: Promise<BrokerContainer>;
  users: number;
}
const sharedContainers: Map<BrokerKind, SharedContainer> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('eventsource.test-brokers.containers')
] ??= new Map<BrokerKind, SharedContainer>()) as Map<BrokerKind, SharedContainer>;

async function acquireContainer(kind: BrokerKind): Promise<BrokerContainer> {
  let shared = sharedContainers.get(kind);
  if (!shared) {
    const image = brokerImage(kind);
    const t0 = Date.now();
    const container = startBrokerContainer(kind).then((c) => {
      printOnce(`brokers: started ${kind} container ${image} (${c.containerId.slice(0, 12)}) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return c;
    });
    shared = { container, users: 0 };
    sharedContainers.set(kind, shared);
    container.catch(() => sharedContainers.delete(kind));
  }
  shared.users++;
  return shared.container;
}

async function releaseContainer(kind: BrokerKind): Promise<void> {
  const shared = sharedContainers.get(kind);
  if (!shared || --shared.users > 0) return;
  sharedContainers.delete(kind);
  const container = await shared.container;
  await container.stop();
  Reflect.deleteProperty(process.env, BROKER_ENV_VARS[kind]);
  Reflect.deleteProperty(process.env, CONTAINER_ID_ENV_VARS[kind]);
}

function printOnce(line: string): void {
  if (printed.has(line)) return;
  printed.add(line);
  process.stderr.write(`${line}\n`);
}

export default async function setup(project?: TestProject): Promise<() => Promise<void>> {
  const env = process.env;
  const kinds = project?.getProvidedContext().eventsourceBrokers ?? BROKER_KINDS;
  const { plans } = await probeBrokers(kinds, { env });

  const acquired: BrokerKind[] = [];
  const teardown = async (): Promise<void> => {
    await Promise.all(acquired.map((kind) => releaseContainer(kind)));
  };
  const resolved = await Promise.all(
    plans.map(async (plan): Promise<BrokerPlan> => {
      if (plan.status !== 'container') return plan;
      acquired.push(plan.kind);
      try {
        const c = await acquireContainer(plan.kind);
        env[BROKER_ENV_VARS[plan.kind]] = c.url;
        env[CONTAINER_ID_ENV_VARS[plan.kind]] = c.containerId;
        return { kind: plan.kind, status: 'env', url: c.url };
      } catch (err) {
        const first = (err as Error).message.split('\n')[0] ?? String(err);
        const reason = `${BROKER_ENV_VARS[plan.kind]} unset and the ${plan.kind} container (${brokerImage(plan.kind)}) did not start: ${first}`;
        return { kind: plan.kind, status: 'missing', reason };
      }
    }),
  );

  const missing = resolved.filter((p): p is Extract<BrokerPlan, { status: 'missing' }> => p.status === 'missing');
  if (missing.length > 0 && isCi(env)) {
    await teardown();
    const msgs = missing.map((p) => new BrokerUnavailableError(p.kind, BROKER_ENV_VARS[p.kind], p.reason).message);
    throw new Error(`integration brokers missing under CI=true:\n  ${msgs.join('\n  ')}`);
  }
  const summary = formatSkipSummary(missing.map((p) => [p.kind, p.reason] as [BrokerKind, string]));
  if (summary) {
    printOnce(`\n${summary}\n`);
    return teardown;
  }
  const found = resolved.map((p) => (p.status === 'env' ? `${p.kind} ${maskUrl(p.url)}` : p.kind));
  printOnce(`brokers: ${found.join(', ')}`);
  return teardown;
}
