import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@eventsource/testkit';

const SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
/** Not the /usr/sbin wrapper: that one switches to the rabbitmq user, whose HOME holds another cookie. */
const CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';
const run = promisify(execFile);

export interface PrivateNodeOptions {
  /** Lines of rabbitmq.conf. */
  readonly conf?: readonly string[];
  /** An Erlang term list for advanced.config, e.g. `[{rabbit, [{channel_tick_interval, 500}]}].` */
  readonly advanced?: string;
}

/**
 * A RabbitMQ node of its own (own name, ports, data directory and cookie), for tests that restart
 * the broker or change its settings without disturbing the shared one.
 */
export class PrivateRabbitNode {
  #child: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly distPort: number,
    readonly nodeName: string,
    readonly dir: string,
  ) {}

  static async start(options: PrivateNodeOptions = {}): Promise<PrivateRabbitNode> {
    const dir = mkdtempSync(join(tmpdir(), 'estest-rabbit-'));
    const node = new PrivateRabbitNode(await freePort(), await freePort(), `estest-${randomBytes(3).toString('hex')}@localhost`, dir);
    mkdirSync(join(dir, 'home'));
    writeFileSync(join(dir, 'rabbitmq.conf'), [`listeners.tcp.default = 127.0.0.1:${node.port}`, ...(options.conf ?? [])].join('\n') + '\n');
    writeFileSync(join(dir, 'advanced.config'), options.advanced ?? '[].\n');
    writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
    await node.boot();
    return node;
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: join(this.dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(this.dir, 'log'),
      RABBITMQ_CONFIG_FILE: join(this.dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(this.dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(this.dir, 'enabled_plugins'),
      RABBITMQ_PID_FILE: join(this.dir, 'pid'),
      HOME: join(this.dir, 'home'),
    };
  }

  /** Starts the node and waits until its AMQP port answers. */
  async boot(): Promise<void> {
    const child = spawn(SERVER, [], { env: this.env, stdio: 'ignore', detached: true });
    this.#child = child;
    const deadline = Date.now() + 60_000;
    while (!(await answers(this.port))) {
      if (child.exitCode !== null) throw new Error(`the private RabbitMQ node exited with ${child.exitCode} before opening port ${this.port}`);
      if (Date.now() > deadline) throw new Error(`the private RabbitMQ node did not open port ${this.port} within 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /**
   * Waits until every quorum queue on the node has a leader, asking each leaderless one to hold an
   * election. A single-node quorum queue can come back from a crash with no leader at all and stay
   * so (rabbitmq-server#10070, seen here on 3.10 with Ra 2.2): it then neither confirms publishes
   * nor accepts consumers until an operator triggers an election, which is what this does. The
   * broker's bug, not the client's: the test checks that the bus recovers once the queue can work.
   */
  async electQuorumLeaders(timeoutMs = 60_000): Promise<void> {
    const script =
      'lists:usort([begin Id = amqqueue:get_pid(Q), case ra_leaderboard:lookup_leader(element(1, Id)) of ' +
      'undefined -> ra:trigger_election(Id), waiting; _ -> ok end end || Q <- rabbit_amqqueue:list(), amqqueue:get_type(Q) =:= rabbit_quorum_queue]).';
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { stdout } = await run(CTL, ['-n', this.nodeName, '--erlang-cookie', this.#cookie(), 'eval', script], { env: this.env, timeout: 60_000 });
      if (!stdout.includes('waiting')) return;
      if (Date.now() > deadline) throw new Error(`quorum queues on the private node still have no leader after ${timeoutMs} ms: ${stdout.trim()}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** The node writes its cookie into its own HOME on first boot. */
  #cookie(): string {
    return readFileSync(join(this.dir, 'home', '.erlang.cookie'), 'utf8').trim();
  }

  /** Kills the node at once (SIGKILL to the whole process group): what a crash or power loss looks like to clients. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    this.#child = undefined;
    // The Erlang VM may outlive its wrapper script by a moment: wait until the port is free.
    const deadline = Date.now() + 30_000;
    while ((await answers(this.port)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
