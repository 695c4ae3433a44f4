import { fileURLToPath } from 'node:url';
import { testCrossProcessTrace } from '@eventsource/conformance';
import { METRIC_NAMES, defaultRegistry, silentLogger } from '@eventsource/core';
import { otel } from '@eventsource/otel';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaEventBus } from '../src/index.js';
import { KAFKA_BROKERS, OrderPlaced, broker, busOptions, deleteTopics, order, uniquePrefix, waitFor } from './support/kafka.js';
import { telemetry } from './support/telemetry.js';

const CONSUMER = fileURLToPath(new URL('./support/otel-consumer.ts', import.meta.url));

describe.skipIf(!broker)('KafkaEventBus with @eventsource/otel', () => {
  testCrossProcessTrace({
    transport: 'Kafka',
    system: 'kafka',
    namespace: () => uniquePrefix('otelhop'),
    async publisher(prefix, { group, tracerProvider }) {
      // The default registry: the one the scenario's event is defined in.
      const bus = new KafkaEventBus(busOptions(prefix, { consumerGroup: group, registry: defaultRegistry, tracer: otel({ tracerProvider }).tracer }));
      await bus.connect();
      return bus;
    },
    consumer: (prefix, group) => ({ script: CONSUMER, args: [KAFKA_BROKERS, prefix, group] }),
    // Spans name the main topic, also for an attempt read back from the group's retry topic.
    destinations: (prefix) => ({ publish: prefix, dispatch: prefix }),
    cleanup: (prefix) => deleteTopics(prefix),
    // A group join takes seconds.
    handleTimeoutMs: 60_000,
    timeoutMs: 120_000,
  });
});

describe.skipIf(!broker)('with @eventsource/otel: consumer lag and rebalances in the metrics', () => {
  const prefix = uniquePrefix('otelmetrics');
  const buses: KafkaEventBus[] = [];
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.shutdown(5000)));
    await deleteTopics(prefix);
  });

  it('a second member joining shows as a revoke on the first, whose lag gauge then covers fewer partitions, and drops to 0 once handled', { timeout: 120_000 }, async () => {
    const t = telemetry();
    const ports = otel({ tracerProvider: t.tracerProvider, meterProvider: t.meterProvider });
    let open = false;
    const gate: Array<() => void> = [];
    // Round-robin spreads each topic's partitions over the members, so b surely takes main-topic
    // partitions from a (the sticky default balances counts over both topics together).
    const strategy = { partitionAssignmentStrategy: 'roundrobin' } as const;
    const a = new KafkaEventBus(busOptions(prefix, { partitions: 6, consumerName: 'a', ...strategy, ...ports }));
    buses.push(a);
    a.subscribe(OrderPlaced, async () => {
      // Held until the test opens the gate, so the group's lag stays visible.
      if (!open) await new Promise<void>((resolve) => gate.push(resolve));
    });
    await a.connect();
    a.startConsumingInBackground();
    await waitFor('a to hold all 12 partitions', () => a.getStats().assignedPartitions === 12, 60_000);

    await a.publish(Array.from({ length: 120 }, (_, i) => order(i, `agg-${i % 30}`)));
    const lagOf = async () => (await t.read()).gauge(METRIC_NAMES.consumerLag).filter((p) => p.attributes['messaging.destination.name'] === prefix);
    await waitFor('lag reported on all 6 partitions of the topic', async () => (await lagOf()).length === 6 && (await lagOf()).every((p) => p.value > 0), 30_000);
    const rebalancesOf = async (kind: string) =>
      (await t.read())
        .counter(METRIC_NAMES.rebalances)
        .filter((p) => p.attributes['eventsource.rebalance.kind'] === kind)
        .reduce((sum, p) => sum + p.value, 0);
    const revokesBefore = await rebalancesOf('revoke');
    expect(await rebalancesOf('assign')).toBeGreaterThanOrEqual(1);

    // The forced rebalance: b joins and takes some of a's partitions.
    const b = new KafkaEventBus(busOptions(prefix, { partitions: 6, consumerName: 'b', ...strategy, logger: silentLogger }));
    buses.push(b);
    b.subscribe(OrderPlaced, () => undefined);
    await b.connect();
    b.startConsumingInBackground();
    await waitFor('b to take partitions from a', () => b.getStats().assignedPartitions > 0 && a.getStats().assignedPartitions + b.getStats().assignedPartitions === 12, 60_000);

    expect(await rebalancesOf('revoke')).toBeGreaterThan(revokesBefore);
    // The gauge reports what a holds at its next lag refresh after the rebalance.
    await waitFor('a’s lag gauge to cover only the partitions it kept', async () => {
      const lagAfter = await lagOf();
      return lagAfter.length > 0 && lagAfter.length < 6;
    }, 30_000);
    const rebalance = (await t.read()).counter(METRIC_NAMES.rebalances)[0]!;
    expect(rebalance.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': prefix, 'messaging.consumer.group.name': 'g1' });

    open = true;
    for (const release of gate.splice(0)) release();
    await waitFor('a’s lag to reach 0', async () => (await lagOf()).every((p) => p.value === 0), 30_000);
    await t.close();
  });
});
