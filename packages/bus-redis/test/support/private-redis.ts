import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? 'redis-server';

/**
 * A redis-server of our own, for tests that stop and restart it. Durable: append-only file with
 * fsync on every write, so whatever Redis acknowledged survives a restart.
 */
export class PrivateRedis {
  #process: ChildProcess | undefined;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async start(): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort(), await mkdtemp(join(tmpdir(), 'es-redis-')));
    await server.startProcess();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async startProcess(): Promise<void> {
    const child = spawn(
      REDIS_SERVER,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', this.dir, '--save', ''],
      { stdio: 'ignore' },
    );
    this.#process = child;
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode} (is ${REDIS_SERVER} installed?)`);
        if (Date.now() > deadline) throw new Error('redis-server did not answer within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  /** SIGTERM: Redis finishes writing its append-only file and exits. */
  async stopProcess(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }

  async restart(downtimeMs: number): Promise<void> {
    await this.stopProcess();
    await new Promise((resolve) => setTimeout(resolve, downtimeMs));
    await this.startProcess();
  }

  async destroy(): Promise<void> {
    const child = this.#process;
    if (child && child.exitCode === null) child.kill('SIGKILL');
    this.#process = undefined;
    await rm(this.dir, { recursive: true, force: true });
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
