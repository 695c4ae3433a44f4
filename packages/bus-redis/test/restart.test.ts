import { freeTcpPort, startBrokerContainer } from '@eventsource/test-brokers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisEventBus } from '../src/index.js';
import { OrderPlaced, broker, newBus, order, waitFor } from './support/redis.js';
import { PrivateRedis, toolsAvailable } from './support/private-redis.js';

/** A durable Redis of this file's own, which it stops and starts again. */
interface RestartableRedis {
  readonly url: string;
  restart(downtimeMs: number): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * Where the shared broker is a container, so is the one restarted here (the container API, and
 * no redis-server binary needed); otherwise a redis-server process, which must be installed:
 * a loud skip without it, a failure under CI=true.
 */
const useContainer = broker?.source === 'container';
const runnable = broker !== undefined && (useContainer || toolsAvailable(process.env.REDIS_SERVER_BIN ?? 'redis-server'));

async function startRestartableRedis(): Promise<RestartableRedis> {
  if (!useContainer) return PrivateRedis.start();
  // A fixed host port, because Docker maps a new random port on every start; append-only with
  // fsync on every write, so whatever Redis acknowledged survives the restart.
  const container = await startBrokerContainer('redis', {
    hostPort: await freeTcpPort(),
    redisArgs: ['--appendonly', 'yes', '--appendfsync', 'always'],
  });
  return {
    url: container.url,
    restart: (downtimeMs) => container.restart({ downtimeMs }),
    destroy: () => container.stop(),
  };
}

describe.skipIf(!runnable)('Redis restarts while publishing and consuming', () => {
  let server: RestartableRedis;
  const buses: RedisEventBus[] = [];
  beforeAll(async () => {
    server = await startRestartableRedis();
  });
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.shutdown(2000)));
    await server?.destroy();
  });

  it('both sides recover by themselves and nothing acknowledged as published is lost', { timeout: 120_000 }, async () => {
    const fast = { redisUrl: server.url, reclaimIdleMs: 1000, reconnectBaseDelayMs: 50, reconnectMaxDelayMs: 300 };
    const consumer = await newBus('restart', { ...fast, consumerName: 'consumer' });
    const publisher = await newBus('restart', fast);
    buses.push(consumer, publisher);
    const handled = new Map<string, number>();
    consumer.subscribe(OrderPlaced, (event) => void handled.set(event.eventId, (handled.get(event.eventId) ?? 0) + 1));
    consumer.startConsumingInBackground();
    await waitFor('the consumer', () => consumer.health().healthy);

    const acknowledged: string[] = [];
    let failedPublishes = 0;
    let publishing = true;
    const publishLoop = (async () => {
      for (let batch = 0; publishing && batch < 2000; batch++) {
        const events = Array.from({ length: 10 }, (_, i) => order(batch * 10 + i));
        try {
          await publisher.publish(events);
          acknowledged.push(...events.map((e) => e.eventId));
        } catch {
          failedPublishes++;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    await waitFor('traffic before the restart', () => handled.size >= 200);
    let sawOutage = false;
    const restarting = server.restart(1000);
    await waitFor('health to report the outage', () => {
      const health = consumer.health();
      if (!health.healthy) sawOutage = health.lastError !== undefined && health.since !== undefined;
      return !health.healthy;
    });
    await restarting;
    const beforeRecovery = acknowledged.length;
    await waitFor('publishing to resume', () => acknowledged.length >= beforeRecovery + 200, 30_000);
    publishing = false;
    await publishLoop;

    await waitFor('every acknowledged event handled', () => acknowledged.every((id) => handled.has(id)), 60_000);
    await waitFor('health to recover', () => consumer.health().healthy && publisher.health().healthy, 30_000);
    const duplicates = [...handled.values()].reduce((sum, n) => sum + n - 1, 0);
    console.log(
      `restart: ${acknowledged.length} events acknowledged as published, ${failedPublishes} publish calls failed during the outage, ` +
        `${handled.size} distinct handled, ${duplicates} duplicates, consumer reconnections ${consumer.getStats().reconnections}`,
    );
    expect(sawOutage).toBe(true);
    expect(consumer.getStats().reconnections).toBeGreaterThanOrEqual(1);
    expect(publisher.getStats().reconnections).toBeGreaterThanOrEqual(1);
  });
});
