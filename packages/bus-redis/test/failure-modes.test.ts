import { randomBytes } from 'node:crypto';
import {
  BusClosedError,
  HEADER,
  NotConnectedError,
  TransportError,
  type Logger,
} from '@eventsource/core';
import { Redis } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { RedisEventBus, type RedisEventBusOptions } from '../src/index.js';
import { OrderPlaced, REDIS_URL, broker, busOptions, order, redisTestScope,
  waitFor } from './support/redis.js';
import { TcpProxy } from '@eventsource/conformance';

/** A logger that keeps every warning and error line, with its fields, for assertions. */
function recordingLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string, fields?: object) => void lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug() {}, info: keep('info'), warn: keep('warn'), error: keep('error') };
}

function gate(): { readonly wait: Promise<void>; readonly open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe.skipIf(!broker)('failure modes on a real Redis', () => {
  const scope = redisTestScope();
  const prefix = scope.prefix;
  const bus = scope.bus;
  let raw: Redis;
  beforeAll(() => {
    raw = scope.raw();
  });
  function unconnected(p: string, extra: RedisEventBusOptions = {}): RedisEventBus {
    return scope.track(new RedisEventBus(busOptions(p, extra)));
  }

  it('entries fetched but never started at a shutdown deadline go back without a delivery counted against them', async () => {
    const p = prefix('handback');
    const options = { maxRetries: 0, reclaimIdleMs: 300 };
    const a = await bus(p, { ...options, consumerName: 'a', maxInFlight: 1 });
    const held = gate();
    const handledByA: number[] = [];
    a.subscribe(OrderPlaced, async (e) => {
      handledByA.push(e.n);
      await held.wait;
    });
    a.startConsumingInBackground();
    await a.publish([1, 2, 3, 4, 5].map((n) => order(n)));
    await waitFor('A to start its first entry', () => handledByA.length === 1);

    // One entry runs, four wait in A's queue when the deadline passes.
    const result = await a.shutdown(200);
    held.open();
    expect(result.drained).toBe(false);

    const b = await bus(p, { ...options, consumerName: 'b' });
    const handledByB = new Set<number>();
    b.subscribe(OrderPlaced, (e) => void handledByB.add(e.n));
    b.startConsumingInBackground();
    await waitFor('B to handle all five', () => handledByB.size === 5);
    // maxRetries 0 and every entry was handed out again: none of them was a failure.
    expect(await b.getDlqMessageCount()).toBe(0);
    expect(b.getStats().eventsDeadLettered).toBe(0);
  });

  it('the crash-loop guard maxDeliveries defaults to 10, independent of maxRetries', () => {
    expect(unconnected(prefix('maxdeliveries'), { maxRetries: 0 }).config.maxDeliveries).toBe(10);
  });

  it('consuming started during an outage waits for Redis, reports unhealthy meanwhile, then consumes', async () => {
    const p = prefix('outage-start');
    const proxy = await TcpProxy.start(REDIS_URL);
    try {
      const b = await bus(p, { redisUrl: proxy.url, reconnectBaseDelayMs: 20, reconnectMaxDelayMs: 100 });
      const seen: number[] = [];
      b.subscribe(OrderPlaced, (e) => void seen.push(e.n));
      await proxy.down();

      let settled = false;
      const { done } = b.startConsumingInBackground();
      void done.then(
        () => (settled = true),
        () => (settled = true),
      );
      const health = b.health();
      expect(health.healthy).toBe(false);
      expect(health.lastError).toBeTruthy();
      expect(health.since).toBeTruthy();

      await proxy.up();
      await waitFor('the consumer to run once Redis is back', () => b.health().healthy && b.health().consuming);
      const publisher = await bus(p);
      await publisher.publish([order(7)]);
      await waitFor('the event published after the outage', () => seen.includes(7));
      expect(settled).toBe(false);
    } finally {
      await proxy.down();
    }
  });

  it('consuming that Redis refuses for good rejects with an actionable TransportError and keeps health() unhealthy', async () => {
    const p = prefix('wrongtype');
    await raw.set(`${p}:stream`, 'not a stream');
    const b = await bus(p);
    b.subscribe(OrderPlaced, () => {});
    const error = await b.startConsuming().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toMatch(/is not a stream: choose another streamPrefix/);
    const health = b.health();
    expect(health).toMatchObject({ healthy: false, consuming: false });
    expect(health.lastError).toMatch(/WRONGTYPE/);
    await b.stopConsuming();
    expect(b.health().healthy).toBe(true);
  });

  it('counts, logs and reports entries trimmed before the group read them', async () => {
    const p = prefix('trim-unread');
    const logger = recordingLogger();
    const producer = await bus(p, { maxLen: 100 });
    const consumer = await bus(p, { consumerGroup: 'slow', logger });
    consumer.subscribe(OrderPlaced, () => {});
    // The group exists (the service was deployed), then is down while events pile up.
    consumer.startConsumingInBackground();
    await waitFor('the group', () => consumer.health().consuming);
    await consumer.stopConsuming();
    for (let i = 0; i < 20; i++) await producer.publish(Array.from({ length: 100 }, (_, k) => order(i * 100 + k)));

    const retained = Number(await raw.xlen(`${p}:stream`));
    const before = (await consumer.getStreamInfo()).groups.find((g) => g.name === 'slow')!;
    expect(before.trimmedBeforeRead).toBe(2000 - retained);
    expect(before.lag).toBe(retained);

    let handled = 0;
    consumer.subscribe(OrderPlaced, () => void handled++);
    consumer.startConsumingInBackground();
    await waitFor('the retained entries', () => handled === retained);
    expect(consumer.getStats().eventsTrimmedUnread).toBe(2000 - retained);
    expect(logger.lines.filter((line) => line.includes('trimmed from the stream before consumer group slow read them'))).toHaveLength(1);
    expect(logger.lines.join('\n')).toContain(`${2000 - retained} entries were trimmed`);
    const after = (await consumer.getStreamInfo()).groups.find((g) => g.name === 'slow')!;
    expect(after.lag).toBe(0);
  });

  it('a group created on an already trimmed stream does not report the older entries as lost', async () => {
    const p = prefix('trim-new-group');
    const producer = await bus(p, { maxLen: 100 });
    for (let i = 0; i < 5; i++) await producer.publish(Array.from({ length: 100 }, (_, k) => order(i * 100 + k)));
    const retained = Number(await raw.xlen(`${p}:stream`));
    const logger = recordingLogger();
    const consumer = await bus(p, { consumerGroup: 'late', logger });
    let handled = 0;
    consumer.subscribe(OrderPlaced, () => void handled++);
    consumer.startConsumingInBackground();
    await waitFor('the retained entries', () => handled === retained);
    const group = (await consumer.getStreamInfo()).groups.find((g) => g.name === 'late')!;
    expect(group.trimmedBeforeRead).toBe(0);
    expect(consumer.getStats().eventsTrimmedUnread).toBe(0);
    expect(logger.lines.join('\n')).not.toContain('trimmed');
  });

  it('an entry with thousands of fields is dead-lettered (minimal) and does not hold a handler slot', async () => {
    const p = prefix('many-fields');
    const b = await bus(p, { maxInFlight: 1 });
    let handled = 0;
    b.subscribe(OrderPlaced, () => void handled++);
    b.startConsumingInBackground();
    const fields: string[] = [];
    for (let i = 0; i < 5000; i++) fields.push(`h${i}`, 'v');
    await raw.xadd(`${p}:stream`, '*', HEADER.eventType, 'RedisTestOrderPlaced', ...fields, 'body', 'not json');
    await b.publish([order(1)]);

    await waitFor('the good event and the dead letter', async () => handled === 1 && (await b.getDlqMessageCount()) === 1);
    const [letter] = await b.getDlqMessages();
    expect(letter!.info.reason).toBe('malformed_json');
    expect(letter!.info.errorMessage).toMatch(/had 5\d{3} fields; this dead letter keeps only the envelope headers/);
    expect(letter!.body).toBe('not json');
    expect(letter!.headers[HEADER.eventType]).toBe('RedisTestOrderPlaced');
    expect((await b.getStreamInfo()).pendingMessages).toBe(0);
    expect(await b.shutdown(2000)).toMatchObject({ drained: true });
  });

  it('a dead letter Redis refuses for good is not retried forever: logged, left pending, the slot freed', async () => {
    const p = prefix('dlq-refused');
    const logger = recordingLogger();
    const b = await bus(p, { maxInFlight: 1, logger });
    await raw.set(b.config.keys.dlq, 'occupied by something else');
    let handled = 0;
    b.subscribe(OrderPlaced, () => void handled++);
    b.startConsumingInBackground();
    await raw.xadd(`${p}:stream`, '*', HEADER.eventType, 'RedisTestOrderPlaced', 'body', 'not json');
    await b.publish([order(1)]);
    await waitFor('the good event behind the refused dead letter', () => handled === 1);
    expect(logger.lines.join('\n')).toMatch(/Redis refused to write a dead letter; the message stays unsettled/);
    expect(Number(((await raw.call('XPENDING', `${p}:stream`, 'g1')) as unknown[])[0])).toBe(1);
  });

  it('publish, background or not, is refused before connect() and after shutdown(), and nothing accepted is lost', async () => {
    const p = prefix('background');
    const logger = recordingLogger();
    const early = unconnected(p, { logger });
    await expect(early.publish([order(1)], { background: true })).rejects.toBeInstanceOf(NotConnectedError);
    await early.shutdown();
    await expect(early.publish([order(1)], { background: true })).rejects.toBeInstanceOf(BusClosedError);
    await expect(early.publish([order(1)])).rejects.toBeInstanceOf(BusClosedError);
    expect(logger.lines).toEqual([]);

    const b = await bus(p);
    const shutdown = b.shutdown(5000);
    let accepted = 0;
    for (let n = 0; n < 10_000; n++) {
      const outcome = await b.publish([order(n)], { background: true }).then(
        () => 'accepted',
        (error: unknown) => error,
      );
      if (outcome !== 'accepted') {
        expect(outcome).toBeInstanceOf(BusClosedError);
        break;
      }
      accepted++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await shutdown;
    expect(Number(await raw.xlen(`${p}:stream`))).toBe(accepted);
  });

  it('consumes, and shuts down, as a Redis user without CLIENT or @dangerous permissions', async () => {
    const tag = randomBytes(4).toString('hex');
    const users = [
      { name: `estest-noclient-${tag}`, rule: '-client' },
      { name: `estest-nodanger-${tag}`, rule: '-@dangerous' },
    ];
    for (const user of users) await raw.call('ACL', 'SETUSER', user.name, 'on', `>pw-${tag}`, '~*', '&*', '+@all', user.rule);
    try {
      for (const user of users) {
        const p = prefix(`acl-${user.rule.replace(/\W/g, '')}`);
        const logger = recordingLogger();
        const url = new URL(REDIS_URL);
        url.username = user.name;
        url.password = `pw-${tag}`;
        const b = await bus(p, { redisUrl: url.toString(), blockMs: 5000, logger, redisOptions: { enableReadyCheck: false } });
        const seen: number[] = [];
        b.subscribe(OrderPlaced, (e) => void seen.push(e.n));
        b.startConsumingInBackground();
        await b.publish([order(1)]);
        await waitFor(`delivery as a user with ${user.rule}`, () => seen.length === 1);
        expect(await b.shutdown(10_000)).toMatchObject({ drained: true });
        // Interrupting the blocked read fell back to closing its socket.
        expect(logger.lines.join('\n')).toContain('Redis refused CLIENT ID / CLIENT UNBLOCK');
        expect(logger.lines.join('\n')).not.toContain(`pw-${tag}`);
      }
    } finally {
      await raw.call('ACL', 'DELUSER', ...users.map((user) => user.name));
    }
  });

  it('a failure of an entry another member already settled writes no second copy; a trimmed one still gets its retry', async () => {
    for (const variant of ['settled elsewhere', 'trimmed'] as const) {
      const p = prefix('xack-zero');
      const b = await bus(p, { maxRetries: 3, retryBaseDelayMs: 60_000, retryMaxDelayMs: 60_000 });
      const held = gate();
      let started = 0;
      b.subscribe(OrderPlaced, async () => {
        started++;
        await held.wait;
        throw new Error('fails after the entry was settled elsewhere');
      });
      b.startConsumingInBackground();
      await b.publish([order(1)]);
      await waitFor('the handler', () => started === 1);
      const id = (await raw.xrange(`${p}:stream`, '-', '+'))[0]![0];
      await raw.xack(`${p}:stream`, 'g1', id);
      if (variant === 'trimmed') await raw.xdel(`${p}:stream`, id);
      held.open();
      await waitFor('the failure to be settled', () => b.getStats().eventsFailed === 1);
      await b.stopConsuming();
      expect(Number(await raw.zcard(b.config.keys.retrySchedule))).toBe(variant === 'trimmed' ? 1 : 0);
      expect(b.getStats().eventsRetried).toBe(variant === 'trimmed' ? 1 : 0);
    }
  });

  it('a clean shutdown removes this consumer from the group; one still holding entries stays', async () => {
    const p = prefix('delconsumer');
    const clean = await bus(p, { consumerName: 'clean' });
    clean.subscribe(OrderPlaced, () => {});
    clean.startConsumingInBackground();
    await clean.publish([order(1)]);
    await waitFor('handled', async () => (await clean.getStreamInfo()).consumers.some((c) => c.name === 'clean' && c.pending === 0) && clean.getStats().eventsProcessed === 1);
    expect(await clean.shutdown(2000)).toMatchObject({ drained: true });

    const stuck = await bus(p, { consumerName: 'stuck', maxInFlight: 1 });
    const held = gate();
    let started = 0;
    stuck.subscribe(OrderPlaced, async () => {
      started++;
      await held.wait;
    });
    stuck.startConsumingInBackground();
    await stuck.publish([order(2)]);
    await waitFor('the stuck handler', () => started === 1);
    expect(await stuck.shutdown(100)).toMatchObject({ drained: false });
    held.open();

    const names = ((await raw.call('XINFO', 'CONSUMERS', `${p}:stream`, 'g1')) as unknown[][]).map((c) => String(c[1]));
    expect(names).toEqual(['stuck']);
  });

  it('warns once when consuming starts with no subscriptions', async () => {
    const p = prefix('no-subs');
    const logger = recordingLogger();
    const b = await bus(p, { logger });
    b.startConsumingInBackground();
    await waitFor('the consumer', () => b.health().consuming);
    await b.stopConsuming();
    b.startConsumingInBackground();
    await waitFor('the consumer again', () => b.health().consuming);
    expect(logger.lines.filter((line) => line.includes('no subscriptions'))).toHaveLength(1);
  });

  it('shutdown() does not report drained when a settlement was abandoned at the deadline', async () => {
    const p = prefix('abandoned');
    const proxy = await TcpProxy.start(REDIS_URL);
    try {
      const b = await bus(p, { redisUrl: proxy.url, reconnectBaseDelayMs: 20, reconnectMaxDelayMs: 50 });
      const held = gate();
      let started = 0;
      b.subscribe(OrderPlaced, async () => {
        started++;
        await held.wait;
      });
      b.startConsumingInBackground();
      await b.publish([order(1)]);
      await waitFor('the handler', () => started === 1);
      await proxy.down();
      held.open();
      expect(await b.shutdown(300)).toMatchObject({ drained: false });
    } finally {
      await proxy.down();
    }
    expect(Number(((await raw.call('XPENDING', `${p}:stream`, 'g1')) as unknown[])[0])).toBe(1);
  });

  it('dlqMaxLen caps the dead-letter stream, oldest dropped first', async () => {
    const p = prefix('dlq-maxlen');
    const b = await bus(p, { maxRetries: 0, dlqMaxLen: 2, maxInFlight: 1 });
    b.subscribe(OrderPlaced, () => {
      throw new Error('always');
    });
    b.startConsumingInBackground();
    await b.publish([1, 2, 3, 4, 5].map((n) => order(n)));
    await waitFor('five dead letters written', () => b.getStats().eventsDeadLettered === 5);
    const letters = await b.getDlqMessages();
    expect(letters.map((m) => (m.event as OrderPlaced).n)).toEqual([4, 5]);
  });
});
