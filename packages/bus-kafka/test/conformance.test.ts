import { eventually, testEventBus, type ConformanceHarness, type TestBus } from '@eventsource/conformance';
import { silentLogger } from '@eventsource/core';
import { describe } from 'vitest';
import { KafkaEventBus } from '../src/index.js';
import { KAFKA_BROKERS, broker, deleteTopics, rawProducer, uniquePrefix } from './support/kafka.js';

const harness: ConformanceHarness = {
  name: 'kafka',
  transport: 'kafka',
  timeoutMs: 20_000,
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
    handlerTimeout: true,
    // Kafka keeps no delivery count, so there is no redelivery limit to test (see the README).
    redeliveryLimit: false,
    // Clients reach the advertised broker address after bootstrap, around any proxy: the broker
    // restart test (restart.test.ts) covers outages instead.
    outage: false,
  },
  async createContext() {
    const prefix = uniquePrefix('conf');
    const buses: KafkaEventBus[] = [];
    const raw = await rawProducer();
    return {
      async createBus(options = {}): Promise<TestBus> {
        const bus = new KafkaEventBus({
          bootstrapServers: KAFKA_BROKERS,
          topicPrefix: prefix,
          consumerGroup: options.group ?? 'conformance',
          ...(options.consumerName === undefined ? {} : { consumerName: options.consumerName }),
          maxRetries: options.maxRetries ?? 3,
          retryBaseDelayMs: options.retryBaseDelayMs ?? 50,
          retryMaxDelayMs: Math.max(1000, (options.retryBaseDelayMs ?? 50) * 8),
          partitions: 3,
          lingerMs: 1,
          heartbeatIntervalMs: 300,
          sessionTimeoutMs: 6000,
          reconnectBaseDelayMs: 20,
          reconnectMaxDelayMs: 500,
          ...(options.maxBackgroundTasks === undefined ? {} : { maxBackgroundTasks: options.maxBackgroundTasks }),
          ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
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
            // Consuming means the group gave this member its partitions.
            await eventually(() => bus.health().consuming && bus.health().healthy && bus.getStats().assignedPartitions > 0, { timeoutMs: 15_000 });
          },
          // A zero deadline: nothing running is settled or committed and the consumer leaves the
          // group: to Kafka this looks like a consumer that died.
          async kill() {
            await bus.shutdown(0);
          },
        };
      },
      async injectRaw(message) {
        await raw.send(prefix, null, typeof message.body === 'string' ? message.body : Buffer.from(message.body), message.headers);
      },
      async cleanup() {
        await Promise.all(buses.map((bus) => bus.shutdown(5000)));
        await raw.close();
        await deleteTopics(prefix);
      },
    };
  },
};

describe.skipIf(!broker)('KafkaEventBus conformance', () => {
  testEventBus(harness);
});
