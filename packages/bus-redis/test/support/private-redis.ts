import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isCi } from '@eventsource/test-brokers';
import { Redis, type RedisOptions } from 'ioredis';

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

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Whether every command line tool is installed. A missing one means the file's tests are skipped
 * with a loud line, and under CI=true the file fails: CI must never pass by skipping.
 */
export function toolsAvailable(...tools: readonly string[]): boolean {
  const missing = tools.filter((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).error !== undefined);
  if (missing.length === 0) return true;
  const message = `missing command line tools: ${missing.join(', ')} (apt-get install redis-server openssl)`;
  if (isCi()) throw new Error(`${message}; required under CI=true`);
  console.warn(`[bus-redis] skipping: ${message}`);
  return false;
}

/** A temp dir for one test file's servers, certificates and cluster configs. */
export function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `es-redis-${label}-`));
}

/**
 * One redis-server child with the given arguments, started and answering PING through `probe`
 * (a URL plus ioredis options, e.g. TLS) within 10 s. Its output is kept for error messages.
 */
export class RedisServerProcess {
  readonly #child: ChildProcess;
  readonly #output: string[] = [];

  private constructor(child: ChildProcess) {
    this.#child = child;
    const keep = (chunk: Buffer): void => {
      this.#output.push(chunk.toString());
      if (this.#output.length > 50) this.#output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  static async start(args: readonly string[], probe: { url: string; options?: RedisOptions }): Promise<RedisServerProcess> {
    const server = new RedisServerProcess(spawn(REDIS_SERVER, [...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await server.#waitUntilAnswering(probe);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** What the server printed last, for error messages. */
  get output(): string {
    return this.#output.join('').split('\n').slice(-15).join('\n');
  }

  /** SIGKILL and wait (at most 5 s) for the exit: nothing of these throwaway servers needs saving. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    let timer: NodeJS.Timeout | undefined;
    const exited = new Promise((resolve) => {
      child.once('exit', resolve);
      timer = setTimeout(resolve, 5000);
    });
    child.kill('SIGKILL');
    await exited;
    clearTimeout(timer);
  }

  async #waitUntilAnswering(probe: { url: string; options?: RedisOptions }): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const client = new Redis(probe.url, { ...probe.options, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.ping();
        return;
      } catch (error) {
        if (this.#child.exitCode !== null) throw new Error(`redis-server exited with ${this.#child.exitCode}:\n${this.output}`);
        if (Date.now() > deadline) throw new Error(`redis-server did not answer ${probe.url} within 10 s (${String(error)}):\n${this.output}`);
      } finally {
        client.disconnect();
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Rejects with `what` when `promise` has not settled within `ms`: a hang fails the test instead of timing it out. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
