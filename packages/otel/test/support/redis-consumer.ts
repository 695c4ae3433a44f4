/**
 * The consuming process of the shared cross-process trace scenario (testCrossProcessTrace): a
 * RedisEventBus whose tracer is plain `otelTracer()` on the SDK runTraceConsumer registers.
 * argv: redisUrl streamPrefix consumerGroup
 */
import { RedisEventBus } from '@eventsource/bus-redis';
import { runTraceConsumer } from '@eventsource/conformance/cross-process-trace-consumer';
import { silentLogger } from '@eventsource/core';
import { otelTracer } from '../../src/index.js';

const [url, prefix, group] = process.argv.slice(2) as [string, string, string];

await runTraceConsumer(
  () =>
    new RedisEventBus({
      redisUrl: url,
      streamPrefix: prefix,
      consumerGroup: group,
      logger: silentLogger,
      blockMs: 200,
      // The scenario's retry waits in the retry set: keep it short.
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 50,
      retryJitter: 0,
      retryPollMs: 20,
      tracer: otelTracer(),
    }),
);
