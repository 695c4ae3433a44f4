import { testEventBus, eventually, type ConformanceHarness, type TestBus } from '@eventsource/conformance';
import { silentLogger } from '@eventsource/core';
import { describe } from 'vitest';
import { Redis } from 'ioredis';
import { RedisEventBus } from '../src/index.js';
import { broker, deleteKeys, uniquePrefix } from './support/redis.js';

const harness: ConformanceHarness = {
  name: 'redis',
  timeoutMs: 10_000,
  capabilities: {
    retries: true,
    retryDoesNotBlock: true,
    competingConsumers: true,
    fanOutAcrossGroups: true,
    redeliveryAfterCrash: true,
    dlqAdmin: true,
    rawInjection: true,
  },
  async createContext() {
    const url = broker!.url;
    const prefix = uniquePrefix('conf');
    const buses: RedisEventBus[] = [];
    const raw = new Redis(url, { lazyConnect: true });
    await raw.connect();
    return {
      async createBus(options = {}): Promise<TestBus> {
        const bus = new RedisEventBus({
          redisUrl: url,
          streamPrefix: prefix,
          consumerGroup: options.group ?? 'conformance',
          ...(options.consumerName === undefined ? {} : { consumerName: options.consumerName }),
          maxRetries: options.maxRetries ?? 3,
          retryBaseDelayMs: options.retryBaseDelayMs ?? 50,
          retryMaxDelayMs: Math.max(1000, (options.retryBaseDelayMs ?? 50) * 8),
          retryPollMs: 20,
          blockMs: 100,
          // Short, so a crashed member's entry is taken over within the scenario's budget.
          reclaimIdleMs: 1000,
          ...(options.maxBackgroundTasks === undefined ? {} : { maxBackgroundTasks: options.maxBackgroundTasks }),
          ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
          logger: silentLogger,
        });
        await bus.connect();
        buses.push(bus);
        return {
          bus,
          dlq: bus,
          async start() {
            bus.startConsumingInBackground();
            await eventually(() => bus.health().consuming && bus.health().healthy, { timeoutMs: 5000 });
          },
          // A zero deadline: nothing still running is settled, queued entries stay pending, the
          // sockets close: to Redis this looks like a consumer that died.
          async kill() {
            await bus.shutdown(0);
          },
        };
      },
      async injectRaw(message) {
        const fields: Array<string | Buffer> = [];
        for (const [name, value] of Object.entries(message.headers)) fields.push(name, value);
        fields.push('body', typeof message.body === 'string' ? message.body : Buffer.from(message.body));
        await raw.xadd(`${prefix}:stream`, '*', ...fields);
      },
      async cleanup() {
        await Promise.all(buses.map((bus) => bus.shutdown(5000)));
        await raw.quit();
        await deleteKeys(prefix, url);
      },
    };
  },
};

describe.skipIf(!broker)('RedisEventBus conformance', () => {
  testEventBus(harness);
});
