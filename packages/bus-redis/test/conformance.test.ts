import { TcpProxy, eventually, testEventBus, type ConformanceHarness, type TestBus } from '@eventsource/conformance';
import { silentLogger } from '@eventsource/core';
import { describe } from 'vitest';
import { Redis } from 'ioredis';
import { RedisEventBus } from '../src/index.js';
import { broker, deleteKeys, uniquePrefix } from './support/redis.js';

const harness: ConformanceHarness = {
  name: 'redis',
  transport: 'redis',
  timeoutMs: 10_000,
  capabilities: {
    retries: true,
    retryDoesNotBlock: true,
    competingConsumers: true,
    fanOutAcrossGroups: true,
    redeliveryAfterCrash: true,
    dlqAdmin: true,
    rawInjection: true,
    brokerLifecycle: true,
    traceContext: true,
    shutdownDeadline: true,
    redeliveryLimit: true,
    handlerTimeout: true,
    outage: true,
  },
  async createContext() {
    const url = broker!.url;
    const prefix = uniquePrefix('conf');
    const buses: RedisEventBus[] = [];
    // The buses reach Redis through a proxy the outage scenario cuts; the raw client does not.
    const proxy = await TcpProxy.start(url, { defaultPort: 6379 });
    const raw = new Redis(url, { lazyConnect: true });
    await raw.connect();
    return {
      async createBus(options = {}): Promise<TestBus> {
        const bus = new RedisEventBus({
          redisUrl: proxy.url,
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
          // Quick to notice a restored connection in the outage scenario.
          reconnectBaseDelayMs: 20,
          reconnectMaxDelayMs: 200,
          ...(options.maxBackgroundTasks === undefined ? {} : { maxBackgroundTasks: options.maxBackgroundTasks }),
          ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
          ...(options.maxDeliveries === undefined ? {} : { maxDeliveries: options.maxDeliveries }),
          ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
          ...(options.handlerTimeoutMs === undefined ? {} : { handlerTimeoutMs: options.handlerTimeoutMs }),
          ...(options.tracer === undefined ? {} : { tracer: options.tracer, enableTracing: true }),
          logger: silentLogger,
        });
        if (options.connect !== false) await bus.connect();
        buses.push(bus);
        return {
          bus,
          broker: bus,
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
      cutConnection: () => proxy.down(),
      restoreConnection: () => proxy.up(),
      async cleanup() {
        await proxy.up();
        await Promise.all(buses.map((bus) => bus.shutdown(5000)));
        await proxy.close();
        await raw.quit();
        await deleteKeys(prefix, url);
      },
    };
  },
};

describe.skipIf(!broker)('RedisEventBus conformance', () => {
  testEventBus(harness);
});
