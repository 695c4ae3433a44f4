import { TcpProxy, testEventBus, type ConformanceHarness } from '@eventsource/conformance';
import { freeTcpPort } from '@eventsource/test-brokers';
import { afterAll, beforeAll, describe } from 'vitest';
import type { KafkaEventBus } from '../src/index.js';
import { conformanceBus } from './support/conformance-bus.js';
import { deleteTopics, uniquePrefix } from './support/kafka.js';
import { PrivateKafka, kafkaJars } from './support/private-kafka.js';

/**
 * The outage promises for Kafka. A proxy in front of the shared broker cannot cut a Kafka client
 * off: after bootstrap, clients connect to the address the broker advertises. So this file starts
 * a private broker whose advertised address is the proxy's: every connection, bootstrap and after,
 * goes through the proxy, and cutting it is an outage the clients see.
 *
 * Only the capabilities the outage scenarios need are declared, so the file runs those plus the
 * unconditional scenarios; conformance.test.ts runs everything else against the shared broker.
 * The ledger's Kafka column combines both harnesses: a scenario that runs in both passes only when
 * it passes in both. Needs Java and tooling/kafka's jars: a loud skip without them, a failure under
 * CI=true.
 */
const jars = kafkaJars('the Kafka outage conformance harness');

let proxy: TcpProxy;
let server: PrivateKafka;

const harness: ConformanceHarness = {
  name: 'kafka (outage)',
  transport: 'kafka',
  timeoutMs: 20_000,
  capabilities: {
    retries: false,
    retryDoesNotBlock: false,
    competingConsumers: false,
    fanOutAcrossGroups: false,
    redeliveryAfterCrash: false,
    dlqAdmin: false,
    rawInjection: false,
    brokerLifecycle: true,
    outage: true,
  },
  async createContext() {
    const prefix = uniquePrefix('conf-outage');
    const buses: KafkaEventBus[] = [];
    return {
      createBus: (options = {}) => conformanceBus(options, { bootstrapServers: proxy.address, topicPrefix: prefix }, buses),
      cutConnection: () => proxy.down(),
      restoreConnection: () => proxy.up(),
      async cleanup() {
        await proxy.up();
        await Promise.all(buses.map((bus) => bus.shutdown(5000)));
        await deleteTopics(prefix, proxy.address);
      },
    };
  },
};

describe.skipIf(!jars)('KafkaEventBus conformance through a proxy the broker advertises', () => {
  beforeAll(async () => {
    // The proxy first: the broker's port must be known to forward to, the proxy's to advertise.
    const port = await freeTcpPort();
    proxy = await TcpProxy.start({ host: '127.0.0.1', port });
    server = await PrivateKafka.start(jars!, { port, advertisedAddress: proxy.address });
  }, 180_000);
  afterAll(async () => {
    await proxy?.close();
    await server?.destroy();
  }, 60_000);

  testEventBus(harness);
});
