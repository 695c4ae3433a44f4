import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { METRIC_NAMES, SPAN_NAMES, silentLogger } from '@eventsource/core';
import { otel } from '@eventsource/otel';
import { context, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaEventBus } from '../src/index.js';
import { KAFKA_BROKERS, OrderPlaced, broker, busOptions, deleteTopics, order, uniquePrefix, waitFor } from './support/kafka.js';
import { registerGlobals, telemetry, type SpanRecord } from './support/telemetry.js';

const CONSUMER = fileURLToPath(new URL('./support/otel-consumer.ts', import.meta.url));

beforeAll(registerGlobals);

describe.skipIf(!broker)('with @eventsource/otel: one trace across a Kafka hop, publish here and handle in a child process', () => {
  const prefix = uniquePrefix('otelhop');
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await deleteTopics(prefix);
  });

  it('the child’s dispatch span is a CONSUMER child of the publish span, its handler and application spans below', { timeout: 90_000 }, async () => {
    const t = telemetry();
    // The publisher creates the topics before the child joins the group.
    const bus = new KafkaEventBus(busOptions(prefix, { consumerGroup: 'publisher', ...otel({ tracerProvider: t.tracerProvider, meterProvider: t.meterProvider }) }));
    await bus.connect();

    const handled: number[] = [];
    let childSpans: SpanRecord[] | undefined;
    child = fork(CONSUMER, [KAFKA_BROKERS, prefix, 'billing'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child!.on('message', (message: { type: string; n?: number; spans?: SpanRecord[] }) => {
        if (message.type === 'ready') resolve();
        if (message.type === 'handled') handled.push(message.n!);
        if (message.type === 'spans') childSpans = message.spans;
      });
      child!.once('exit', (code, signal) => reject(new Error(`consumer process exited early (${code ?? signal})`)));
    });

    const root = t.tracerProvider.getTracer('app').startSpan('POST /orders');
    await context.with(trace.setSpan(context.active(), root), () => bus.publish([order(1)]));
    root.end();
    await bus.shutdown();

    await waitFor('the child to handle the event', () => handled.length === 1, 30_000);
    child.send({ type: 'stop' });
    await exited;
    expect(childSpans).toBeDefined();

    const here = t.spans();
    const there = childSpans!;
    const rootSpan = here.find((s) => s.name === 'POST /orders')!;
    const publish = here.find((s) => s.name === SPAN_NAMES.publish)!;
    const dispatch = there.find((s) => s.name === SPAN_NAMES.dispatch)!;
    const handle = there.find((s) => s.name === SPAN_NAMES.handle)!;
    const charge = there.find((s) => s.name === 'charge card')!;
    expect(there.map((s) => s.name).sort()).toEqual(['charge card', SPAN_NAMES.dispatch, SPAN_NAMES.handle].sort());
    expect(new Set([...here, ...there].map((s) => s.traceId))).toEqual(new Set([rootSpan.traceId]));
    expect(publish.parentSpanId).toBe(rootSpan.spanId);
    expect(dispatch.parentSpanId).toBe(publish.spanId);
    expect(handle.parentSpanId).toBe(dispatch.spanId);
    expect(charge.parentSpanId).toBe(handle.spanId);
    expect([publish.kind, dispatch.kind, handle.kind]).toEqual(['PRODUCER', 'CONSUMER', 'INTERNAL']);
    expect(publish.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': prefix });
    expect(dispatch.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.consumer.group.name': 'billing', 'eventsource.aggregate.id': 'order-1' });
    await t.close();
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
