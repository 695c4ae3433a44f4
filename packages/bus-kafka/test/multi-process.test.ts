import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaEventBus, type KafkaBusStats } from '../src/index.js';
import { KAFKA_BROKERS, broker, busOptions, deleteTopics, order, uniquePrefix, waitFor } from './support/kafka.js';

const EVENTS = 20_000;
const WORKER = fileURLToPath(new URL('./support/worker.ts', import.meta.url));
/** 6 main-topic plus 6 retry-topic partitions. */
const PARTITIONS = 12;

describe.skipIf(!broker)('three worker processes in one group', () => {
  const prefix = uniquePrefix('multiproc');
  const dir = mkdtempSync(join(tmpdir(), 'es-kafka-workers-'));
  const workers: ChildProcess[] = [];
  let publisher: KafkaEventBus | undefined;
  afterAll(async () => {
    for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    await publisher?.shutdown(5000);
    await deleteTopics(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Numbers each worker wrote to its file, one line per handling. */
  const handlings = (name: string): number[] => {
    const file = join(dir, `${name}.log`);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map(Number);
  };

  it(`share ${EVENTS} events; one is SIGKILLed mid-batch; every event is handled at least once`, { timeout: 180_000 }, async () => {
    // The publisher creates the topics; it never consumes.
    publisher = new KafkaEventBus(busOptions(prefix, { consumerGroup: 'workers', partitions: 6 }));
    await publisher.connect();

    const assigned = new Map<string, number>();
    const stats = new Map<string, KafkaBusStats>();
    const start = (name: string): Promise<ChildProcess> =>
      new Promise((resolve, reject) => {
        const child = fork(WORKER, [KAFKA_BROKERS, prefix, name, join(dir, `${name}.log`)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        workers.push(child);
        child.on('message', (message: { type: string; assigned?: number; stats?: KafkaBusStats }) => {
          if (message.type === 'ready') resolve(child);
          if (message.type === 'partitions') assigned.set(name, message.assigned ?? 0);
          if (message.type === 'stats' && message.stats) stats.set(name, message.stats);
        });
        child.once('exit', (code, signal) => reject(new Error(`worker ${name} exited early (${code ?? signal})`)));
      });
    const names = ['worker-0', 'worker-1', 'worker-2'];
    const started = await Promise.all(names.map(start));
    const children = new Map(names.map((name, i) => [name, started[i]!]));
    await waitFor(
      'the group to settle: every worker holds partitions, all of them taken',
      () => names.every((n) => (assigned.get(n) ?? 0) > 0) && names.reduce((sum, n) => sum + (assigned.get(n) ?? 0), 0) === PARTITIONS,
      60_000,
    );

    for (let i = 0; i < EVENTS; i += 1000) await publisher.publish(Array.from({ length: 1000 }, (_, j) => order(i + j, `agg-${(i + j) % 500}`)));

    const distinct = (): number => new Set(names.flatMap(handlings)).size;
    await waitFor('a third of the events', () => distinct() >= EVENTS / 3, 60_000);
    // The busiest worker is surely in the middle of a batch: fetched, some handled, not committed.
    const victimName = names.reduce((a, b) => (handlings(a).length >= handlings(b).length ? a : b));
    const victim = children.get(victimName)!;
    const exited = new Promise((resolve) => victim.once('exit', resolve));
    victim.kill('SIGKILL');
    await exited;
    const handledAtKill = distinct();
    const victimHandled = handlings(victimName).length;

    await waitFor('every event handled', () => distinct() === EVENTS, 120_000);
    const survivors = names.filter((n) => n !== victimName);
    for (const name of survivors) {
      const child = children.get(name)!;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'stop' });
      await gone;
    }
    await waitFor('the group to have committed everything', async () => (await publisher!.getTopicInfo()).totalLag === 0, 30_000);

    const all = names.flatMap(handlings);
    const counts = new Map<number, number>();
    for (const n of all) counts.set(n, (counts.get(n) ?? 0) + 1);
    const duplicates = all.length - EVENTS;
    console.log(
      `multi-process: ${EVENTS} events, 3 workers; ${victimName} SIGKILLed after handling ${victimHandled} ` +
        `(${handledAtKill} distinct handled by all at that moment); ${all.length} handlings, ${duplicates} duplicates; ` +
        `survivors' rebalances: ${survivors.map((n) => stats.get(n)?.rebalances ?? '?').join(', ')}`,
    );
    expect(handledAtKill).toBeLessThan(EVENTS);
    expect(victimHandled).toBeGreaterThan(0);
    expect(counts.size).toBe(EVENTS);
    expect([...counts.keys()].every((n) => Number.isInteger(n) && n >= 0 && n < EVENTS)).toBe(true);
    expect(await publisher.getDlqMessageCount()).toBe(0);
  });
});
