import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Kafka from '@confluentinc/kafka-javascript';
import { freeTcpPort, isCi } from '@eventsource/test-brokers';

const JARS_SCRIPT = fileURLToPath(new URL('../../../../tooling/kafka/kafka-jars.sh', import.meta.url));

/**
 * The jar directory from tooling/kafka (fetched from Maven Central on first use), or undefined
 * with one loud line when Java or the jars are missing. Under CI=true a missing tool fails the
 * file instead: CI must never pass by skipping.
 */
export function kafkaJars(what = 'the broker restart test'): string | undefined {
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
  const jars = java.error ? undefined : spawnSync('bash', [JARS_SCRIPT], { encoding: 'utf8', timeout: 600_000 });
  const dir = jars?.status === 0 ? jars.stdout.trim() : undefined;
  if (dir) return dir;
  const why = java.error
    ? 'java is not installed (Kafka 4 needs Java 17+: apt-get install -y openjdk-17-jre-headless)'
    : `tooling/kafka/kafka-jars.sh failed: ${(jars?.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`;
  if (isCi()) throw new Error(`A private Kafka broker cannot start: ${why}. Required under CI=true.`);
  console.warn(`[bus-kafka] skipping ${what}: ${why}`);
  return undefined;
}

export interface PrivateKafkaOptions {
  /** The listener's port. Default: a free one. */
  readonly port?: number;
  /**
   * `host:port` the broker tells clients to connect to after bootstrap. Default: its own listener.
   * A TcpProxy's address here puts every client connection, not only the first, through the proxy.
   */
  readonly advertisedAddress?: string;
}

/**
 * A single-node KRaft Kafka of the test's own (own ports, own log dir, own cluster), so stopping
 * it never touches the shared broker on 9092. Its data survives stop and start.
 */
export class PrivateKafka {
  #process: ChildProcess | undefined;
  readonly #output: string[] = [];

  private constructor(
    readonly port: number,
    private readonly jars: string,
    private readonly dir: string,
  ) {}

  static async start(jars: string, options: PrivateKafkaOptions = {}): Promise<PrivateKafka> {
    const port = options.port ?? (await freeTcpPort());
    const controllerPort = await freeTcpPort();
    const dir = await mkdtemp(join(tmpdir(), 'es-kafka-private-'));
    const server = new PrivateKafka(port, jars, dir);
    await writeFile(join(dir, 'server.properties'), properties(port, controllerPort, join(dir, 'data'), options.advertisedAddress ?? `127.0.0.1:${port}`));
    await writeFile(join(dir, 'log4j2.xml'), LOG4J);
    // A random cluster id: 16 bytes, URL-safe base64 without padding (what Kafka's Uuid reads).
    // Not one starting with "-" (1 in 64): the storage tool would read it as an option, as Kafka's
    // own Uuid.randomUuid() avoids too.
    let clusterId = randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
    const format = spawnSync('java', ['-Xmx256m', ...server.#logArgs(), '-cp', `${jars}/*`, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', clusterId, '-c', server.#props], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (format.status !== 0) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`kafka.tools.StorageTool format failed (${format.status ?? format.signal}): ${format.stderr || format.stdout}`);
    }
    await server.startProcess();
    return server;
  }

  /** Its own listener, never a proxy: clients are sent on to the advertised address after bootstrap. */
  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  get #props(): string {
    return join(this.dir, 'server.properties');
  }

  #logArgs(): string[] {
    return [`-Dlog4j2.configurationFile=${join(this.dir, 'log4j2.xml')}`];
  }

  /** Starts the broker on its existing data and waits until it answers a metadata request. */
  async startProcess(timeoutMs = 120_000): Promise<void> {
    const child = spawn(
      'java',
      ['-Xms128m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.awt.headless=true', ...this.#logArgs(), '-cp', `${this.jars}/*`, 'kafka.Kafka', this.#props],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#process = child;
    const keep = (chunk: Buffer): void => {
      this.#output.push(chunk.toString());
      if (this.#output.length > 50) this.#output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + timeoutMs;
    while (!(await this.#answers())) {
      if (child.exitCode !== null) throw new Error(`The private Kafka exited with ${child.exitCode} during startup:\n${this.#output.join('')}`);
      if (Date.now() > deadline) throw new Error(`The private Kafka did not answer on ${this.bootstrap} within ${timeoutMs} ms:\n${this.#output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** SIGTERM: a clean shutdown, the log flushed. Resolves once the process is gone. */
  async stopProcess(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(killer);
  }

  async restart(downtimeMs: number): Promise<void> {
    await this.stopProcess();
    await new Promise((resolve) => setTimeout(resolve, downtimeMs));
    await this.startProcess();
  }

  async destroy(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  /** True when the broker lists its topics. */
  async #answers(): Promise<boolean> {
    const admin = Kafka.AdminClient.create({ 'bootstrap.servers': this.bootstrap, 'allow.auto.create.topics': false, 'log_level': 0 } as never);
    try {
      await new Promise<void>((resolve, reject) => admin.listTopics({ timeout: 1000 }, (error) => (error ? reject(error) : resolve())));
      return true;
    } catch {
      return false;
    } finally {
      admin.disconnect();
    }
  }
}

function properties(port: number, controllerPort: number, dataDir: string, advertised: string): string {
  return [
    '# A private single-node KRaft Kafka for one test file (packages/bus-kafka/test/support/private-kafka.ts).',
    'process.roles=broker,controller',
    // Its own cluster: the id only has to match the controller quorum below.
    'node.id=7',
    `controller.quorum.bootstrap.servers=127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://${advertised}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'auto.create.topics.enable=false',
    // One node: the defaults (replication factor 3, min ISR 2) would never become ready.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    '',
  ].join('\n');
}

/** Warnings and errors only, on the console (kept for error messages). */
const LOG4J = `<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="warn">
  <Appenders><Console name="STDOUT" target="SYSTEM_OUT"><PatternLayout pattern="[%d] %p %m (%c)%n"/></Console></Appenders>
  <Loggers><Root level="warn"><AppenderRef ref="STDOUT"/></Root></Loggers>
</Configuration>
`;
