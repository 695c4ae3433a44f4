/**
 * The consuming process of the cross-process trace test: its own OpenTelemetry SDK, registered
 * globally as an application would, and a RabbitMQEventBus whose tracer is plain `otelTracer()`.
 * Order 2 fails its first attempt, so its retry copy crosses the group's delay queue. Reports
 * each handling (with the baggage it saw) and, when told to stop, every span it exported.
 * argv: amqpUrl exchangeName consumerGroup
 */
import { silentLogger } from '@eventsource/core';
import { otelTracer } from '@eventsource/otel';
import { propagation, trace } from '@opentelemetry/api';
import { RabbitMQEventBus } from '../../src/index.js';
import { memoryTracing, registerGlobals, toRecord } from './otel.js';
import { OrderPlaced, registry } from './rabbitmq.js';

const [url, exchangeName, group] = process.argv.slice(2) as [string, string, string];

registerGlobals();
const tracing = memoryTracing();
trace.setGlobalTracerProvider(tracing.provider);

const bus = new RabbitMQEventBus({
  rabbitmqUrl: url,
  exchangeName,
  consumerGroup: group,
  registry,
  logger: silentLogger,
  retryBaseDelayMs: 50,
  retryMaxDelayMs: 50,
  retryJitter: 0,
  tracer: otelTracer(),
});
let failedOnce = false;
bus.subscribe(
  OrderPlaced,
  async (event) => {
    if (event.n === 2 && !failedOnce) {
      failedOnce = true;
      throw new TypeError('card declined once');
    }
    // Application code inside a handler: its span must land under the handler's span.
    await trace.getTracer('app').startActiveSpan('charge card', async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      span.end();
    });
    process.send?.({ type: 'handled', n: event.n, tenant: propagation.getActiveBaggage()?.getEntry('tenant')?.value ?? null });
  },
  { name: 'billing' },
);
await bus.connect();
bus.startConsumingInBackground();
while (!bus.health().consuming) await new Promise((resolve) => setTimeout(resolve, 10));
process.send?.({ type: 'ready' });

process.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return;
  void (async () => {
    await bus.shutdown(10_000);
    await tracing.provider.forceFlush();
    process.send?.({ type: 'spans', spans: tracing.spans().map(toRecord) });
    process.disconnect?.();
  })();
});
