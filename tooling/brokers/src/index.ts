/**
 * @eventsource/test-brokers — gives integration tests a real broker.
 *
 * Order: env var (REDIS_URL / AMQP_URL / KAFKA_BROKERS) → a testcontainers container when a
 * container runtime answers → none. With none, tests are skipped and reported in one loud
 * line; under CI=true a missing broker is an error instead.
 *
 *   const broker = await requireBroker('redis');
 *   describe.skipIf(!broker)('redis bus', () => { ... broker!.url ... });
 */
import {
  detectContainerRuntime,
  maskUrl,
  parseAmqpUrl,
  parseKafkaBrokers,
  parseRedisUrl,
  probeAny,
  type ContainerRuntime,
  type Endpoint,
  type Env,
} from './probe.js';
import { CONTAINER_ID_ENV_VARS, startBrokerContainer } from './containers.js';

export {
  CONTAINER_ID_ENV_VARS,
  CONTAINER_LABEL,
  DEFAULT_IMAGES,
  IMAGE_ENV_VARS,
  brokerImage,
  freeTcpPort,
  kafkaEnvironment,
  startBrokerContainer,
  type BrokerContainer,
  type StartBrokerContainerOptions,
} from './containers.js';

export {
  detectContainerRuntime,
  maskUrl,
  parseAmqpUrl,
  parseKafkaBrokers,
  parseRedisUrl,
  probeAny,
  probeTcp,
  type AmqpEndpoint,
  type ContainerRuntime,
  type Endpoint,
  type Env,
} from './probe.js';

export type BrokerKind = 'redis' | 'rabbitmq' | 'kafka';

export const BROKER_KINDS: readonly BrokerKind[] = ['redis', 'rabbitmq', 'kafka'];

export interface BrokerConnection {
  kind: BrokerKind;
  /** redis://host:port, amqp://user:pass@host:port[/vhost], or host:port[,host:port] for Kafka. */
  url: string;
  /**
   * 'container' when testcontainers started the broker (here or in the vitest global setup).
   * Tests that restart or kill a broker then start a container of their own for it, instead of
   * a local server process.
   */
  source: 'env' | 'container';
  /** The container's id, for source 'container'. */
  containerId?: string;
  /**
   * Stops a container this process started. A no-op for env brokers and for containers the
   * global setup started (it stops those when the run ends).
   */
  stop(): Promise<void>;
}

export interface BrokerOptions {
  /** Defaults to process.env; pass a plain object in tests. */
  env?: Env;
  /** TCP probe timeout for the env-var endpoint. Default 1000 ms. */
  probeTimeoutMs?: number;
  /** Overrides container-runtime detection (tests). */
  detectRuntime?: (env: Env) => Promise<ContainerRuntime>;
}

/** The env var that names each broker. */
export const BROKER_ENV_VARS: Readonly<Record<BrokerKind, string>> = {
  redis: 'REDIS_URL',
  rabbitmq: 'AMQP_URL',
  kafka: 'KAFKA_BROKERS',
};

/** What tooling/scripts/ensure-brokers.sh starts (credentials left as placeholders). */
const LOCAL_EXAMPLE: Readonly<Record<BrokerKind, string>> = {
  redis: 'redis://127.0.0.1:6379',
  rabbitmq: 'amqp://<user>:<password>@127.0.0.1:5672',
  kafka: '127.0.0.1:9092',
};

export const ENSURE_BROKERS_SCRIPT = 'tooling/scripts/ensure-brokers.sh';

export class BrokerUnavailableError extends Error {
  override readonly name = 'BrokerUnavailableError';
  constructor(
    readonly kind: BrokerKind,
    readonly envVar: string,
    readonly reason: string,
  ) {
    super(
      `${kind} broker unavailable under CI: ${reason}. ` +
        `Set ${envVar} (e.g. ${envVar}=${LOCAL_EXAMPLE[kind]}) and start the broker with ${ENSURE_BROKERS_SCRIPT}.`,
    );
  }
}

export function isCi(env: Env = process.env): boolean {
  const ci = env['CI'];
  return ci === 'true' || ci === '1';
}

/** Parses a broker's env-var value into the endpoints to probe. Throws TypeError when malformed. */
export function endpointsOf(kind: BrokerKind, value: string): Endpoint[] {
  switch (kind) {
    case 'redis':
      return [parseRedisUrl(value)];
    case 'rabbitmq':
      return [parseAmqpUrl(value)];
    case 'kafka':
      return parseKafkaBrokers(value);
  }
}

/** A broker URL that is safe to print (password masked). */
export function displayUrl(url: string): string {
  return maskUrl(url);
}

// ---- container runtime: detected once per process (per DOCKER_HOST) ------------------------

const runtimeCache = new Map<string, Promise<ContainerRuntime>>();

export function containerRuntime(env: Env = process.env): Promise<ContainerRuntime> {
  const key = `${env['DOCKER_HOST'] ?? ''}|${env['TESTCONTAINERS_DISABLED'] ?? ''}|${env['DOCKER_TLS_VERIFY'] ?? ''}`;
  let cached = runtimeCache.get(key);
  if (!cached) {
    cached = detectContainerRuntime(env);
    runtimeCache.set(key, cached);
  }
  return cached;
}

// ---- probing without starting anything (used by global-setup) ------------------------------

export type BrokerPlan =
  | { kind: BrokerKind; status: 'env'; url: string }
  | { kind: BrokerKind; status: 'container'; detail: string }
  | { kind: BrokerKind; status: 'missing'; reason: string };

/**
 * Decides where a broker would come from, without starting a container: env var that answers
 * (TCP), else a container runtime that answers, else missing with the reason.
 */
