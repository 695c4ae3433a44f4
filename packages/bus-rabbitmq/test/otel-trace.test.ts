import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SPAN_NAMES, silentLogger } from '@eventsource/core';
import { otel } from '@eventsource/otel';
import { SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RabbitMQEventBus } from '../src/index.js';
import { memoryTracing, registerGlobals, toRecord, type SpanRecord } from './support/otel.js';
import { AMQP_URL, broker, deleteTopology, order, registry, sweepTestQueues, uniqueExchange, waitFor } from './support/rabbitmq.js';

const CONSUMER = fileURLToPath(new URL('./support/otel-consumer.ts', import.meta.url));

beforeAll(registerGlobals);

describe.skipIf(!broker)('one trace across a RabbitMQ hop: publish here, handle in a child process', () => {
  const exchange = uniqueExchange('otel');
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await deleteTopology(exchange, ['billing', 'publisher']);
    await sweepTestQueues();
  });

  it('publish → dispatch → handle → application span link parent to child across processes, through a retry, with baggage', async () => {
    const handled: Array<{ n: number; tenant: string | null }> = [];
    let childSpans: SpanRecord[] | undefined;
    child = fork(CONSUMER, [AMQP_URL, exchange, 'billing'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child!.on('message', (message: { type: string; n?: number; tenant?: string | null; spans?: SpanRecord[] }) => {
        if (message.type === 'ready') resolve();
        if (message.type === 'handled') handled.push({ n: message.n!, tenant: message.tenant ?? null });
        if (message.type === 'spans') childSpans = message.spans;
      });
      child!.once('exit', (code, signal) => reject(new Error(`consumer process exited early (${code ?? signal})`)));
    });

    const tracing = memoryTracing();
    const { tracer } = otel({ tracerProvider: tracing.provider });
    const bus = new RabbitMQEventBus({ rabbitmqUrl: AMQP_URL, exchangeName: exchange, consumerGroup: 'publisher', registry, logger: silentLogger, tracer });
    await bus.connect();
    const root = tracing.provider.getTracer('app').startSpan('POST /orders');
    const active = propagation.setBaggage(trace.setSpan(context.active(), root), propagation.createBaggage({ tenant: { value: 'acme' } }));
    await context.with(active, () => bus.publish([order(1), order(2)]));
    root.end();
    await bus.shutdown();

    await waitFor('the child to handle both events', () => handled.length === 2);
    expect(handled.sort((a, b) => a.n - b.n)).toEqual([
      { n: 1, tenant: 'acme' },
      { n: 2, tenant: 'acme' },
    ]);
    child.send({ type: 'stop' });
    await exited;
    expect(childSpans).toBeDefined();

    const here = tracing.spans().map(toRecord);
    const there = childSpans!;
    const rootRecord = here.find((s) => s.name === 'POST /orders')!;
    const publish = here.find((s) => s.name === SPAN_NAMES.publish)!;
    expect(here.map((s) => s.name).sort()).toEqual(['POST /orders', SPAN_NAMES.publish].sort());
    // Order 1: one attempt. Order 2: a failed attempt, then its retry copy from the delay queue.
    expect(there.map((s) => s.name).sort()).toEqual(
      ['charge card', 'charge card', SPAN_NAMES.dispatch, SPAN_NAMES.dispatch, SPAN_NAMES.dispatch, SPAN_NAMES.handle, SPAN_NAMES.handle, SPAN_NAMES.handle].sort(),
    );

    // One trace, linked parent to child across the process boundary and across the delay queue.
    expect(new Set([...here, ...there].map((s) => s.traceId))).toEqual(new Set([rootRecord.traceId]));
    expect(publish.parentSpanId).toBe(rootRecord.spanId);
    expect(publish.kind).toBe('PRODUCER');
    expect(publish.attributes).toMatchObject({ 'messaging.system': 'rabbitmq', 'messaging.operation.type': 'send', 'messaging.batch.message_count': 2 });

    const dispatches = there.filter((s) => s.name === SPAN_NAMES.dispatch).sort((a, b) => a.startNs - b.startNs);
    for (const dispatch of dispatches) {
      expect(dispatch.parentSpanId).toBe(publish.spanId);
      expect(dispatch.kind).toBe('CONSUMER');
      expect(dispatch.attributes).toMatchObject({
        'messaging.system': 'rabbitmq',
        'messaging.destination.name': `${exchange}.billing`,
        'messaging.consumer.group.name': 'billing',
        'eventsource.event.type': 'RabbitTestOrderPlaced',
      });
    }
    const byOrder = (n: number) => dispatches.filter((s) => s.attributes['eventsource.aggregate.id'] === `order-${n}`);
    expect(byOrder(1).map((s) => [s.attributes['eventsource.attempt'], s.attributes['eventsource.outcome']])).toEqual([[1, 'ack']]);
    expect(byOrder(2).map((s) => [s.attributes['eventsource.attempt'], s.attributes['eventsource.outcome']])).toEqual([
      [1, 'retry'],
      [2, 'ack'],
    ]);
    expect(byOrder(2)[0]!.status.code).toBe(SpanStatusCode.ERROR);

    for (const dispatch of dispatches) {
      const handles = there.filter((s) => s.name === SPAN_NAMES.handle && s.parentSpanId === dispatch.spanId);
      expect(handles).toHaveLength(1);
      expect(handles[0]!.kind).toBe('INTERNAL');
      expect(handles[0]!.attributes).toMatchObject({ 'eventsource.handler.name': 'billing' });
    }
    const handleIds = new Set(there.filter((s) => s.name === SPAN_NAMES.handle).map((s) => s.spanId));
    for (const charge of there.filter((s) => s.name === 'charge card')) expect(handleIds).toContain(charge.parentSpanId);
  });
});
