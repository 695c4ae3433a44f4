import { HEADER } from '@eventsource/core';
import { describe, expect, it } from 'vitest';
import { RabbitMQEventBus, retryBucketMs } from '../src/index.js';
import { OrderPlaced, UserRegistered, broker, busOptions, order, rabbitTestScope, rabbitmqctl, waitFor } from './support/rabbitmq.js';

describe.skipIf(!broker)('RabbitMQEventBus topology', () => {
  const scope = rabbitTestScope();

  it('topic: routing key {aggregateType}.{eventType}; bindingKeys narrow what a group receives', async () => {
    const exchange = scope.exchange('topic', ['all', 'orders']);
    const all = await scope.bus(exchange, { consumerGroup: 'all' });
    const orders = await scope.bus(exchange, { consumerGroup: 'orders', bindingKeys: ['Order.*'] });
    const seenAll: string[] = [];
    const seenOrders: string[] = [];
    all.subscribeToAllEvents((event) => void seenAll.push(event.eventType));
    orders.subscribeToAllEvents((event) => void seenOrders.push(event.eventType));
    all.startConsumingInBackground();
    orders.startConsumingInBackground();
    await waitFor('consuming', () => all.health().consuming && orders.health().consuming);
    await all.publish([order(1), new UserRegistered({ aggregateId: 'u1', aggregateVersion: 1, n: 1 }), order(2)]);
    await waitFor('every event', () => seenAll.length === 3 && seenOrders.length === 2);
    expect(seenOrders).toEqual(['RabbitTestOrderPlaced', 'RabbitTestOrderPlaced']);
    // A raw consumer bound with the documented key sees the same routing.
    const channel = await scope.raw().createChannel();
    const probe = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(probe.queue, exchange, 'User.RabbitTestUserRegistered');
    await all.publish([order(3), new UserRegistered({ aggregateId: 'u2', aggregateVersion: 1, n: 2 })]);
    await waitFor('the probe message', async () => (await channel.checkQueue(probe.queue)).messageCount === 1);
    const got = await channel.get(probe.queue, { noAck: true });
    expect(got && got.fields.routingKey).toBe('User.RabbitTestUserRegistered');
    expect(got && got.properties.headers?.[HEADER.eventType]).toBe('RabbitTestUserRegistered');
    await channel.close();
  });

  it('direct: the group queue is bound to the key of every registered type; fanout: every queue gets everything', async () => {
    for (const exchangeType of ['direct', 'fanout'] as const) {
      const exchange = scope.exchange(exchangeType);
      const bus = await scope.bus(exchange, { exchangeType });
      const seen: number[] = [];
      bus.subscribe(OrderPlaced, (event) => void seen.push(event.n));
      bus.subscribe(UserRegistered, (event) => void seen.push(100 + event.n));
      bus.startConsumingInBackground();
      await waitFor('consuming', () => bus.health().consuming);
      await bus.publish([order(1), new UserRegistered({ aggregateId: 'u1', aggregateVersion: 1, n: 1 })]);
      await waitFor(`${exchangeType}: both events`, () => seen.length === 2);
      expect(seen.sort()).toEqual([1, 101]);
    }
  });

  it('declaring is idempotent, and a group queue declared with another queue type is refused with an explanation', async () => {
    const exchange = scope.exchange('idem');
    const first = await scope.bus(exchange, { queueType: 'quorum' });
    first.subscribe(OrderPlaced, () => {});
    first.startConsumingInBackground();
    await waitFor('consuming', () => first.health().consuming);
    const again = await scope.bus(exchange, { queueType: 'quorum', consumerName: 'again' });
    again.subscribe(OrderPlaced, () => {});
    again.startConsumingInBackground();
    await waitFor('second consumer', async () => (await again.getQueueInfo()).consumers === 2);
    // connect() declares the named group's queue, so the mismatch is refused there, explained.
    await expect(scope.bus(exchange, { queueType: 'classic', consumerName: 'classic' })).rejects.toThrow(/already exists with different settings.*queueType/);
    // Without a named group, connect() declares only the exchange; consuming reports the refusal.
    const classic = scope.track(new RabbitMQEventBus({ ...busOptions(exchange, { queueType: 'classic', consumerName: 'classic2' }), consumerGroup: undefined }));
    await classic.connect();
    expect(classic.health().healthy).toBe(true);
  });
});

