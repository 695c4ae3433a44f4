/**
 * The consuming side of the cross-process trace scenario, run in a forked child by a transport's
 * small consumer script:
 *
 *   const [url, name, group] = process.argv.slice(2);
 *   await runTraceConsumer(() => new MyEventBus({ url, name, consumerGroup: group, tracer: otelTracer() }));
 *
 * It registers its own OpenTelemetry SDK globally, as an application would, before the bus is
 * built, so the transport's plain `otelTracer()` picks it up. Imports no vitest: it runs under
 * plain `node --import tsx`.
 */
import type { BrokerEventBus } from '@eventsource/core';
import { propagation, trace } from '@opentelemetry/api';
import { APP_SPAN, DECLINED, RETRIED, TRACE_EVENT, TRACE_HANDLER, type FromConsumer, type ToConsumer } from './protocol.js';
import { memoryTracing, registerOtelGlobals } from './telemetry.js';

export interface TraceConsumerOptions<B extends BrokerEventBus> {
  /** When the bus can receive what the parent publishes next. Default: `health().consuming`. */
  readonly ready?: (bus: B) => boolean;
  /** Deadline of the final shutdown, ms. Default 10000. */
  readonly shutdownTimeoutMs?: number;
}

export async function runTraceConsumer<B extends BrokerEventBus>(createBus: () => B, options: TraceConsumerOptions<B> = {}): Promise<void> {
  if (!process.send) throw new Error('runTraceConsumer() must run in a process forked with an IPC channel (child_process.fork)');
  const send = (message: FromConsumer): void => void process.send!(message);
  registerOtelGlobals();
  const tracing = memoryTracing();
  trace.setGlobalTracerProvider(tracing.provider);

  const bus = createBus();
  let failedOnce = false;
  bus.subscribe(
    TRACE_EVENT,
    async (event) => {
      if (event.aggregateId === RETRIED && !failedOnce) {
        failedOnce = true;
        throw new TypeError(DECLINED);
      }
      // Application code inside a handler: its span must land under the handler's span.
      await trace.getTracer('app').startActiveSpan(APP_SPAN, async (span) => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        span.end();
      });
      send({ type: 'handled', aggregateId: event.aggregateId, tenant: propagation.getActiveBaggage()?.getEntry('tenant')?.value ?? null });
    },
    { name: TRACE_HANDLER },
  );
  await bus.connect();
  bus.startConsumingInBackground();
  const ready = options.ready ?? ((b: B) => b.health().consuming);
  while (!ready(bus)) await new Promise((resolve) => setTimeout(resolve, 10));

  process.on('message', (message: ToConsumer) => {
    if (message.type !== 'stop') return;
    void (async () => {
      await bus.shutdown(options.shutdownTimeoutMs ?? 10_000);
      await tracing.provider.forceFlush();
      send({ type: 'spans', spans: tracing.spans() });
      process.disconnect();
    })();
  });
  send({ type: 'ready' });
}
