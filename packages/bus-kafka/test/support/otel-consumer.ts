/**
 * The consuming process of the cross-process trace test: its own OpenTelemetry SDK, registered
 * globally as an application would, and a KafkaEventBus whose tracer is plain `otelTracer()`.
 * Reports each handling and, when told to stop, every span it exported.
 * argv: bootstrapServers topicPrefix consumerGroup
 */
import { silentLogger } from '@eventsource/core';
import { otelTracer } from '@eventsource/otel';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { KafkaEventBus } from '../../src/index.js';
import { OrderPlaced, registry } from './events.js';
import { registerGlobals, toRecord } from './telemetry.js';

const [servers, prefix, group] = process.argv.slice(2) as [string, string, string];

registerGlobals();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);

const bus = new KafkaEventBus({
  bootstrapServers: servers,
  topicPrefix: prefix,
  consumerGroup: group,
  registry,
  logger: silentLogger,
  partitions: 3,
  heartbeatIntervalMs: 500,
  sessionTimeoutMs: 6000,
  tracer: otelTracer(),
});
bus.subscribe(
  OrderPlaced,
  async (event) => {
    // Application code inside a handler: its span must land under the handler's span.
    await trace.getTracer('app').startActiveSpan('charge card', async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      span.end();
    });
    process.send?.({ type: 'handled', n: event.n });
  },
  { name: 'billing' },
);
await bus.connect();
bus.startConsumingInBackground();
while (!(bus.health().consuming && bus.getStats().assignedPartitions > 0)) await new Promise((resolve) => setTimeout(resolve, 10));
process.send?.({ type: 'ready' });

process.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return;
  void (async () => {
    await bus.shutdown(10_000);
    await provider.forceFlush();
    process.send?.({ type: 'spans', spans: exporter.getFinishedSpans().map(toRecord) });
    process.disconnect?.();
  })();
});