describe.skipIf(!broker)('RabbitMQEventBus dead letters and retries', () => {
  const scope = rabbitTestScope();

  it('a poison message gets 1 + maxRetries attempts, then lands in the DLQ with its metadata; listing never duplicates or reorders; replay reaches the middle', async () => {
    const exchange = scope.exchange('poison');
    const bus = await scope.bus(exchange, { maxRetries: 2 });
    const attempts = new Map<number, number>();
    const handled: number[] = [];
    bus.subscribe(OrderPlaced, (event) => {
      attempts.set(event.n, (attempts.get(event.n) ?? 0) + 1);
      if (event.note === 'poison') throw new TypeError(`cannot ship order ${event.n}`);
      handled.push(event.n);
    });
    bus.startConsumingInBackground();
    await waitFor('consuming', () => bus.health().consuming);
    // One at a time, so the DLQ order is known.
    for (let n = 1; n <= 5; n++) {
      await bus.publish([order(n, 'poison')]);
      await waitFor(`dead letter ${n}`, async () => (await bus.getDlqMessageCount()) === n);
    }
    expect([...attempts.values()]).toEqual([3, 3, 3, 3, 3]);

    const listed = await bus.getDlqMessages({ count: 10 });
    expect(listed.map((letter) => (letter.event as OrderPlaced).n)).toEqual([1, 2, 3, 4, 5]);
    expect(new Set(listed.map((letter) => letter.id)).size).toBe(5);
    const third = listed[2]!;
    expect(third.info).toMatchObject({
      reason: 'max_retries_exceeded',
      errorType: 'TypeError',
      attempts: 3,
      originalDestination: `${exchange}.g1`,
      consumerGroup: 'g1',
    });
    expect(third.info.errorMessage).toContain('cannot ship order 3');
    expect(Date.parse(third.info.firstFailureAt)).toBeLessThanOrEqual(Date.parse(third.info.lastFailureAt));
    expect(third.headers[HEADER.aggregateType]).toBe('Order');
    // Listing is not destructive and does not reorder: twice the same answer.
    expect((await bus.getDlqMessages({ count: 2 })).map((letter) => letter.id)).toEqual(listed.slice(0, 2).map((letter) => letter.id));
    expect((await bus.getDlqMessages()).map((letter) => letter.id)).toEqual(listed.map((letter) => letter.id));

    // Replay the middle one, now fixed: it is handled, and the rest keep their order.
    bus.subscribe(OrderPlaced, () => {});
    await bus.replayDlqMessage(third.id);
    await waitFor('the replayed message attempted again', () => attempts.get(3) === 6);
    await waitFor('dead-lettered again', async () => (await bus.getDlqMessageCount()) === 5);
    const after = await bus.getDlqMessages();
    expect(after.map((letter) => (letter.event as OrderPlaced).n)).toEqual([1, 2, 4, 5, 3]);
    expect(after[4]!.info.attempts).toBe(3);

    expect(await bus.purgeDlq()).toBe(5);
    expect(await bus.getDlqMessageCount()).toBe(0);
    expect(bus.getStats()).toMatchObject({ eventsDeadLettered: 6, eventsRetried: 12 });
  });

  it('a retry copy is seen by the failing group only, and one waiting 5 s does not delay the messages behind it', async () => {
    const exchange = scope.exchange('isolation', ['failing', 'other']);
    const failing = await scope.bus(exchange, { consumerGroup: 'failing', retryBaseDelayMs: 5000, retryMaxDelayMs: 5000, retryJitter: 0, maxRetries: 1, maxInFlight: 1, prefetchCount: 1 });
    const other = await scope.bus(exchange, { consumerGroup: 'other' });
    const failingSeen: number[] = [];
    const otherSeen: number[] = [];
    failing.subscribe(OrderPlaced, (event) => {
      failingSeen.push(event.n);
      if (event.n === 0 && failingSeen.filter((n) => n === 0).length === 1) throw new Error('first attempt fails');
    });
    other.subscribe(OrderPlaced, (event) => void otherSeen.push(event.n));
    failing.startConsumingInBackground();
    other.startConsumingInBackground();
    await waitFor('consuming', () => failing.health().consuming && other.health().consuming);
    await failing.publish(Array.from({ length: 20 }, (_, n) => order(n)));
    // All 19 behind the failed one are handled while its retry waits out its 5 s.
    await waitFor('the messages behind the failed one', () => failingSeen.length === 20);
    expect(failingSeen.filter((n) => n === 0)).toHaveLength(1);
    const channel = await scope.raw().createChannel();
    // The copy waits in the failing group's delay queue for 5 s rounded up to its bucket.
    const delayQueue = `${exchange}.failing.retry.${retryBucketMs(5000)}`;
    await waitFor('the copy in the delay queue', async () => (await channel.checkQueue(delayQueue)).messageCount === 1, 4000);
    await channel.close();
    await waitFor('the retry', () => failingSeen.length === 21, 20_000);
    expect(failingSeen.at(-1)).toBe(0);
    await waitFor('the other group', () => otherSeen.length === 20);
    expect(otherSeen.filter((n) => n === 0)).toHaveLength(1);
    expect(other.getStats().eventsConsumed).toBe(20);
  });
});

