import { afterEach, describe, expect, it, vi } from 'vitest';
import { RecordingLogger, deferred, nextTurn } from '@eventsource/testkit';
import { EventRegistry, InMemoryEventBus, METRIC_NAMES, defineEvent, fields, silentLogger, type InMemoryEventBusOptions, type MetricName, type Metrics } from '../../src/index.js';
import { RecordingMetrics } from '../broker/kit-fixtures.js';

const registry = new EventRegistry();
const Deposited = defineEvent('InMemoryObservabilityTest.Deposited', { aggregateType: 'Account', payload: fields<{ amount: number }>(), registry });
const Withdrawn = defineEvent('InMemoryObservabilityTest.Withdrawn', { aggregateType: 'Account', payload: fields<{ amount: number }>(), registry });
const Closed = defineEvent('InMemoryObservabilityTest.Closed', { aggregateType: 'Account', payload: fields<{ reason: string }>(), registry });

const deposit = (amount: number) => new Deposited({ aggregateId: 'acc-1', amount });
const withdraw = (amount: number) => new Withdrawn({ aggregateId: 'acc-1', amount });
const close = () => new Closed({ aggregateId: 'acc-1', reason: 'done' });

/** What the in-memory bus reports as its system and destination, in its spans too. */
const IN_MEMORY = { 'messaging.system': 'eventsource', 'messaging.destination.name': 'in-memory' };

const buses: InMemoryEventBus[] = [];
function newBus(options: InMemoryEventBusOptions = {}): InMemoryEventBus {
  const bus = new InMemoryEventBus({ logger: silentLogger, registry, ...options });
  buses.push(bus);
  return bus;
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.shutdown(100)));
  vi.useRealTimers();
});

describe('InMemoryEventBus: handler failure logs', () => {
  it('logs the first failure of a kind and summarises the repeats with their count, over a burst', async () => {
    const logger = new RecordingLogger();
    const bus = newBus({ logger });
    bus.subscribe(Deposited, function chargeCard() {
      throw new TypeError('card declined');
    });
    const burst = Array.from({ length: 1000 }, (_, i) => deposit(i));
    await bus.publish(burst);

    expect(bus.getStats()).toMatchObject({ eventsPublished: 1000, handlersInvoked: 1000, handlerErrors: 1000 });
    expect(logger.entries).toEqual([
      {
        level: 'error',
        message: 'Handler chargeCard failed on InMemoryObservabilityTest.Deposited',
        fields: { eventId: burst[0]!.eventId, handler: 'chargeCard', error: 'card declined' },
      },
    ]);

    await bus.shutdown();
    expect(logger.entries).toHaveLength(2);
    expect(logger.entries[1]).toEqual({
      level: 'error',
      message: 'Handler chargeCard failed on InMemoryObservabilityTest.Deposited (and 999 more like it in the last 5 s)',
      fields: { eventId: burst[999]!.eventId, handler: 'chargeCard', error: 'card declined', suppressed: 999 },
    });
  });

  it('writes the summary when the window closes, then logs the next failure at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const logger = new RecordingLogger();
    const bus = newBus({ logger });
    bus.subscribe(Deposited, function chargeCard() {
      throw new Error('card declined');
    });
    await bus.publish([deposit(1), deposit(2), deposit(3)]);
    expect(logger.entries).toHaveLength(1);

    vi.advanceTimersByTime(5000);
    expect(logger.entries.map((entry) => [entry.level, entry.message, entry.fields?.['suppressed']])).toEqual([
      ['error', 'Handler chargeCard failed on InMemoryObservabilityTest.Deposited', undefined],
      ['error', 'Handler chargeCard failed on InMemoryObservabilityTest.Deposited (and 2 more like it in the last 5 s)', 2],
    ]);

    await bus.publish([deposit(4)]);
    expect(logger.entries).toHaveLength(3);
    expect(logger.entries[2]!.message).toBe('Handler chargeCard failed on InMemoryObservabilityTest.Deposited');
    await bus.shutdown();
    expect(logger.entries).toHaveLength(3);
  });

  it('keeps handlers, event types and error types apart: the first of each is logged', async () => {
    const logger = new RecordingLogger();
    const bus = newBus({ logger });
    bus.subscribe(Deposited, function chargeCard(event) {
      throw event.amount % 2 === 0 ? new TypeError('even') : new RangeError('odd');
    });
    bus.subscribe(Deposited, function notify() {
      throw new TypeError('mail down');
    });
    bus.subscribe(Withdrawn, function notify() {
      throw new TypeError('mail down');
    });
    await bus.publish([deposit(1), deposit(2), deposit(3), deposit(4), withdraw(1), withdraw(2)]);

    expect(logger.entries.map((entry) => `${entry.message}: ${String(entry.fields?.['error'])}`)).toEqual([
      'Handler chargeCard failed on InMemoryObservabilityTest.Deposited: odd',
      'Handler notify failed on InMemoryObservabilityTest.Deposited: mail down',
      'Handler chargeCard failed on InMemoryObservabilityTest.Deposited: even',
      'Handler notify failed on InMemoryObservabilityTest.Withdrawn: mail down',
    ]);
    await bus.shutdown();
    expect(logger.entries.slice(4).map((entry) => entry.fields?.['suppressed']).sort()).toEqual([1, 1, 1, 3]);
  });

  it('logs a thrown value that cannot be turned into a string, and publish still resolves', async () => {
    const logger = new RecordingLogger();
    const bus = newBus({ logger });
    bus.subscribe(Deposited, function throwsBare() {
      throw Object.create(null) as object;
    });
    await expect(bus.publish([deposit(1)])).resolves.toBeUndefined();
    expect(logger.at('error')).toHaveLength(1);
    expect(typeof logger.at('error')[0]!.fields?.['error']).toBe('string');
  });
});