export async function planBroker(kind: BrokerKind, options: BrokerOptions = {}): Promise<BrokerPlan> {
  const env = options.env ?? process.env;
  const envVar = BROKER_ENV_VARS[kind];
  const value = env[envVar]?.trim();
  if (value) {
    let endpoints: Endpoint[];
    try {
      endpoints = endpointsOf(kind, value);
    } catch (err) {
      return { kind, status: 'missing', reason: `${envVar} is malformed: ${(err as Error).message}` };
    }
    if (await probeAny(endpoints, options.probeTimeoutMs ?? 1000)) return { kind, status: 'env', url: value };
    const where = endpoints.map((e) => `${e.host}:${e.port}`).join(',');
    return { kind, status: 'missing', reason: `${envVar}=${maskUrl(value)} is set but nothing answers at ${where}` };
  }
  const runtime = await (options.detectRuntime ?? containerRuntime)(env);
  if (runtime.available) return { kind, status: 'container', detail: runtime.detail };
  return { kind, status: 'missing', reason: `${envVar} unset, ${runtime.detail}` };
}

// ---- containers (testcontainers imported lazily, only when a runtime answers) ---------------

/**
 * Without the vitest global setup, a test file starts its own container. It is stopped only by
 * its `stop()` (or by the Ryuk reaper where Ryuk runs), so packages should use the global setup,
 * which starts one container per broker for the whole run and stops it afterwards.
 */
const containerCache = new Map<BrokerKind, Promise<BrokerConnection>>();

async function startContainer(kind: BrokerKind, env: Env): Promise<BrokerConnection> {
  const c = await startBrokerContainer(kind, { env });
  return {
    kind,
    url: c.url,
    source: 'container',
    containerId: c.containerId,
    async stop() {
      containerCache.delete(kind);
      await c.stop();
    },
  };
}

/** One container per kind per process; concurrent callers share it. */
function containerFor(kind: BrokerKind, env: Env): Promise<BrokerConnection> {
  let p = containerCache.get(kind);
  if (!p) {
    p = startContainer(kind, env);
    containerCache.set(kind, p);
    p.catch(() => containerCache.delete(kind));
  }
  return p;
}

// ---- public API --------------------------------------------------------------------------

type Resolution = { connection: BrokerConnection } | { reason: string };

async function resolve(kind: BrokerKind, options: BrokerOptions): Promise<Resolution> {
  const env = options.env ?? process.env;
  const plan = await planBroker(kind, options);
  switch (plan.status) {
    case 'env': {
      // The global setup exports the container's URL in the env var, and its id next to it.
      const containerId = env[CONTAINER_ID_ENV_VARS[kind]]?.trim();
      if (containerId) {
        return { connection: { kind, url: plan.url, source: 'container', containerId, stop: async () => {} } };
      }
      return { connection: { kind, url: plan.url, source: 'env', stop: async () => {} } };
    }
    case 'container':
      try {
        return { connection: await containerFor(kind, env) };
      } catch (err) {
        const msg = (err as Error).message.split('\n')[0] ?? String(err);
        return { reason: `${BROKER_ENV_VARS[kind]} unset and the ${kind} container did not start (${plan.detail}): ${msg}` };
      }
    case 'missing':
      return { reason: plan.reason };
  }
}

/**
 * Resolves a broker: env var (REDIS_URL / AMQP_URL / KAFKA_BROKERS) first — it must answer a
 * TCP connect —, else a container if a runtime answers, else undefined. Under CI=true a
 * missing broker throws BrokerUnavailableError.
 */
export async function getBroker(kind: BrokerKind, options: BrokerOptions = {}): Promise<BrokerConnection | undefined> {
  const r = await resolve(kind, options);
  if ('connection' in r) return r.connection;
  if (isCi(options.env ?? process.env)) throw new BrokerUnavailableError(kind, BROKER_ENV_VARS[kind], r.reason);
  return undefined;
}

// ---- skip bookkeeping + once-per-process summary -------------------------------------------

const skipped = new Map<BrokerKind, string>();
let exitHookInstalled = false;

/** The loud line, e.g. "⚠ SKIPPED integration tests: redis (REDIS_URL unset, no container runtime) — set REDIS_URL or run …". */
export function formatSkipSummary(skips: ReadonlyMap<BrokerKind, string> | Iterable<[BrokerKind, string]>): string {
  const entries = [...skips];
  if (entries.length === 0) return '';
  const what = entries.map(([kind, reason]) => `${kind} (${reason})`).join(', ');
  const vars = entries.map(([kind]) => BROKER_ENV_VARS[kind]).join(', ');
  return `⚠ SKIPPED integration tests: ${what} — set ${vars} or run ${ENSURE_BROKERS_SCRIPT}`;
}

/** Skips recorded by requireBroker in this process (kind → reason). */
export function recordedSkips(): ReadonlyMap<BrokerKind, string> {
  return skipped;
}

/**
 * For vitest test files (top-level await):
 *
 *   const broker = await requireBroker('redis');
 *   describe.skipIf(!broker)('…', () => { … });
 *
 * Missing broker: under CI=true throws BrokerUnavailableError (the file fails); otherwise
 * returns undefined and records the skip, printed once per process at exit.
 */
export async function requireBroker(kind: BrokerKind, options: BrokerOptions = {}): Promise<BrokerConnection | undefined> {
  const r = await resolve(kind, options);
  if ('connection' in r) return r.connection;
  if (isCi(options.env ?? process.env)) throw new BrokerUnavailableError(kind, BROKER_ENV_VARS[kind], r.reason);
  skipped.set(kind, r.reason);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      const line = formatSkipSummary(skipped);
      if (line) process.stderr.write(`\n${line}\n`);
    });
  }
  return undefined;
}
