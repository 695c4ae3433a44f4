import { silentLogger, type BrokerBusOptions, type BrokerEventBus } from '@eventsource/core';
import { eventually } from '@eventsource/testkit';
import type { TestBus, TestBusOptions } from './types.js';

/**
 * The generic bus options a broker harness passes for a scenario's TestBusOptions: the same
 * mapping on every transport, so a harness spreads this and adds only its broker's settings.
 */
export function brokerBusOptions(options: TestBusOptions): BrokerBusOptions {
  const retryBaseDelayMs = options.retryBaseDelayMs ?? 50;
  return {
    consumerGroup: options.group ?? 'conformance',
    maxRetries: options.maxRetries ?? 3,
    retryBaseDelayMs,
    retryMaxDelayMs: Math.max(1000, retryBaseDelayMs * 8),
    // Quick to notice a restored connection in the outage scenario.
    reconnectBaseDelayMs: 20,
    logger: silentLogger,
    ...(options.consumerName === undefined ? {} : { consumerName: options.consumerName }),
    ...(options.maxBackgroundTasks === undefined ? {} : { maxBackgroundTasks: options.maxBackgroundTasks }),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(options.maxDeliveries === undefined ? {} : { maxDeliveries: options.maxDeliveries }),
    ...(options.maxInFlight === undefined ? {} : { maxInFlight: options.maxInFlight }),
    ...(options.handlerTimeoutMs === undefined ? {} : { handlerTimeoutMs: options.handlerTimeoutMs }),
    ...(options.publishTimeoutMs === undefined ? {} : { publishTimeoutMs: options.publishTimeoutMs }),
    ...(options.tracer === undefined ? {} : { tracer: options.tracer, enableTracing: true }),
  };
}

/**
 * The TestBus of a broker bus: it is its own broker and DLQ; start() waits until `ready` holds
 * (health consuming and healthy by default); kill() is a zero-deadline shutdown, which leaves
 * everything unsettled and closes the connections, as a crash would.
 */
export function brokerTestBus(
  bus: BrokerEventBus,
  options: { readonly ready?: () => boolean; readonly readyTimeoutMs?: number } = {},
): TestBus {
  const ready = options.ready ?? (() => bus.health().consuming && bus.health().healthy);
  return {
    bus,
    broker: bus,
    dlq: bus,
    async start() {
      bus.startConsumingInBackground();
      await eventually(ready, { timeoutMs: options.readyTimeoutMs ?? 5000 });
    },
    async kill() {
      await bus.shutdown(0);
    },
  };
}
