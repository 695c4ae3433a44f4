import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { RabbitMQEventBusStats } from '../src/index.js';
import { AMQP_URL, broker, deleteTopology, newBus, order, uniqueExchange, waitFor } from './support/rabbitmq.js';

const EVENTS = 20_000;
const WORKER = fileURLToPath(new URL('./support/worker.ts', import.meta.url));

describe.skipIf(!broker)('three worker processes in one group', () => {
  const exchange = uniqueExchange('multiproc');
  const dir = mkdtempSync(join(tmpdir(), 'estest-multiproc-'));
  const workers: ChildProcess[] = [];
  afterAll(async () => {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await deleteTopology(exchange, ['workers']);
    rmSync(dir, { recursive: true, force: true });
  });

  it(`share ${EVENTS} events; one is SIGKILLed mid-batch; every event is handled at least once`, { timeout: 180_000 }, async () => {
    const recordOf = (name: string): string => join(dir, `${name}.log`);
    const handled = (): number[] =>
      ['worker-0', 'worker-1', 'worker-2'].flatMap((name) => {
        try {
          return readFileSync(recordOf(name), 'utf8').split('\n').filter(Boolean).map(Number);
        } catch {
          return [];
        }
      });
    const stats = new Map<string, RabbitMQEventBusStats>();
    const start = (name: string): Promise<ChildProcess> =>
      new Promise((resolve, reject) => {
        const child = fork(WORKER, [AMQP_URL, exchange, name, recordOf(name)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        workers.push(child);
        child.on('message', (message: { type: string; stats?: RabbitMQEventBusStats }) => {
          if (message.type === 'ready') resolve(child);
          if (message.type === 'stats' && message.stats) stats.set(name, message.stats);
        });
        child.once('exit', (code, signal) => reject(new Error(`worker ${name} exited early (${code ?? signal})`)));
      });
    const [victim, ...survivors] = await Promise.all([start('worker-0'), start('worker-1'), start('worker-2')]);

    const publisher = await newBus(exchange, { consumerGroup: 'workers' });
    for (let i = 0; i < EVENTS; i += 1000) await publisher.publish(Array.from({ length: 1000 }, (_, j) => order(i + j)));
    await publisher.shutdown();

    await waitFor('a third of the events', () => handled().length >= EVENTS / 3, 60_000);
    victim!.kill('SIGKILL');
    await new Promise((resolve) => victim!.once('exit', resolve));
    const byVictim = readFileSync(recordOf('worker-0'), 'utf8').split('\n').filter(Boolean).length;

    await waitFor('every event handled', () => new Set(handled()).size === EVENTS, 90_000);
    for (const survivor of survivors) {
      const exited = new Promise((resolve) => survivor.once('exit', resolve));
      survivor.send({ type: 'stop' });
      await exited;
    }
    const all = handled();
    const distinct = new Set(all);
    console.log(
      `multi-process: ${EVENTS} events, 3 workers, worker-0 SIGKILLed after ${byVictim} handlings; ` +
        `${all.length} handlings, ${all.length - EVENTS} duplicates (handled by worker-0, not yet acknowledged when it died)`,
    );
    expect(distinct.size).toBe(EVENTS);
    expect(stats.size).toBe(2);
    const check = await newBus(exchange, { consumerGroup: 'workers' });
    expect(await check.getQueueInfo()).toMatchObject({ messages: 0, dlqMessages: 0 });
    await check.shutdown();
  });
});