describe('InMemoryEventBus: metrics', () => {
  it('records sent, consumed, handler duration and handler errors with the in-memory system and destination', async () => {
    const metrics = new RecordingMetrics();
    const bus = newBus({ metrics });
    bus.subscribe(Deposited, () => undefined);
    bus.subscribe(Withdrawn, function debit() {
      throw new TypeError('insufficient funds');
    });
    await bus.publish([deposit(1), withdraw(2), close()]);

    const one = (name: MetricName) => ({ name, value: 1, attributes: IN_MEMORY });
    expect(metrics.named(METRIC_NAMES.sent)).toEqual(Array(3).fill(one(METRIC_NAMES.sent)));
    expect(metrics.named(METRIC_NAMES.consumed)).toEqual(Array(3).fill(one(METRIC_NAMES.consumed)));

    // The event nobody subscribed to is not timed, as a broker's skipped message is not.
    const durations = metrics.named(METRIC_NAMES.processDuration);
    expect(durations.map((d) => d.attributes)).toEqual([
      { ...IN_MEMORY, 'eventsource.event.type': Deposited.eventType, 'eventsource.outcome': 'ack' },
      { ...IN_MEMORY, 'eventsource.event.type': Withdrawn.eventType, 'eventsource.outcome': 'failed' },
    ]);
    expect(durations.every((d) => d.value >= 0)).toBe(true);

    expect(metrics.named(METRIC_NAMES.handlerErrors)).toEqual([
      { name: METRIC_NAMES.handlerErrors, value: 1, attributes: { ...IN_MEMORY, 'eventsource.event.type': Withdrawn.eventType, 'error.type': 'TypeError' } },
    ]);
    expect(metrics.named(METRIC_NAMES.retries)).toEqual([]);
    expect(metrics.named(METRIC_NAMES.deadLetters)).toEqual([]);
  });

  it('counts every failing handler of an event, as the broker buses do', async () => {
    const metrics = new RecordingMetrics();
    const bus = newBus({ metrics });
    class PaymentDeclined extends Error {}
    bus.subscribe(Deposited, () => {
      throw new PaymentDeclined('no');
    });
    bus.subscribe(Deposited, () => Promise.reject(new RangeError('too much')));
    await bus.publish([deposit(1)]);
    expect(metrics.named(METRIC_NAMES.handlerErrors).map((call) => call.attributes?.['error.type'])).toEqual(['PaymentDeclined', 'RangeError']);
    expect(bus.getStats().handlerErrors).toBe(2);
  });

  it('reports events whose handlers are running through the in-flight gauge, and stops it at shutdown', async () => {
    const metrics = new RecordingMetrics();
    const bus = newBus({ metrics });
    const gate = deferred();
    bus.subscribe(Deposited, () => gate.promise);
    await bus.publish([deposit(1)], { background: true });
    await nextTurn();
    expect(metrics.read(METRIC_NAMES.inFlight)).toEqual([{ name: METRIC_NAMES.inFlight, value: 1, attributes: IN_MEMORY }]);
    gate.resolve();
    await bus.shutdown();
    expect(metrics.stopped).toEqual([METRIC_NAMES.inFlight]);
  });

  it('reads 0 on the in-flight gauge once the handlers have finished, failed ones included', async () => {
    const metrics = new RecordingMetrics();
    const bus = newBus({ metrics });
    bus.subscribe(Deposited, async () => {
      await nextTurn();
      throw new Error('late failure');
    });
    await bus.publish([deposit(1), deposit(2)]);
    expect(metrics.read(METRIC_NAMES.inFlight)[0]!.value).toBe(0);
  });

  it('records the same on the round-trip path, and nothing for a batch the codec refused', async () => {
    const metrics = new RecordingMetrics();
    const bus = newBus({ metrics, roundTrip: true });
    bus.subscribe(Deposited, () => undefined);
    await bus.publish([deposit(1), deposit(2)]);
    expect(metrics.named(METRIC_NAMES.sent)).toHaveLength(2);
    expect(metrics.named(METRIC_NAMES.processDuration)).toHaveLength(2);

    const Unregistered = defineEvent('InMemoryObservabilityTest.Unregistered', { aggregateType: 'Account', payload: fields<{ n: number }>(), registry: new EventRegistry() });
    await expect(bus.publish([deposit(3), new Unregistered({ aggregateId: 'acc-1', n: 1 })])).rejects.toMatchObject({ reason: 'unknown_event_type' });
    expect(metrics.named(METRIC_NAMES.sent)).toHaveLength(2);
  });

  it('creates only the instruments that apply in-process, once, with units', () => {
    const metrics = new RecordingMetrics();
    newBus({ metrics });
    expect(metrics.instruments.map((i) => i.name).sort()).toEqual(
      [METRIC_NAMES.sent, METRIC_NAMES.consumed, METRIC_NAMES.processDuration, METRIC_NAMES.handlerErrors, METRIC_NAMES.inFlight].sort(),
    );
    expect(metrics.instruments.find((i) => i.name === METRIC_NAMES.processDuration)?.options.unit).toBe('s');
    expect(metrics.instruments.filter((i) => i.name !== METRIC_NAMES.processDuration).every((i) => i.options.unit === '{message}')).toBe(true);
  });

  it('records nothing through a port that is not enabled, while still counting and logging', async () => {
    const recording = new RecordingMetrics();
    const disabled: Metrics = {
      enabled: false,
      counter: (name, options) => recording.counter(name, options),
      histogram: (name, options) => recording.histogram(name, options),
      gauge: (name, options, callback) => recording.gauge(name, options, callback),
    };
    const logger = new RecordingLogger();
    const bus = newBus({ metrics: disabled, logger });
    bus.subscribe(Deposited, () => undefined);
    bus.subscribe(Withdrawn, () => {
      throw new TypeError('insufficient funds');
    });
    await bus.publish([deposit(1), withdraw(2), close()]);
    await bus.publish([deposit(3)], { background: true });
    await bus.shutdown();

    expect(recording.calls).toEqual([]);
    expect(bus.getStats()).toMatchObject({ eventsPublished: 4, handlersInvoked: 3, handlerErrors: 1 });
    expect(logger.at('error')).toHaveLength(1);
  });
});
