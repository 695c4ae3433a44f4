import { testEventBus, type ConformanceHarness } from '@eventsource/conformance';
import { describe } from 'vitest';
import type { KafkaEventBus } from '../src/index.js';
import { conformanceBus } from './support/conformance-bus.js';
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
    // Clients reach the advertised broker address after bootstrap, around any proxy in front of the
    // shared broker: conformance-outage.test.ts runs the outage scenarios against a private broker
    // that advertises its proxy, and the ledger's Kafka column combines both harnesses.
    outage: false,
  },
  async createContext() {
    const prefix = uniquePrefix('conf');
    const buses: KafkaEventBus[] = [];
    const raw = await rawProducer();
    return {
      createBus: (options = {}) => conformanceBus(options, { bootstrapServers: KAFKA_BROKERS, topicPrefix: prefix }, buses),
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
