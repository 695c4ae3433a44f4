/**
 * The consuming process of the cross-process trace test: its own OpenTelemetry SDK, registered
 * globally as an application would, and a RedisEventBus whose tracer is plain `otelTracer()`.
 * Reports each handling (with the baggage it saw) and, when told to stop, every span it exported.
 * argv: redisUrl streamPrefix consumerGroup
 */
import { silentLogger } from '@eventsource/core';
import { RedisEventBus } from '@eventsource/bus-redis';
import { propagation, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { otelTracer } from '../../src/index.js';
import { OrderPlaced, registry } from './events.js';
import { registerGlobals, toRecord } from './telemetry.js';

const [url, prefix, group] = process.argv.slice(2) as [string, string, string];

registerGlobals();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);

const bus = new RedisEventBus({
  redisUrl: url,
  streamPrefix: prefix,
  consumerGroup: group,
  registry,
  logger: silentLogger,
  blockMs: 200,
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
    await provider.forceFlush();
    process.send?.({ type: 'spans', spans: exporter.getFinishedSpans().map(toRecord) });
    process.disconnect?.();
  })();
});
