import { fileURLToPath } from 'node:url';
import { RedisEventBus } from '@eventsource/bus-redis';
import { testCrossProcessTrace } from '@eventsource/conformance';
import { METRIC_NAMES, SPAN_NAMES, silentLogger } from '@eventsource/core';
import { SpanStatusCode } from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otel } from '../src/index.js';
import { OrderPlaced, order, registry } from './support/events.js';
import { documentedPairs, pairsOf } from './support/readme.js';
import { REDIS_URL, broker, deleteKeys, uniquePrefix, waitFor } from './support/redis.js';
import { registerGlobals, telemetry, toRecord, total } from './support/telemetry.js';

const CONSUMER = fileURLToPath(new URL('./support/redis-consumer.ts', import.meta.url));

beforeAll(registerGlobals);

describe.skipIf(!broker)('RedisEventBus with @eventsource/otel', () => {
  testCrossProcessTrace({
    transport: 'Redis',
    system: 'redis',
    namespace: () => uniquePrefix('hop'),
    async publisher(prefix, { group, tracerProvider }) {
      const bus = new RedisEventBus({ redisUrl: REDIS_URL, streamPrefix: prefix, consumerGroup: group, logger: silentLogger, tracer: otel({ tracerProvider }).tracer });
      await bus.connect();
      return bus;
    },
    consumer: (prefix, group) => ({ script: CONSUMER, args: [REDIS_URL, prefix, group] }),
    destinations: (prefix) => ({ publish: `${prefix}:stream`, dispatch: `${prefix}:stream` }),
    cleanup: (prefix) => deleteKeys(prefix),
    // Nothing off the README's list.
    checkSpans(spans) {
      const { every } = documentedPairs([]);
      for (const pair of pairsOf(spans)) expect(every).toContain(pair);
    },
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
