import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEventBus } from '../src/index.js';
import { OrderPlaced, busOptions, order, uniquePrefix, waitFor } from './support/redis.js';
import { RedisServerProcess, freePort, tempDir, toolsAvailable, within } from './support/private-redis.js';

const available = toolsAvailable('redis-server', 'redis-cli');
const run = promisify(execFile);

describe.skipIf(!available)('RedisEventBus on a private three-node Redis Cluster', () => {
  let dir: string;
  const servers: RedisServerProcess[] = [];
  const ports: number[] = [];
  const buses: RedisEventBus[] = [];

  beforeAll(async () => {
    dir = await tempDir('cluster');
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      // The cluster bus defaults to port + 10000, which may be taken or above 65535: pick it too.
      const busPort = await freePort();
      ports.push(port);
      servers.push(
        await RedisServerProcess.start(
          [
            '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-port', String(busPort),
            '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir, '--save', '', '--appendonly', 'no',
          ],
          { url: `redis://127.0.0.1:${port}` },
        ),
      );
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    for (const port of ports) {
      const node = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await node.connect();
        await waitFor(`cluster_state:ok on node ${port}`, async () => String(await node.call('CLUSTER', ['INFO'])).includes('cluster_state:ok'), 20_000);
      } finally {
        node.disconnect();
      }
    }
  });

  afterAll(async () => {
    try {
      await Promise.all(buses.map((bus) => within(10_000, 'shutdown() of a cluster bus', bus.shutdown(2000))));
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  async function clusterBus(prefix: string, consumerName: string, extra: Parameters<typeof busOptions>[1] = {}): Promise<RedisEventBus> {
    const bus = new RedisEventBus(
      busOptions(prefix, {
        cluster: { nodes: ports.map((port) => ({ host: '127.0.0.1', port })) },
        consumerName,
        maxRetries: 1,
        reconnectBaseDelayMs: 50,
        reconnectMaxDelayMs: 200,
        ...extra,
      }),
    );
    buses.push(bus);
    await within(15_000, 'connect() to the cluster', bus.connect());
    return bus;
  }

  it('shares events within a group, retries then dead-letters a failing one, replays it, and reports stream info', { timeout: 30_000 }, async () => {
    const prefix = uniquePrefix('cluster');
    const handled = new Map<number, number>();
    let attemptsOfPoison = 0;
    let poisonFixed = false;
    const handler = (event: OrderPlaced): void => {
      if (event.n === 0) {
        attemptsOfPoison++;
        if (!poisonFixed) throw new Error('poison event');
      }
      handled.set(event.n, (handled.get(event.n) ?? 0) + 1);
    };
    const worker1 = await clusterBus(prefix, 'worker-1');
    const worker2 = await clusterBus(prefix, 'worker-2');
    const workedBy = new Map<string, number>();
    for (const [name, bus] of [['worker-1', worker1], ['worker-2', worker2]] as const) {
      bus.subscribe(OrderPlaced, (event) => {
        workedBy.set(name, (workedBy.get(name) ?? 0) + 1);
        handler(event);
      });
      bus.startConsumingInBackground();
    }
    await waitFor('both members consuming', () => worker1.health().healthy && worker2.health().healthy);

    // A batch is one pipeline; under Cluster it must still land in the one slot of the hash tag.
    await worker1.publish(Array.from({ length: 40 }, (_, i) => order(i + 1)));
    await worker2.publish([order(0, 'poison')]);
    for (let i = 41; i <= 60; i++) await worker2.publish([order(i)]);

    await waitFor('every good event handled', () => Array.from({ length: 60 }, (_, i) => i + 1).every((n) => handled.has(n)));
    await waitFor('the poison event dead-lettered after one retry', async () => (await worker1.getDlqMessageCount()) === 1);
    expect(attemptsOfPoison).toBe(2);
    expect(workedBy.get('worker-1')! + workedBy.get('worker-2')!).toBeGreaterThanOrEqual(62);

    const [letter] = await worker2.getDlqMessages({ count: 10 });
    expect(letter?.event).toBeInstanceOf(OrderPlaced);
    expect(letter?.info).toMatchObject({ errorMessage: expect.stringContaining('poison event'), attempts: 2 });

    const info = await worker1.getStreamInfo();
    expect(info.stream).toBe(`{${prefix}}:stream`);
    expect(info.dlqStream).toBe(`{${prefix}}:stream_dlq:g1`);
    expect(info.length).toBe(61);
    expect(info.dlqMessages).toBe(1);
    expect(info.groups.map((g) => g.name)).toEqual(['g1']);
    expect(info.consumers.map((c) => c.name).sort()).toEqual(['worker-1', 'worker-2']);

    poisonFixed = true;
    await worker1.replayDlqMessage(letter!.id);
    await waitFor('the replayed event handled', () => handled.has(0));
    expect(await worker2.getDlqMessageCount()).toBe(0);
    await waitFor('nothing pending and no retry scheduled', async () => {
      const after = await worker2.getStreamInfo();
      return after.pendingMessages === 0 && after.scheduledRetries === 0;
    });
    const stats = [worker1.getStats(), worker2.getStats()];
    expect(stats.reduce((sum, s) => sum + s.eventsRetried, 0)).toBeGreaterThanOrEqual(1);
    expect(stats.reduce((sum, s) => sum + s.eventsDeadLettered, 0)).toBe(1);
  });

  it('keeps every key of one prefix in one hash slot, so the settlement scripts run on one node', async () => {
    const prefix = uniquePrefix('cluster-slot');
    const bus = await clusterBus(prefix, 'slot-check', { maxRetries: 0 });
    bus.subscribe(OrderPlaced, () => {
      throw new Error('always fails');
    });
    bus.startConsumingInBackground();
    await bus.publish([order(1)]);
    await waitFor('the failure dead-lettered', async () => (await bus.getDlqMessageCount()) === 1);
    // Replay moves the dead letter to the retry set, the retry claim hands it out, and the failure
    // moves it back to the DLQ: three multi-key scripts that Cluster only accepts in one slot.
    expect(await bus.replayAllDlqMessages()).toBe(1);
    await waitFor('the replayed entry dead-lettered again', () => bus.getStats().eventsDeadLettered === 2);
    expect(await bus.getDlqMessageCount()).toBe(1);

    const client = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })), { lazyConnect: true });
    try {
      await client.connect();
      const { keys } = bus.config;
      const slots = await Promise.all(
        [keys.stream, keys.dlq, keys.retrySchedule, keys.retryData].map(async (key) => Number(await client.call('CLUSTER', ['KEYSLOT', key]))),
      );
      expect(new Set(slots).size).toBe(1);
    } finally {
      client.disconnect();
    }
  });
});
