import { TcpProxy, brokerBusOptions, brokerTestBus, testEventBus, type ConformanceHarness, type TestBus } from '@eventsource/conformance';
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
          ...brokerBusOptions(options),
          redisUrl: proxy.url,
          streamPrefix: prefix,
          retryPollMs: 20,
          blockMs: 100,
          // Short, so a crashed member's entry is taken over within the scenario's budget.
          reclaimIdleMs: 1000,
          reconnectMaxDelayMs: 200,
        });
        if (options.connect !== false) await bus.connect();
        buses.push(bus);
        // kill(): a zero deadline, so nothing still running is settled, queued entries stay
        // pending and the sockets close: to Redis this looks like a consumer that died.
        return brokerTestBus(bus);
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
