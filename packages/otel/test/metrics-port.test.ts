import { METRIC_NAMES, type Metrics } from '@eventsource/core';
import { diag, DiagLogLevel, metrics as metricsApi } from '@opentelemetry/api';
import { DataPointType, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { DURATION_BUCKETS_SECONDS, METRIC_LABELS, otel, otelMetrics } from '../src/index.js';
import { labelKeys, telemetry, total } from './support/telemetry.js';

const LABELS = {
  'messaging.system': 'redis',
  'messaging.destination.name': 'orders:stream',
  'messaging.consumer.group.name': 'billing',
  'eventsource.event.type': 'OrderPlaced',
};

let t = telemetry();
afterEach(async () => {
  await t.close();
  t = telemetry();
});

describe('otelMetrics: core metrics port on an OpenTelemetry Meter', () => {
  it('is enabled, so buses record through it', () => {
    expect(otelMetrics().enabled).toBe(true);
  });

  it('reads the global meter provider when a bus creates its instruments, not when otelMetrics() is called', async () => {
    const early = otelMetrics();
    metricsApi.setGlobalMeterProvider(t.meterProvider);
    try {
      early.counter(METRIC_NAMES.retries, { description: 'Retries scheduled.', unit: '{message}' }).add(2, LABELS);
    } finally {
      metricsApi.disable();
    }
    expect(total(await t.collect(), METRIC_NAMES.retries)).toBe(2);
  });

  it('counters carry the name, unit and description given, and sum per series', async () => {
    const metrics: Metrics = t.metrics;
    const sent = metrics.counter(METRIC_NAMES.sent, { description: 'Events handed to the broker.', unit: '{message}' });
    sent.add(3, LABELS);
    sent.add(2, LABELS);
    sent.add(1, { ...LABELS, 'eventsource.event.type': 'OrderShipped' });
    const data = await t.collect();
    const metric = data.find((m) => m.descriptor.name === 'messaging.client.sent.messages')!;
    expect(metric.descriptor).toMatchObject({ unit: '{message}', description: 'Events handed to the broker.' });
    expect(metric.dataPointType).toBe(DataPointType.SUM);
    expect(metric.dataPoints.map((p) => [p.attributes['eventsource.event.type'], p.value])).toEqual([
      ['OrderPlaced', 5],
      ['OrderShipped', 1],
    ]);
    expect(total(data, METRIC_NAMES.sent)).toBe(6);
  });

  it('drops unbounded labels (ids) and undefined values, and warns once per dropped key', async () => {
    const warnings: string[] = [];
    diag.setLogger(
      { error: () => {}, warn: (m) => warnings.push(m), info: () => {}, debug: () => {}, verbose: () => {} },
      DiagLogLevel.WARN,
    );
    try {
      const errors = t.metrics.counter(METRIC_NAMES.handlerErrors, { description: 'Handler failures.', unit: '{error}' });
      for (let i = 0; i < 3; i++) {
        errors.add(1, { ...LABELS, 'error.type': 'TypeError', 'eventsource.event.id': `id-${i}`, 'eventsource.aggregate.id': `a-${i}`, 'eventsource.outcome': undefined });
      }
    } finally {
      diag.disable();
    }
    const data = await t.collect();
    const metric = data.find((m) => m.descriptor.name === METRIC_NAMES.handlerErrors)!;
    expect(metric.dataPoints).toHaveLength(1);
    expect(metric.dataPoints[0]!.value).toBe(3);
    expect(metric.dataPoints[0]!.attributes).toEqual({ ...LABELS, 'error.type': 'TypeError' });
    expect(warnings.filter((w) => w.includes('eventsource.event.id'))).toHaveLength(1);
    expect(warnings.filter((w) => w.includes('eventsource.aggregate.id'))).toHaveLength(1);
  });

  it('a label set of your own replaces the default one', async () => {
    const custom = otel({ meterProvider: t.meterProvider, labels: ['tenant'] }).metrics;
    custom.counter(METRIC_NAMES.consumed, { description: 'x', unit: '{message}' }).add(1, { tenant: 'acme', ...LABELS });
    const [point] = (await t.collect()).find((m) => m.descriptor.name === METRIC_NAMES.consumed)!.dataPoints;
    expect(point!.attributes).toEqual({ tenant: 'acme' });
  });

  it('a duration histogram in seconds gets the messaging conventions’ buckets', async () => {
    const duration = t.metrics.histogram(METRIC_NAMES.processDuration, { description: 'Processing time.', unit: 's' });
    duration.record(0.003, LABELS);
    duration.record(0.2, LABELS);
    duration.record(12, LABELS);
    const data = await t.collect();
    const metric = data.find((m) => m.descriptor.name === METRIC_NAMES.processDuration) as HistogramMetricData;
    const value = metric.dataPoints[0]!.value;
    expect(value.buckets.boundaries).toEqual(DURATION_BUCKETS_SECONDS);
    expect(value.count).toBe(3);
    expect(value.sum).toBeCloseTo(12.203);
    // 0.003 in the first bucket, 0.2 in (0.1, 0.25], 12 past the last boundary.
    expect(value.buckets.counts[0]).toBe(1);
    expect(value.buckets.counts[DURATION_BUCKETS_SECONDS.indexOf(0.25)]).toBe(1);
    expect(value.buckets.counts.at(-1)).toBe(1);
  });

  it('gauges report what their callback observes at collection, and stop when told', async () => {
    let running = 4;
    const stop = t.metrics.gauge(METRIC_NAMES.inFlight, { description: 'Handlers running now.', unit: '{handler}' }, (observe) => {
      observe(running, { ...LABELS, 'messaging.message.id': 'dropped' });
    });
    let data = await t.collect();
    let points = data.find((m) => m.descriptor.name === METRIC_NAMES.inFlight)!.dataPoints;
    expect(points.map((p) => [p.value, p.attributes])).toEqual([[4, LABELS]]);

    running = 1;
    data = await t.collect();
    points = data.find((m) => m.descriptor.name === METRIC_NAMES.inFlight)!.dataPoints;
    expect(points.map((p) => p.value)).toEqual([1]);

    stop();
    running = 9;
    data = await t.collect();
    points = data.find((m) => m.descriptor.name === METRIC_NAMES.inFlight)?.dataPoints ?? [];
    expect(points.map((p) => p.value)).not.toContain(9);
  });

  it('every instrument name core defines can be created, and no label outside the bounded set survives', async () => {
    for (const name of Object.values(METRIC_NAMES)) {
      if (name === METRIC_NAMES.inFlight || name === METRIC_NAMES.consumerLag) {
        t.metrics.gauge(name, { description: name, unit: '{message}' }, (observe) => observe(1, { ...LABELS, 'eventsource.aggregate.id': 'x' }));
      } else if (name === METRIC_NAMES.processDuration) {
        t.metrics.histogram(name, { description: name, unit: 's' }).record(0.01, LABELS);
      } else {
        t.metrics.counter(name, { description: name, unit: '{message}' }).add(1, { ...LABELS, 'messaging.message.id': 'x' });
      }
    }
    const data = await t.collect();
    expect(data.map((m) => m.descriptor.name).sort()).toEqual(Object.values(METRIC_NAMES).sort());
    for (const key of labelKeys(data)) expect(METRIC_LABELS).toContain(key);
  });
});
