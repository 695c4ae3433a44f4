/**
 * The consuming process of the shared cross-process trace scenario (testCrossProcessTrace): a
 * KafkaEventBus whose tracer is plain `otelTracer()` on the SDK runTraceConsumer registers.
 * argv: bootstrapServers topicPrefix consumerGroup
 */
import { runTraceConsumer } from '@eventsource/conformance/cross-process-trace-consumer';
import { silentLogger } from '@eventsource/core';
import { otelTracer } from '@eventsource/otel';
import { KafkaEventBus } from '../../src/index.js';

const [servers, prefix, group] = process.argv.slice(2) as [string, string, string];

await runTraceConsumer(
  () =>
    new KafkaEventBus({
      bootstrapServers: servers,
      topicPrefix: prefix,
      consumerGroup: group,
      logger: silentLogger,
      partitions: 3,
      heartbeatIntervalMs: 500,
      sessionTimeoutMs: 6000,
      lingerMs: 1,
      // The scenario's retry goes through the group's retry topic: keep it short.
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 50,
      retryJitter: 0,
      tracer: otelTracer(),
    }),
  // Ready once the group gave it partitions: what is published from now on reaches it.
  { ready: (bus) => bus.health().consuming && bus.getStats().assignedPartitions > 0 },
);
