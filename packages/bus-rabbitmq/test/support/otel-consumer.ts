/**
 * The consuming process of the shared cross-process trace scenario (testCrossProcessTrace): a
 * RabbitMQEventBus whose tracer is plain `otelTracer()` on the SDK runTraceConsumer registers.
 * argv: amqpUrl exchangeName consumerGroup
 */
import { runTraceConsumer } from '@eventsource/conformance/cross-process-trace-consumer';
import { silentLogger } from '@eventsource/core';
import { otelTracer } from '@eventsource/otel';
import { RabbitMQEventBus } from '../../src/index.js';

const [url, exchangeName, group] = process.argv.slice(2) as [string, string, string];

await runTraceConsumer(
  () =>
    new RabbitMQEventBus({
      rabbitmqUrl: url,
      exchangeName,
      consumerGroup: group,
      logger: silentLogger,
      // The scenario's retry crosses the delay queue: keep it short.
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 50,
      retryJitter: 0,
      tracer: otelTracer(),
    }),
);
