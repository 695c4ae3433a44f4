import { brokerBusOptions, brokerTestBus, type TestBus, type TestBusOptions } from '@eventsource/conformance';
import { KafkaEventBus } from '../../src/index.js';

/**
 * The bus both Kafka conformance harnesses hand the suite (the shared broker, and the private one
 * behind a proxy): small groups that rebalance fast, so a scenario's members are ready in seconds.
 */
export async function conformanceBus(options: TestBusOptions, where: { readonly bootstrapServers: string; readonly topicPrefix: string }, buses: KafkaEventBus[]): Promise<TestBus> {
  const bus = new KafkaEventBus({
    ...brokerBusOptions(options),
    bootstrapServers: where.bootstrapServers,
    topicPrefix: where.topicPrefix,
    partitions: 3,
    lingerMs: 1,
    heartbeatIntervalMs: 300,
    sessionTimeoutMs: 6000,
    reconnectMaxDelayMs: 500,
  });
  if (options.connect !== false) await bus.connect();
  buses.push(bus);
  // Consuming means the group gave this member its partitions. kill(): a zero deadline, so
  // nothing running is settled or committed and the consumer leaves: to Kafka, a dead member.
  return brokerTestBus(bus, { ready: () => bus.health().consuming && bus.health().healthy && bus.getStats().assignedPartitions > 0, readyTimeoutMs: 15_000 });
}