describe.skipIf(!broker)('RabbitMQEventBus recovery on the shared broker', () => {
  const scope = rabbitTestScope();

  it('the broker closing the consumer connection (rabbitmqctl close_connection): consumption resumes, nothing lost', async () => {
    const exchange = scope.exchange('closeconn');
    const bus = await scope.bus(exchange, { consumerName: `closeconn-${exchange.slice(-8)}` });
    const seen = new Set<number>();
    bus.subscribe(OrderPlaced, (event) => void seen.add(event.n));
    bus.startConsumingInBackground();
    await waitFor('consuming', () => bus.health().consuming);
    await bus.publish(Array.from({ length: 100 }, (_, n) => order(n)));
    await waitFor('first 100', () => seen.size === 100);

    const listing = await rabbitmqctl(['list_connections', '-q', '--no-table-headers', 'pid', 'client_properties']);
    const line = listing.split('\n').find((l) => l.includes(`eventsource consumer closeconn-${exchange.slice(-8)}`));
    expect(line).toBeDefined();
    const pid = line!.split(/\s+/)[0]!;
    await rabbitmqctl(['close_connection', pid, 'test: closed by the broker']);
    await waitFor('the outage noticed', () => bus.getStats().reconnections >= 1, 15_000);

    await bus.publish(Array.from({ length: 100 }, (_, n) => order(100 + n)));
    await waitFor('every event after the reconnect', () => seen.size === 200);
    await waitFor('healthy', () => bus.health().healthy);
    expect(bus.getStats().channelRecoveries).toBeGreaterThanOrEqual(1);
  });

  it('the group queue deleted under a consumer (the broker cancels it): the topology is declared again and consuming resumes', async () => {
    const exchange = scope.exchange('cancel');
    const bus = await scope.bus(exchange);
    const seen = new Set<number>();
    bus.subscribe(OrderPlaced, (event) => void seen.add(event.n));
    bus.startConsumingInBackground();
    await waitFor('consuming', () => bus.health().consuming);
    const channel = await scope.raw().createChannel();
    await channel.deleteQueue(`${exchange}.g1`);
    await channel.close();
    await waitFor('the queue declared again', async () => (await bus.getQueueInfo()).consumers === 1);
    await bus.publish([order(1), order(2)]);
    await waitFor('events after the cancel', () => seen.size === 2);
    expect(bus.getStats().channelRecoveries).toBeGreaterThanOrEqual(1);
  });
});
