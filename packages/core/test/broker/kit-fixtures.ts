import { afterEach } from 'vitest';
import { RecordingLogger, eventually } from '@eventsource/testkit';
import { EventRegistry, defineEvent, fields, type BrokerBusOptions } from '../../src/index.js';
import type { Counter, Histogram, InstrumentOptions, MetricAttributes, MetricName, Metrics, Observe } from '../../src/tracing/metrics.js';
import { FakeBus, type FakeAdapterConfig } from './fake-adapter.js';

export const registry = new EventRegistry();
export const OrderPlaced = defineEvent('BrokerKitTest.OrderPlaced', {
  aggregateType: 'Order',
  payload: fields<{ n: number }>(),
  registry,
});

export const placed = (n: number, aggregateId = `order-${n}`) => new OrderPlaced({ aggregateId, n });

const buses: FakeBus[] = [];

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.shutdown(50)));
});

export interface TestBus {
  readonly bus: FakeBus;
  readonly logger: RecordingLogger;
}

/** A FakeBus with fast retries and backoff, shut down after the test. */
export function newBus(options: BrokerBusOptions = {}, config: FakeAdapterConfig = {}, queueCapacity = 100): TestBus {
  const logger = new RecordingLogger();
  const bus = new FakeBus(
    {
      registry,
      logger,
      consumerGroup: 'billing',
      consumerName: 'billing-1',
      retryBaseDelayMs: 10,
      retryJitter: 0,
      reconnectBaseDelayMs: 1,
      reconnectMaxDelayMs: 4,
      ...options,
    },
    config,
    queueCapacity,
  );
  buses.push(bus);
  return { bus, logger };
}

/** Connects and starts consuming in the background; resolves once the sink is there. */
export async function consuming(bus: FakeBus): Promise<{ readonly done: Promise<void> }> {
  await bus.connect();
  const { done } = bus.startConsumingInBackground();
  await bus.fake.whenConsuming();
  return { done };
}

export interface MetricCall {
  readonly name: MetricName;
  readonly value: number;
  readonly attributes: MetricAttributes | undefined;
}

/** A metrics port that keeps every recorded value, so tests can check what a bus reported. */
export class RecordingMetrics implements Metrics {
  readonly enabled = true;
  readonly instruments: Array<{ readonly kind: 'counter' | 'histogram' | 'gauge'; readonly name: MetricName; readonly options: InstrumentOptions }> = [];
  readonly calls: MetricCall[] = [];
  readonly gauges = new Map<MetricName, (observe: Observe) => void>();
  readonly stopped: MetricName[] = [];

  counter(name: MetricName, options: InstrumentOptions): Counter {
    this.instruments.push({ kind: 'counter', name, options });
    return { add: (value, attributes) => this.calls.push({ name, value, attributes }) };
  }

  histogram(name: MetricName, options: InstrumentOptions): Histogram {
    this.instruments.push({ kind: 'histogram', name, options });
    return { record: (value, attributes) => this.calls.push({ name, value, attributes }) };
  }

  gauge(name: MetricName, options: InstrumentOptions, callback: (observe: Observe) => void): () => void {
    this.instruments.push({ kind: 'gauge', name, options });
    this.gauges.set(name, callback);
    return () => {
      this.gauges.delete(name);
      this.stopped.push(name);
    };
  }

  /** Reads a gauge as a collector would. */
  read(name: MetricName): MetricCall[] {
    const observed: MetricCall[] = [];
    this.gauges.get(name)?.((value, attributes) => observed.push({ name, value, attributes }));
    return observed;
  }

  named(name: MetricName): MetricCall[] {
    return this.calls.filter((call) => call.name === name);
  }
}

/** `eventually` bounded well inside the test timeout, so a failure shows its diff, not a timeout. */
export function soon<T>(check: () => T | Promise<T>): Promise<Exclude<T, false>> {
  return eventually(check, 2000);
}
