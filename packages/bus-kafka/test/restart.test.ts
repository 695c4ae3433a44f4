import { freeTcpPort, startBrokerContainer } from '@eventsource/test-brokers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaEventBus } from '../src/index.js';
import { OrderPlaced, broker, busOptions, order, waitFor } from './support/kafka.js';
import { PrivateKafka, kafkaJars } from './support/private-kafka.js';

/** A Kafka of this file's own, which it stops and starts again; the shared broker is never touched. */
interface RestartableKafka {
  readonly bootstrap: string;
  restart(downtimeMs: number): Promise<void>;
  destroy(): Promise<void>;
}

/**
 * Where the shared broker is a container, so is the one restarted here (the container keeps its
 * data across a restart); otherwise a private broker process from tooling/kafka's jars, which
 * needs Java: a loud skip without it, a failure under CI=true.
 */
const useContainer = broker?.source === 'container';
const jars = broker !== undefined && !useContainer ? kafkaJars() : undefined;
const runnable = broker !== undefined && (useContainer || jars !== undefined);

async function startRestartableKafka(): Promise<RestartableKafka> {
  if (!useContainer) return PrivateKafka.start(jars!);
  const container = await startBrokerContainer('kafka', { hostPort: await freeTcpPort() });
  return {
    bootstrap: container.url,
    restart: (downtimeMs) => container.restart({ downtimeMs }),
    destroy: () => container.stop(),
  };
}

describe.skipIf(!runnable)('the Kafka broker restarts while publishing and consuming', () => {
  let server: RestartableKafka;
  const buses: KafkaEventBus[] = [];
  beforeAll(async () => {
    server = await startRestartableKafka();
  }, 180_000);
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.shutdown(2000)));
    await server?.destroy();
  }, 60_000);

  it('both sides recover by themselves and nothing acknowledged as published is lost', { timeout: 240_000 }, async () => {
    const options = busOptions('restart', { bootstrapServers: server.bootstrap, reconnectBaseDelayMs: 50, reconnectMaxDelayMs: 500 });
    const consumer = new KafkaEventBus({ ...options, consumerName: 'consumer' });
    const publisher = new KafkaEventBus({ ...options, consumerGroup: 'publisher' });
    buses.push(consumer, publisher);
    const handled = new Map<string, number>();
    consumer.subscribe(OrderPlaced, (event) => void handled.set(event.eventId, (handled.get(event.eventId) ?? 0) + 1));
    await consumer.connect();
    await publisher.connect();
    consumer.startConsumingInBackground();
    await waitFor('the consumer to join its group', () => consumer.health().healthy && consumer.getStats().assignedPartitions > 0, 60_000);

    // Publish in small awaited batches: an event counts as acknowledged once publish() resolved.
    const acknowledged: string[] = [];
    let failedPublishes = 0;
    let publishing = true;
    const publishLoop = (async () => {
      for (let batch = 0; publishing && batch < 5000; batch++) {
        const events = Array.from({ length: 10 }, (_, i) => order(batch * 10 + i, `agg-${i}`, batch + 1));
        try {
          await publisher.publish(events);
          acknowledged.push(...events.map((e) => e.eventId));
        } catch {
          failedPublishes++;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();

    await waitFor('traffic before the restart', () => handled.size >= 200, 30_000);
    // Watch health all through the restart: the outage must show while it lasts.
    let sawOutage = false;
    const watch = setInterval(() => {
      const health = consumer.health();
      if (!health.healthy && health.lastError !== undefined && health.since !== undefined) sawOutage = true;
    }, 20);
    const acknowledgedBefore = acknowledged.length;
    await server.restart(1000);
    await waitFor('publishing to resume', () => acknowledged.length >= acknowledgedBefore + 500, 90_000);
    publishing = false;
    await publishLoop;

    await waitFor('every acknowledged event handled', () => acknowledged.every((id) => handled.has(id)), 90_000);
    await waitFor('health to recover', () => consumer.health().healthy && publisher.health().healthy, 30_000);
    clearInterval(watch);
    await waitFor('the group to have committed everything', async () => (await consumer.getTopicInfo()).totalLag === 0, 30_000);
    const duplicates = [...handled.values()].reduce((sum, n) => sum + n - 1, 0);
    console.log(
      `restart: ${acknowledged.length} events acknowledged as published, ${failedPublishes} publish calls failed during the outage, ` +
        `${handled.size} distinct handled, ${duplicates} duplicates, consumer reconnections ${consumer.getStats().reconnections}`,
    );
    expect(sawOutage).toBe(true);
    expect(consumer.getStats().reconnections).toBeGreaterThanOrEqual(1);
    expect(await consumer.getDlqMessageCount()).toBe(0);
  });
});
