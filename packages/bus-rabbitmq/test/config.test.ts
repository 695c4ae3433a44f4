import { ConfigError } from '@eventsource/core';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import type { ConsumerSession } from '../src/consumer.js';
import { stringHeaders } from '../src/consumer.js';
import { ackOn } from '../src/settle.js';
import { dlqArguments, retryBucketMs, retryQueueArguments, routingKeyOf } from '../src/topology.js';

describe('options', () => {
  it("keeps the seed guide's names and defaults", () => {
    const config = resolveConfig({});
    expect(config).toMatchObject({
      rabbitmqUrl: 'amqp://guest:guest@localhost:5672',
      exchangeType: 'topic',
      prefetchCount: 10,
      queueType: 'quorum',
      heartbeatSeconds: 60,
      names: { exchange: 'events', queue: 'events.default', dlq: 'events.default.dlq', retryPrefix: 'events.default.retry.' },
    });
    expect(config.broker).toMatchObject({ maxRetries: 3, enableDlq: true, maxInFlight: 10, consumerGroup: 'default' });
    expect(resolveConfig({ prefetchCount: 50 }).broker.maxInFlight).toBe(50);
    expect(resolveConfig({ prefetchCount: 50, maxInFlight: 5 }).broker.maxInFlight).toBe(5);
  });

  it.each([
    [{ rabbitmqUrl: 'redis://localhost' }, 'rabbitmqUrl', /amqp:\/\/ or amqps:\/\//],
    [{ rabbitmqUrl: 'not a url' }, 'rabbitmqUrl', /is not a URL/],
    [{ exchangeType: 'headers' as 'topic' }, 'exchangeType', /"topic", "direct", "fanout"/],
    [{ queueType: 'stream' as 'quorum' }, 'queueType', /"classic", "quorum"/],
    [{ prefetchCount: 0 }, 'prefetchCount', /from 1 to 65535/],
    [{ heartbeatMs: 500 }, 'heartbeatMs', /whole seconds/],
    [{ exchangeName: 'amq.topic' }, 'exchangeName', /reserved/],
    [{ tls: { ca: 'x' } }, 'tls', /amqps:\/\//],
    [{ dlqMaxLength: -1 }, 'dlqMaxLength', />= 0/],
    [{ bindingKeys: 'Order.*' as unknown as string[] }, 'bindingKeys', /array of strings/],
  ])('refuses %j, naming %s', (options, option, message) => {
    let error: unknown;
    try {
      resolveConfig(options);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe(option);
    expect((error as Error).message).toMatch(message);
  });
});

describe('topology rules', () => {
  it('rounds a retry delay up to a bucket at most 12.5% longer, with few distinct buckets', () => {
    for (const delay of [1, 7, 9, 50, 999, 1000, 1100, 60_000, 59_999]) {
      const bucket = retryBucketMs(delay);
      expect(bucket).toBeGreaterThanOrEqual(delay);
      expect(bucket).toBeLessThanOrEqual(Math.ceil(delay * 1.125));
    }
    const buckets = new Set(Array.from({ length: 60_000 }, (_, i) => retryBucketMs(i + 1)));
    expect(buckets.size).toBeLessThan(140);
  });

  it('delay queues dead-letter into the group queue only; quorum ones at least once; the DLQ is classic', () => {
    const quorum = resolveConfig({ consumerGroup: 'billing' });
    expect(retryQueueArguments(quorum, 1024)).toEqual({
      'x-queue-type': 'quorum',
      'x-message-ttl': 1024,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': 'events.billing',
      'x-expires': 1024 + 600_000,
      'x-dead-letter-strategy': 'at-least-once',
      'x-overflow': 'reject-publish',
    });
    expect(retryQueueArguments(resolveConfig({ queueType: 'classic' }), 64)).not.toHaveProperty('x-dead-letter-strategy');
    expect(dlqArguments(resolveConfig({ dlqMessageTtlMs: 1000, dlqMaxLength: 5 }))).toEqual({ 'x-queue-type': 'classic', 'x-message-ttl': 1000, 'x-max-length': 5 });
  });

  it('routing keys: topic and direct {aggregateType}.{eventType}, fanout empty, or the override', () => {
    const headers = { 'event-type': 'OrderCreated', 'aggregate-type': 'Order', 'aggregate-id': 'o-1' };
    expect(routingKeyOf(resolveConfig({}), headers)).toBe('Order.OrderCreated');
    expect(routingKeyOf(resolveConfig({ exchangeType: 'direct' }), headers)).toBe('Order.OrderCreated');
    expect(routingKeyOf(resolveConfig({ exchangeType: 'fanout' }), headers)).toBe('');
    expect(routingKeyOf(resolveConfig({ routingKey: (m) => `tenant-a.${m.eventType}` }), headers)).toBe('tenant-a.OrderCreated');
  });
});

describe('AMQP details', () => {
  it('acks the leading run of unsettled tags with one multiple ack, the rest one by one', () => {
    const calls: Array<[number, boolean]> = [];
    const session = {
      unsettled: new Set([1, 2, 3, 4, 5, 6]),
      channel: { ack: (message: { fields: { deliveryTag: number } }, multiple: boolean) => void calls.push([message.fields.deliveryTag, multiple]) },
    } as unknown as ConsumerSession;
    ackOn(session, new Set([1, 2, 3, 5]));
    expect(calls).toEqual([
      [3, true],
      [5, false],
    ]);
    expect([...session.unsettled]).toEqual([4, 6]);
  });

  it('AMQP headers become string headers; broker x- headers are dropped; __proto__ stays an own property', () => {
    const headers = stringHeaders({ 'event-type': 'A', n: 5, b: Buffer.from('bytes'), 'x-death': [{ count: 1 }], 'x-delivery-count': 2, ['__proto__']: 'p' });
    expect(headers).toEqual({ 'event-type': 'A', n: '5', b: 'bytes', ['__proto__']: 'p' });
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
  });
});
