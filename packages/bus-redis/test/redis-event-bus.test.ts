import {
  BusClosedError,
  ConfigError,
  DlqMessageNotFoundError,
  HEADER,
  NotConnectedError,
  TransportError,
  type Span,
  type Tracer,
} from '@eventsource/core';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { RedisEventBus } from '../src/index.js';
import {
  OrderPlaced,
  OtherTeamEvent,
  REDIS_URL,
  broker,
  busOptions,
  order,
  redisTestScope,
  waitFor,
} from './support/redis.js';

describe.skipIf(!broker)('RedisEventBus on a real Redis', () => {
  const scope = redisTestScope();
  const prefix = scope.prefix;
  const bus = scope.bus;
  let raw: Redis;
  beforeAll(() => {
    raw = scope.raw();
  });
  async function pendingOf(p: string, group = 'g1'): Promise<number> {
    const summary = (await raw.call('XPENDING', [`${p}:stream`, group])) as [number, ...unknown[]];
    return Number(summary[0]);
  }

  it('publishes a batch in one pipelined round trip, in order, with envelope fields and trace context', async () => {
    const p = prefix('publish');
    const client = new Redis(REDIS_URL, { lazyConnect: true });
    let pipelines = 0;
    const pipeline = client.pipeline.bind(client);
    client.pipeline = ((...args: Parameters<typeof pipeline>) => {
      pipelines++;
      return pipeline(...args);
    }) as typeof client.pipeline;
    const b = await bus(p, { client, tracer: recordingTracer() });

    await b.publish([order(1), order(2), order(3), order(4), order(5)]);

    expect(pipelines).toBe(1);
    const entries = await raw.xrange(`${p}:stream`, '-', '+');
    expect(entries.map(([, f]) => JSON.parse(fieldMap(f).body!).n)).toEqual([1, 2, 3, 4, 5]);
    const fields = fieldMap(entries[0]![1]);
    expect(fields[HEADER.eventType]).toBe('RedisTestOrderPlaced');
    expect(fields[HEADER.aggregateId]).toBe('order-1');
    expect(fields.key).toBe('order-1');
    expect(fields.traceparent).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-01$/);
    expect(b.getStats().eventsPublished).toBe(5);

    await b.shutdown();
    // The caller's client is the caller's to close.
    expect(client.status).toBe('ready');
    client.disconnect();
  });

  it('background publishes return before Redis answers and shutdown drains them', async () => {
    const p = prefix('background');
    const b = await bus(p);
    for (let i = 0; i < 50; i++) await b.publish([order(i)], { background: true });
    const result = await b.shutdown(10_000);
    expect(result).toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(await raw.xlen(`${p}:stream`)).toBe(50);
    expect(b.getStats().backgroundTasksCreated).toBeGreaterThan(0);
  });

  it('a poison message gets exactly 1 + maxRetries attempts, then a dead letter with metadata; replay and a fixed handler succeed', async () => {
    const p = prefix('poison');
    const b = await bus(p, { maxRetries: 3 });
    let attempts = 0;
    let fixed = false;
    const handled: number[] = [];
    b.subscribe(OrderPlaced, (event) => {
      if (event.n !== 13) return void handled.push(event.n);
      attempts++;
      if (!fixed) throw new TypeError('poison');
      handled.push(event.n);
    });
    b.startConsumingInBackground();
    const poison = order(13);
    await b.publish([order(1), poison, order(2)]);

    await waitFor('the dead letter', async () => (await b.getDlqMessageCount()) === 1);
    expect(attempts).toBe(4);
    expect(handled.sort()).toEqual([1, 2]);
    const [letter] = await b.getDlqMessages({ count: 10 });
    expect(letter!.event?.eventId).toBe(poison.eventId);
    expect(letter!.eventType).toBe('RedisTestOrderPlaced');
    expect(letter!.info).toMatchObject({
      reason: 'max_retries_exceeded',
      errorType: 'TypeError',
      attempts: 4,
      originalDestination: `${p}:stream`,
      consumerGroup: 'g1',
    });
    expect(letter!.info.errorMessage).toContain('poison');
    expect(Date.parse(letter!.info.firstFailureAt)).toBeLessThanOrEqual(Date.parse(letter!.info.lastFailureAt));
    const original = await raw.xrange(`${p}:stream`, '-', '+');
    expect(original.map(([id]) => id)).toContain(letter!.info.originalId);
    expect(letter!.headers[HEADER.attempt]).toBeUndefined();
    expect((await b.getStreamInfo()).dlqMessages).toBe(1);
    expect(await pendingOf(p)).toBe(0);

    await expect(b.replayDlqMessage('0-1')).rejects.toBeInstanceOf(DlqMessageNotFoundError);
    fixed = true;
    await b.replayDlqMessage(letter!.id);
    await waitFor('the replayed event', () => handled.includes(13));
    expect(attempts).toBe(5);
    expect(await b.getDlqMessageCount()).toBe(0);
    // Replay goes to this group only: the shared stream did not grow.
    expect(await raw.xlen(`${p}:stream`)).toBe(3);
    const stats = b.getStats();
    expect(stats).toMatchObject({ eventsRetried: 3, eventsDeadLettered: 1, handlerErrors: 4, eventsFailed: 4 });
  });

  it('a retry stays in the failing group: the other group sees the event exactly once', async () => {
    const p = prefix('groups');
    const failing = await bus(p, { consumerGroup: 'billing' });
    const healthy = await bus(p, { consumerGroup: 'shipping' });
    let billingAttempts = 0;
    let shippingSeen = 0;
    failing.subscribe(OrderPlaced, () => {
      billingAttempts++;
      if (billingAttempts < 3) throw new Error('billing is flaky');
    });
    healthy.subscribe(OrderPlaced, () => void shippingSeen++);
    failing.startConsumingInBackground();
    healthy.startConsumingInBackground();
    await failing.publish([order(1)]);
    await waitFor('billing to succeed on its third attempt', () => billingAttempts === 3);
    await waitFor('billing to settle', async () => (await pendingOf(p, 'billing')) === 0);
    expect(shippingSeen).toBe(1);
    expect(await raw.xlen(`${p}:stream`)).toBe(1);
    expect(await raw.exists(`${p}:stream_dlq:shipping`, `${p}:stream_dlq:billing`)).toBe(0);
  });

  it('live members take over entries a dead member left pending', async () => {
    const p = prefix('reclaim');
    const b = await bus(p, { reclaimIdleMs: 300 });
    const handled: number[] = [];
    b.subscribe(OrderPlaced, (event) => void handled.push(event.n));
    await raw.xgroup('CREATE', `${p}:stream`, 'g1', '0', 'MKSTREAM');
    await b.publish([order(1), order(2), order(3), order(4), order(5)]);
    // A member reads everything and dies without acknowledging.
    await raw.xreadgroup('GROUP', 'g1', 'dead-member', 'COUNT', 10, 'STREAMS', `${p}:stream`, '>');
    b.startConsumingInBackground();
    await waitFor('the abandoned entries', () => handled.length === 5);
    expect(handled.sort()).toEqual([1, 2, 3, 4, 5]);
    expect(b.getStats().eventsReclaimed).toBe(5);
    await waitFor('acknowledgements', async () => (await pendingOf(p)) === 0);
  });

  it('a handler slower than the reclaim idle time is not handed to another member', async () => {
    const p = prefix('slow');
    const members = [await bus(p, { reclaimIdleMs: 300, consumerName: 'a' }), await bus(p, { reclaimIdleMs: 300, consumerName: 'b' })];
    const calls = new Map<number, number>();
    for (const member of members) {
      member.subscribe(OrderPlaced, async (event) => {
        calls.set(event.n, (calls.get(event.n) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 1500));
      });
      member.startConsumingInBackground();
    }
    await members[0]!.publish([order(1), order(2), order(3), order(4)]);
    await waitFor('all four handled and acknowledged', async () => calls.size === 4 && (await pendingOf(p)) === 0);
    // Several reclaim rounds pass while nothing is pending; nothing may come back.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect([...calls.values()]).toEqual([1, 1, 1, 1]);
    expect(members[0]!.getStats().eventsReclaimed + members[1]!.getStats().eventsReclaimed).toBe(0);
  });

  it('hand-outs alone do not count towards maxDeliveries: an entry other members took and never started is handled', async () => {
    const p = prefix('handouts');
    await raw.xgroup('CREATE', `${p}:stream`, 'g1', '0', 'MKSTREAM');
    const b = await bus(p, { reclaimIdleMs: 200, maxDeliveries: 2 });
    let invoked = 0;
    b.subscribe(OrderPlaced, () => void invoked++);
    await b.publish([order(1)]);
    // Two members take it in turn and die before starting it: three hand-outs once we reclaim it.
    const [[, [[id]]]] = (await raw.xreadgroup('GROUP', 'g1', 'dead-1', 'COUNT', 1, 'STREAMS', `${p}:stream`, '>')) as unknown as [[string, [[string]]]];
    await raw.xclaim(`${p}:stream`, 'g1', 'dead-2', 0, id);
    await new Promise((resolve) => setTimeout(resolve, 250));
    b.startConsumingInBackground();
    await waitFor('the entry handled', () => invoked === 1);
    await waitFor('acknowledged', async () => (await pendingOf(p)) === 0);
    expect(await b.getDlqMessageCount()).toBe(0);
  });

  it('an entry started maxDeliveries times without being settled is dead-lettered as max_deliveries_exceeded', async () => {
    const p = prefix('crashloop');
    await raw.xgroup('CREATE', `${p}:stream`, 'g1', '0', 'MKSTREAM');
    const b = await bus(p, { reclaimIdleMs: 200, maxDeliveries: 2 });
    let invoked = 0;
    b.subscribe(OrderPlaced, () => void invoked++);
    await b.publish([order(1)]);
    const [[, [[id]]]] = (await raw.xreadgroup('GROUP', 'g1', 'dead-1', 'COUNT', 1, 'STREAMS', `${p}:stream`, '>')) as unknown as [[string, [[string]]]];
    // dead-1 started it and died; so did the member that reclaimed it after (its start is journaled).
    await raw.set(`${b.config.keys.startJournal}:${id}`, '1');
    await new Promise((resolve) => setTimeout(resolve, 250));
    b.startConsumingInBackground();
    await waitFor('the dead letter', async () => (await b.getDlqMessageCount()) === 1);
    const [letter] = await b.getDlqMessages();
    expect(letter!.info).toMatchObject({ reason: 'max_deliveries_exceeded', errorType: 'RedeliveryLimitExceeded', originalId: id });
    expect(invoked).toBe(0);
    expect(await pendingOf(p)).toBe(0);
  });

  it('bad input is dead-lettered with its reason; types nobody here handles are acknowledged and counted', async () => {
    const p = prefix('input');
    const b = await bus(p);
    b.subscribe(OrderPlaced, () => {});
    b.startConsumingInBackground();
    await waitFor('the consumer', () => b.health().consuming);
    const stream = `${p}:stream`;
    const valid = JSON.parse(JSON.stringify(order(1))) as Record<string, unknown>;
    await raw.xadd(stream, '*', HEADER.eventType, 'RedisTestOrderPlaced', 'body', '{not json');
    await raw.xadd(stream, '*', HEADER.eventType, 'RedisTestOrderPlaced', 'body', JSON.stringify({ ...valid, aggregateId: undefined }));
    await raw.xadd(stream, '*', HEADER.eventType, 'RedisTestOrderPlaced');
    await raw.xadd(stream, '*', HEADER.eventType, 'RedisTestOrderPlaced', '__proto__', 'x', 'body', JSON.stringify(valid).replace('"n":1', '"n":1,"__proto__":{"polluted":true}'));
    await b.publish([new OtherTeamEvent({ aggregateId: 'o-1', aggregateVersion: 1, n: 1 })]);
    await raw.xadd(stream, '*', HEADER.eventType, 'SomeoneElsesType', 'body', '{}');

    await waitFor('four dead letters', async () => (await b.getDlqMessageCount()) === 4);
    // Handlers run concurrently (maxInFlight), so dead letters need not be in stream order.
    const reasons = (await b.getDlqMessages()).map((m) => m.info.reason).sort();
    expect(reasons).toEqual(['forbidden_key', 'malformed_json', 'missing_field', 'missing_field']);
    await waitFor('the skipped types', () => b.getStats().eventsSkipped === 2);
    await waitFor('everything acknowledged', async () => (await pendingOf(p)) === 0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('with enableDlq false an exhausted entry is acknowledged and counted as dropped', async () => {
    const p = prefix('nodlq');
    const b = await bus(p, { enableDlq: false, maxRetries: 1 });
    b.subscribe(OrderPlaced, () => {
      throw new Error('always');
    });
    b.startConsumingInBackground();
    await b.publish([order(1)]);
    await waitFor('the drop', () => b.getStats().eventsDropped === 1);
    expect(await raw.exists(`${p}:stream_dlq:g1`)).toBe(0);
    expect(await pendingOf(p)).toBe(0);
  });

  it('trims the stream to about maxLen', async () => {
    const p = prefix('trim');
    const b = await bus(p, { maxLen: 100 });
    for (let batch = 0; batch < 10; batch++) await b.publish(Array.from({ length: 100 }, (_, i) => order(batch * 100 + i)));
    const length = await raw.xlen(`${p}:stream`);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(1000);
  });

  it('shutdown lets a running handler finish and acknowledges it, dead-lettering nothing', async () => {
    const p = prefix('shutdown');
    const b = await bus(p);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    let finished = false;
    b.subscribe(OrderPlaced, async () => {
      started = true;
      await gate;
      finished = true;
    });
    b.startConsumingInBackground();
    await b.publish([order(1)]);
    await waitFor('the handler to start', () => started);
    const stopping = b.shutdown(20_000);
    setTimeout(release, 100);
    expect(await stopping).toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(finished).toBe(true);
    expect(await pendingOf(p)).toBe(0);
    expect(await raw.exists(`${p}:stream_dlq:g1`)).toBe(0);
    await expect(b.publish([order(2)])).rejects.toBeInstanceOf(BusClosedError);
    expect(b.health().healthy).toBe(false);
  });

  it('shutdown interrupts a blocked read instead of waiting it out', async () => {
    const p = prefix('unblock');
    // Longer than the test timeout: only an interrupted read lets this test finish.
    const b = await bus(p, { blockMs: 120_000 });
    b.subscribe(OrderPlaced, () => {});
    const { done } = b.startConsumingInBackground();
    await waitFor('the consumer', () => b.health().consuming);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await b.shutdown(30_000)).toEqual({ drained: true, pendingBackgroundTasks: 0 });
    await done;
  });

  it('a consumer restarted under the same name handles its own unacknowledged entries at once', async () => {
    const p = prefix('ownpending');
    await raw.xgroup('CREATE', `${p}:stream`, 'g1', '0', 'MKSTREAM');
    const b = await bus(p, { consumerName: 'worker-1', reclaimIdleMs: 600_000 });
    const handled: number[] = [];
    b.subscribe(OrderPlaced, (event) => void handled.push(event.n));
    await b.publish([order(1), order(2)]);
    await raw.xreadgroup('GROUP', 'g1', 'worker-1', 'COUNT', 10, 'STREAMS', `${p}:stream`, '>');
    b.startConsumingInBackground();
    await waitFor('its own pending entries', () => handled.length === 2);
    await waitFor('acknowledgements', async () => (await pendingOf(p)) === 0);
  });

  it('recreates a lost stream and group and keeps consuming', async () => {
    const p = prefix('nogroup');
    const b = await bus(p);
    const handled: number[] = [];
    b.subscribe(OrderPlaced, (event) => void handled.push(event.n));
    b.startConsumingInBackground();
    await b.publish([order(1)]);
    await waitFor('first', () => handled.length === 1);
    await raw.del(`${p}:stream`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await b.publish([order(2)]);
    await waitFor('the event after the loss', () => handled.includes(2), 20_000);
  });

  it('reports stream info, health and stats', async () => {
    const p = prefix('info');
    const b = await bus(p, { consumerName: 'info-1' });
    b.subscribe(OrderPlaced, () => {});
    expect(b.health()).toMatchObject({ healthy: true, connected: true, consuming: false });
    b.startConsumingInBackground();
    await b.publish([order(1), order(2)]);
    await waitFor('both handled', () => b.getStats().eventsProcessed === 2);
    await waitFor('acknowledgements', async () => (await pendingOf(p)) === 0);
    const info = await b.getStreamInfo();
    expect(info).toMatchObject({
      stream: `${p}:stream`,
      length: 2,
      consumerGroup: 'g1',
      pendingMessages: 0,
      scheduledRetries: 0,
      dlqStream: `${p}:stream_dlq:g1`,
      dlqMessages: 0,
    });
    expect(info.groups.map((g) => g.name)).toEqual(['g1']);
    expect(info.consumers.map((c) => c.name)).toEqual(['info-1']);
    expect(b.health()).toEqual({ healthy: true, connected: true, consuming: true, stuckHandlers: 0 });
    expect(b.getStats()).toMatchObject({ eventsPublished: 2, eventsConsumed: 2, eventsProcessed: 2, handlersInvoked: 2, reconnections: 0 });
  });

  it('refuses use before connect() and rejects bad options with what to do', async () => {
    const b = new RedisEventBus(busOptions(prefix('unconnected')));
    await expect(b.publish([order(1)])).rejects.toBeInstanceOf(NotConnectedError);
    await expect(b.startConsuming()).rejects.toBeInstanceOf(NotConnectedError);
    await expect(b.getDlqMessageCount()).rejects.toBeInstanceOf(NotConnectedError);
    expect(b.health()).toMatchObject({ healthy: false, connected: false });
    await b.shutdown();
    expect(() => new RedisEventBus({ redisUrl: 'http://localhost' })).toThrow(ConfigError);
    expect(() => new RedisEventBus({ batchSize: 0 })).toThrow(/batchSize/);
  });

  it('never prints the password of an unreachable Redis', async () => {
    const b = new RedisEventBus({ ...busOptions(prefix('secret')), redisUrl: 'redis://user:s3cret-pw@127.0.0.1:1', redisOptions: { retryStrategy: () => null } });
    const error = await b.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransportError);
    expect(String((error as Error).message)).not.toContain('s3cret-pw');
    expect(String((error as Error).message)).toContain('127.0.0.1:1');
    await b.shutdown();
  });
});

function fieldMap(fields: string[]): Record<string, string | undefined> {
  const out: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) out[fields[i]!] = fields[i + 1]!;
  return out;
}

/** A tracer that creates real W3C ids, enough to see the context travel in the entry. */
function recordingTracer(): Tracer {
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  const span = (): Span & { id: string } => ({
    id: `00-${hex(32)}-${hex(16)}-01`,
    setAttribute() {},
    recordException() {},
    setStatus() {},
    end() {},
    run: (fn) => fn(),
  });
  return {
    enabled: true,
    startSpan: () => span(),
    inject: (s, headers) => {
      headers.traceparent = (s as Span & { id: string }).id;
    },
    extract: () => undefined,
  };
}
