import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RedisEventBus } from '@eventsource/bus-redis';
import { METRIC_NAMES, SPAN_NAMES, silentLogger } from '@eventsource/core';
import { SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderPlaced, order, registry } from './support/events.js';
import { documentedPairs, pairsOf } from './support/readme.js';
import { REDIS_URL, broker, deleteKeys, uniquePrefix, waitFor } from './support/redis.js';
import { registerGlobals, telemetry, toRecord, total, type SpanRecord } from './support/telemetry.js';

const CONSUMER = fileURLToPath(new URL('./support/redis-consumer.ts', import.meta.url));

beforeAll(registerGlobals);

describe.skipIf(!broker)('one trace across a Redis hop: publish here, handle in a child process', () => {
  const prefix = uniquePrefix('hop');
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await deleteKeys(prefix);
  });

  it('the consumer’s dispatch span is a CONSUMER child of the publish span; handler and application spans nest below; baggage arrives', async () => {
    const handled: Array<{ n: number; tenant: string | null }> = [];
    let childSpans: SpanRecord[] | undefined;
    child = fork(CONSUMER, [REDIS_URL, prefix, 'billing'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child!.on('message', (message: { type: string; n?: number; tenant?: string | null; spans?: SpanRecord[] }) => {
        if (message.type === 'ready') resolve();
        if (message.type === 'handled') handled.push({ n: message.n!, tenant: message.tenant ?? null });
        if (message.type === 'spans') childSpans = message.spans;
      });
      child!.once('exit', (code, signal) => reject(new Error(`consumer process exited early (${code ?? signal})`)));
    });

    const t = telemetry();
    const bus = new RedisEventBus({ redisUrl: REDIS_URL, streamPrefix: prefix, consumerGroup: 'publisher', registry, logger: silentLogger, tracer: t.tracer });
    await bus.connect();
    const app = t.tracerProvider.getTracer('app');
    const root = app.startSpan('POST /orders');
    const active = propagation.setBaggage(trace.setSpan(context.active(), root), propagation.createBaggage({ tenant: { value: 'acme' } }));
    await context.with(active, () => bus.publish([order(1)]));
    root.end();
    await bus.shutdown();

    await waitFor('the child to handle the event', () => handled.length === 1);
    expect(handled).toEqual([{ n: 1, tenant: 'acme' }]);
    child.send({ type: 'stop' });
    await exited;
    expect(childSpans).toBeDefined();

    const here = t.spans().map(toRecord);
    const there = childSpans!;
    const rootRecord = here.find((s) => s.name === 'POST /orders')!;
    const publish = here.find((s) => s.name === SPAN_NAMES.publish)!;
    const dispatch = there.find((s) => s.name === SPAN_NAMES.dispatch)!;
    const handle = there.find((s) => s.name === SPAN_NAMES.handle)!;
    const charge = there.find((s) => s.name === 'charge card')!;
    expect(there.map((s) => s.name).sort()).toEqual(['charge card', SPAN_NAMES.dispatch, SPAN_NAMES.handle].sort());

    // One trace, linked parent to child across the process boundary.
    expect(new Set([...here, ...there].map((s) => s.traceId))).toEqual(new Set([rootRecord.traceId]));
    expect(publish.parentSpanId).toBe(rootRecord.spanId);
    expect(dispatch.parentSpanId).toBe(publish.spanId);
    expect(handle.parentSpanId).toBe(dispatch.spanId);
    expect(charge.parentSpanId).toBe(handle.spanId);
    expect([publish.kind, dispatch.kind, handle.kind]).toEqual(['PRODUCER', 'CONSUMER', 'INTERNAL']);

    expect(publish.attributes).toEqual({
      'messaging.system': 'redis',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': `${prefix}:stream`,
      'messaging.batch.message_count': 1,
    });
    expect(dispatch.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': `${prefix}:stream`,
      'messaging.consumer.group.name': 'billing',
      'eventsource.event.type': 'OtelTestOrderPlaced',
      'eventsource.aggregate.type': 'Order',
      'eventsource.aggregate.id': 'order-1',
      'eventsource.attempt': 1,
    });
    expect(dispatch.attributes['eventsource.event.id']).toMatch(/^[\da-f-]{36}$/);
    expect(handle.attributes).toMatchObject({ 'eventsource.handler.name': 'billing', 'eventsource.attempt': 1 });
    for (const span of [publish, dispatch, handle]) expect(span.status.code).toBe(SpanStatusCode.UNSET);

    // Nothing off the README's list.
    const { every } = documentedPairs([]);
    for (const pair of pairsOf([...here, ...there])) expect(every).toContain(pair);
    await t.close();
  });
});

