import { TcpProxy } from '@eventsource/testkit';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { RabbitMQEventBus } from '../src/index.js';
import { OrderPlaced, broker, newBus, order, uniqueExchange, waitFor } from './support/rabbitmq.js';
import { PrivateRabbitNode } from './support/private-node.js';

const CONSUMER_TIMEOUT_MS = 2000;

// One node of its own for both tests: it is killed and restarted, and its consumer_timeout is
// lowered (checked every 500 ms) so a handler can outlive it in seconds.
describe.skipIf(!broker)('a private RabbitMQ node', () => {
  let node: PrivateRabbitNode;
  const buses: RabbitMQEventBus[] = [];
  beforeAll(async () => {
    node = await PrivateRabbitNode.start({
      advanced: `[{rabbit, [{consumer_timeout, ${CONSUMER_TIMEOUT_MS}}, {channel_tick_interval, 500}]}].\n`,
    });
  }, 90_000);
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.shutdown(1000)));
    await node?.stop();
  });

  it('restarted mid-run (SIGKILL, then started again): nothing that was confirmed is lost, consuming resumes by itself', { timeout: 120_000 }, async () => {
    const exchange = uniqueExchange('restart');
    // The bus reaches the node through a proxy that holds it off while the restarted node is not
    // usable yet (see electQuorumLeaders): a consume sent to a leaderless quorum queue hangs in the
    // broker for a minute before it fails.
    const proxy = await TcpProxy.start(node.url, { defaultPort: 5672 });
    onTestFinished(() => proxy.close());
    const bus = await newBus(exchange, { reconnectMaxDelayMs: 500 }, proxy.url);
    buses.push(bus);
    const seen = new Set<number>();
    bus.subscribe(OrderPlaced, async (event) => {
      seen.add(event.n);
      await new Promise((resolve) => setTimeout(resolve, 2));
    });
    bus.startConsumingInBackground();
    await waitFor('consuming', () => bus.health().consuming);
    let confirmed = 0;
    for (; confirmed < 2000; confirmed += 100) await bus.publish(Array.from({ length: 100 }, (_, i) => order(confirmed + i)));
    await waitFor('some handled', () => seen.size >= 200);

    await node.kill();
    await waitFor('the outage reported', () => !bus.health().healthy);
    expect(bus.health().connected).toBe(false);
    await proxy.down();
    await node.boot();
    await node.electQuorumLeaders();
    await proxy.up();

    await waitFor('healthy again', () => bus.health().healthy, 60_000);
    await bus.publish(Array.from({ length: 100 }, (_, i) => order(2000 + i)));
    await waitFor('every confirmed event handled', () => seen.size === 2100, 60_000).catch((error: unknown) => {
      const missing = Array.from({ length: 2100 }, (_, n) => n).filter((n) => !seen.has(n));
      throw new Error(`${(error as Error).message}: ${missing.length} missing (first: ${missing.slice(0, 10).join(', ')}); stats ${JSON.stringify(bus.getStats())}`);
    });
    expect(bus.getStats().reconnections).toBeGreaterThanOrEqual(1);
  });

  it('a handler outliving consumer_timeout: a handlerTimeoutMs above it is warned about at startup; the closed channel is recovered and counted; the group does not stall', { timeout: 60_000 }, async () => {
    const exchange = uniqueExchange('ctimeout');
    const warnings: string[] = [];
    const bus = await newBus(
      exchange,
      {
        consumerTimeoutMs: CONSUMER_TIMEOUT_MS,
        handlerTimeoutMs: 10_000,
        logger: { debug() {}, info() {}, warn: (message) => void warnings.push(message), error() {} },
      },
      node.url,
    );
    buses.push(bus);
    const attempts = new Map<number, number>();
    bus.subscribe(OrderPlaced, async (event) => {
      attempts.set(event.n, (attempts.get(event.n) ?? 0) + 1);
      // The first attempt of #0 runs past consumer_timeout; everything else is quick.
      if (event.n === 0 && attempts.get(0) === 1) await new Promise((resolve) => setTimeout(resolve, CONSUMER_TIMEOUT_MS * 3));
    });
    bus.startConsumingInBackground();
    await waitFor('consuming', () => bus.health().consuming);
    expect(warnings.some((w) => w.includes('consumer_timeout'))).toBe(true);
    await bus.publish([order(0)]);
    await waitFor('the channel closed for consumer_timeout', () => bus.getStats().consumerTimeouts === 1, 20_000);
    await bus.publish(Array.from({ length: 20 }, (_, i) => order(1 + i)));
    await waitFor('the group kept consuming', () => [...attempts.keys()].length === 21, 20_000);
    // The broker took #0 back with the channel and handed it out again.
    await waitFor('#0 delivered again', () => (attempts.get(0) ?? 0) >= 2, 20_000);
    expect(bus.getStats().channelRecoveries).toBeGreaterThanOrEqual(1);
  });
});
