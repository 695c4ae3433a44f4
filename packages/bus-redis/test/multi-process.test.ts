import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { RedisEventBusStats } from '../src/index.js';
import { REDIS_URL, broker, deleteKeys, newBus, order, uniquePrefix, waitFor } from './support/redis.js';

const EVENTS = 20_000;
const WORKER = fileURLToPath(new URL('./support/worker.ts', import.meta.url));

describe.skipIf(!broker)('three worker processes in one group', () => {
  const prefix = uniquePrefix('multiproc');
  const workers: ChildProcess[] = [];
  afterAll(async () => {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await deleteKeys(prefix);
  });

  it(`share ${EVENTS} events; one is SIGKILLed mid-batch; every event is handled at least once`, { timeout: 120_000 }, async () => {
    const raw = new Redis(REDIS_URL);
    try {
      const publisher = await newBus(prefix, { consumerGroup: 'workers' });
      for (let i = 0; i < EVENTS; i += 1000) await publisher.publish(Array.from({ length: 1000 }, (_, j) => order(i + j)));
      await publisher.shutdown();

      const stats = new Map<string, RedisEventBusStats>();
      const start = (name: string): Promise<ChildProcess> =>
        new Promise((resolve, reject) => {
          const child = fork(WORKER, [REDIS_URL, prefix, name], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
          workers.push(child);
          child.on('message', (message: { type: string; stats?: RedisEventBusStats }) => {
            if (message.type === 'ready') resolve(child);
            if (message.type === 'stats' && message.stats) stats.set(name, message.stats);
          });
          child.once('exit', (code, signal) => reject(new Error(`worker ${name} exited early (${code ?? signal})`)));
        });
      const [victim, ...survivors] = await Promise.all([start('worker-0'), start('worker-1'), start('worker-2')]);

      const handledKey = `${prefix}:handled`;
      await waitFor('a third of the events', async () => (await raw.hlen(handledKey)) >= EVENTS / 3, 60_000);
      victim!.kill('SIGKILL');
      await new Promise((resolve) => victim!.once('exit', resolve));
      const abandoned = ((await raw.call('XPENDING', [`${prefix}:stream`, 'workers', '-', '+', '1000', 'worker-0'])) as unknown[]).length;

      await waitFor('every event handled', async () => (await raw.hlen(handledKey)) === EVENTS, 90_000);
      await waitFor('every entry acknowledged', async () => Number(((await raw.call('XPENDING', [`${prefix}:stream`, 'workers'])) as unknown[])[0]) === 0, 30_000);

      for (const survivor of survivors) {
        const exited = new Promise((resolve) => survivor.once('exit', resolve));
        survivor.send({ type: 'stop' });
        await exited;
      }
      const counts = Object.values(await raw.hgetall(handledKey)).map(Number);
      const handlings = counts.reduce((sum, n) => sum + n, 0);
      const reclaimed = [...stats.values()].reduce((sum, s) => sum + s.eventsReclaimed, 0);
      console.log(
        `multi-process: ${EVENTS} events, 3 workers, worker-0 SIGKILLed holding ${abandoned} unacknowledged entries; ` +
          `${handlings} handlings, ${handlings - EVENTS} duplicates, ${reclaimed} entries reclaimed by the survivors`,
      );
      // Killed mid-batch: it held entries it had read and not acknowledged.
      expect(abandoned).toBeGreaterThan(0);
      expect(counts).toHaveLength(EVENTS);
      expect(counts.every((n) => n >= 1)).toBe(true);
      expect(reclaimed).toBeGreaterThanOrEqual(abandoned);
      expect(await raw.xlen(`${prefix}:stream_dlq:workers`)).toBe(0);
    } finally {
      raw.disconnect();
    }
  });
});