describe.skipIf(!broker)('retries and dead letters on Redis, in the trace and in the metrics', () => {
  const prefix = uniquePrefix('retry');
  const t = telemetry();
  let bus: RedisEventBus;
  let failing = true;
  const handledOk: number[] = [];

  beforeAll(async () => {
    bus = new RedisEventBus({
      redisUrl: REDIS_URL,
      streamPrefix: prefix,
      consumerGroup: 'billing',
      registry,
      logger: silentLogger,
      blockMs: 200,
      maxRetries: 2,
      retryBaseDelayMs: 20,
      retryMaxDelayMs: 50,
      retryJitter: 0,
      retryPollMs: 20,
      tracer: t.tracer,
      metrics: t.metrics,
    });
    bus.subscribe(
      OrderPlaced,
      (event) => {
        if (event.n === 1 && failing) throw new TypeError(`card declined for order ${event.n}`);
        handledOk.push(event.n);
      },
      { name: 'billing' },
    );
    await bus.connect();
    bus.startConsumingInBackground();
    await waitFor('the consumer to start', () => bus.health().consuming);
    await bus.publish([order(1), order(2), order(3)]);
    await waitFor('one dead letter', async () => (await bus.getDlqMessageCount()) === 1);
    await waitFor('the two good events', () => handledOk.length === 2);
  });
  afterAll(async () => {
    await bus.shutdown();
    await t.close();
    await deleteKeys(prefix);
  });

  const attemptsOfOrder1 = () =>
    t
      .spans()
      .map(toRecord)
      .filter((s) => s.name === SPAN_NAMES.dispatch && s.attributes['eventsource.aggregate.id'] === 'order-1')
      .sort((a, b) => a.startNs - b.startNs);

  it('every attempt is a dispatch span in the publish span’s trace, numbered, failed, with the exception recorded', () => {
    const publish = t.spans().map(toRecord).filter((s) => s.name === SPAN_NAMES.publish);
    expect(publish).toHaveLength(1);
    const attempts = attemptsOfOrder1();
    expect(attempts.map((s) => s.attributes['eventsource.attempt'])).toEqual([1, 2, 3]);
    for (const attempt of attempts) {
      expect(attempt.traceId).toBe(publish[0]!.traceId);
      expect(attempt.parentSpanId).toBe(publish[0]!.spanId);
      expect(attempt.kind).toBe('CONSUMER');
      expect(attempt.status.code).toBe(SpanStatusCode.ERROR);
      expect(attempt.attributes['error.type']).toBe('TypeError');
      expect(attempt.events.map((e) => e.name)).toEqual(['exception']);
    }
    const handles = t
      .spans()
      .map(toRecord)
      .filter((s) => s.name === SPAN_NAMES.handle && attempts.some((a) => a.spanId === s.parentSpanId));
    expect(handles.map((h) => h.attributes['eventsource.attempt']).sort()).toEqual([1, 2, 3]);
    for (const handle of handles) {
      expect(handle.status).toEqual({ code: SpanStatusCode.ERROR, message: 'card declined for order 1' });
      expect(handle.events[0]!.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'card declined for order 1' });
    }
  });

  it('the dead letter is visible in the trace: the last attempt says it was dead-lettered, the earlier ones that they were retried', () => {
    expect(attemptsOfOrder1().map((s) => s.attributes['eventsource.outcome'])).toEqual(['retry', 'retry', 'dead_letter']);
  });

  it('every span attribute the README lists for brokers is emitted, and nothing else', () => {
    const { every, expected } = documentedPairs(['always', 'failure', 'broker']);
    // Redis accepted every publish here; a failed publish is covered on the in-memory bus.
    expected.delete('publish error.type');
    const emitted = pairsOf(t.spans().map(toRecord));
    expect([...emitted].filter((p) => !every.has(p))).toEqual([]);
    expect([...expected].filter((p) => !emitted.has(p))).toEqual([]);
  });

  it('the metrics count what happened: 3 sent, 5 consumed, 3 handler errors, 2 retries, 1 dead letter', async () => {
    const data = await t.collect();
    expect({
      sent: total(data, METRIC_NAMES.sent),
      consumed: total(data, METRIC_NAMES.consumed),
      processed: total(data, METRIC_NAMES.processDuration),
      handlerErrors: total(data, METRIC_NAMES.handlerErrors),
      retries: total(data, METRIC_NAMES.retries),
      deadLetters: total(data, METRIC_NAMES.deadLetters),
    }).toEqual({ sent: 3, consumed: 5, processed: 5, handlerErrors: 3, retries: 2, deadLetters: 1 });
    const deadLetter = data.find((m) => m.descriptor.name === METRIC_NAMES.deadLetters)!.dataPoints[0]!;
    expect(deadLetter.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.destination.name': `${prefix}:stream`,
      'messaging.consumer.group.name': 'billing',
      'eventsource.event.type': 'OtelTestOrderPlaced',
      'error.type': 'TypeError',
    });
    const inFlight = data.find((m) => m.descriptor.name === METRIC_NAMES.inFlight);
    expect(inFlight?.dataPoints.map((p) => p.value)).toEqual([0]);
  });

  it('messaging.process.duration is split by outcome: 2 acks, 2 retries, 1 dead letter', async () => {
    const duration = (await t.collect()).find((m) => m.descriptor.name === METRIC_NAMES.processDuration)!;
    const byOutcome = Object.fromEntries(
      duration.dataPoints.map((p) => [String(p.attributes['eventsource.outcome']), (p.value as { count: number }).count]),
    );
    expect(byOutcome).toEqual({ ack: 2, retry: 2, dead_letter: 1 });
  });

  it('a replay from the dead-letter queue stays in the original trace, as a fresh first attempt under the publish span', async () => {
    failing = false;
    const [letter] = await bus.getDlqMessages();
    await bus.replayDlqMessage(letter!.id);
    await waitFor('the replayed event', () => handledOk.includes(1));
    await waitFor('the replay’s dispatch span', () => attemptsOfOrder1().length === 4);
    const publish = t.spans().map(toRecord).find((s) => s.name === SPAN_NAMES.publish)!;
    const replay = attemptsOfOrder1().at(-1)!;
    expect(replay.traceId).toBe(publish.traceId);
    expect(replay.parentSpanId).toBe(publish.spanId);
    expect(replay.attributes['eventsource.attempt']).toBe(1);
    expect(replay.status.code).toBe(SpanStatusCode.UNSET);
  });
});
