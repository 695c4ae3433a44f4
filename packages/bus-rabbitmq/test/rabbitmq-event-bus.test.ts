import { describe, expect, it } from 'vitest';
import { OrderPlaced, broker, newBus, order, rabbitTestScope, waitFor } from './support/rabbitmq.js';

describe.skipIf(!broker)('RabbitMQEventBus', () => {
  const scope = rabbitTestScope();

  it('publishes with confirms and a group consumes every event', async () => {
    const exchange = scope.exchange('basic');
    const bus = await scope.bus(exchange);
    const seen: number[] = [];
    bus.subscribe(OrderPlaced, (event) => {
      seen.push(event.n);
    });
    bus.startConsumingInBackground();
    await waitFor('consuming', () => bus.health().consuming);
    await bus.publish(Array.from({ length: 200 }, (_, i) => order(i)));
    await waitFor('200 handled', () => seen.length >= 200);
    expect(new Set(seen).size).toBe(200);
    await waitFor('acks flushed', async () => (await bus.getQueueInfo()).messages === 0);
    expect(bus.getStats().eventsPublished).toBe(200);
    expect(bus.getStats().eventsProcessed).toBe(200);
  });

  it('shutdown while a publish awaits its confirms: the publish still resolves, and every event is in the queue', async () => {
    const exchange = scope.exchange('shutdown-publish');
    const publisher = await newBus(exchange);
    const publishing = publisher.publish(Array.from({ length: 2000 }, (_, i) => order(i)));
    const { drained } = await publisher.shutdown(10_000);
    await expect(publishing).resolves.toBeUndefined();
    expect(drained).toBe(true);
    const channel = await scope.raw().createChannel();
    expect((await channel.checkQueue(`${exchange}.g1`)).messageCount).toBe(2000);
    await channel.close();
  });

  it('concurrent publishes share the confirm channel without piling listeners on it', async () => {
    const exchange = scope.exchange('concurrent');
    const publisher = scope.track(await newBus(exchange));
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => publisher.publish([order(i)])));
      // Node emits the warning on a later tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
    const channel = await scope.raw().createChannel();
    expect((await channel.checkQueue(`${exchange}.g1`)).messageCount).toBe(50);
    await channel.close();
  });
});
