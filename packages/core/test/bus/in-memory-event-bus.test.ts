import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BusClosedError,
  ConfigError,
  DEFAULT_MAX_BACKGROUND_TASKS,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  EventRegistry,
  InMemoryEventBus,
  InvalidEventError,
  defineEvent,
  fields,
  silentLogger,
  type DomainEvent,
  type InMemoryEventBusOptions,
} from '../../src/index.js';
import { RecordingLogger, RecordingTracer, deferred, nextTurn } from '@eventsource/testkit';

const Deposited = defineEvent('InMemoryBusTest.Deposited', {
  aggregateType: 'Account',
  payload: fields<{ amount: number }>(),
});
const Withdrawn = defineEvent('InMemoryBusTest.Withdrawn', {
  aggregateType: 'Account',
  payload: fields<{ amount: number }>(),
});
const Audited = defineEvent('InMemoryBusTest.Audited', {
  aggregateType: 'Account',
  payload: fields<{ at: Date; tags: Set<string>; note?: string | undefined }>(),
});

const deposit = (amount: number) => new Deposited({ aggregateId: 'acc-1', amount });
const withdraw = (amount: number) => new Withdrawn({ aggregateId: 'acc-1', amount });

const buses: InMemoryEventBus[] = [];
function newBus(options: InMemoryEventBusOptions = {}): InMemoryEventBus {
  const bus = new InMemoryEventBus({ logger: silentLogger, ...options });
  buses.push(bus);
  return bus;
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.shutdown(100)));
  vi.restoreAllMocks();
});

describe('publishing', () => {
  it('delivers to the type\'s handlers and to wildcard handlers', async () => {
    const bus = newBus();
    const amounts: number[] = [];
    const everything: string[] = [];
    bus.subscribe(Deposited, (event) => {
      amounts.push(event.amount);
    });
    bus.subscribeToAllEvents((event) => {
      everything.push(event.eventType);
    });
    await bus.publish([deposit(5), withdraw(2)]);
    expect(amounts).toEqual([5]);
    expect(everything).toEqual(['InMemoryBusTest.Deposited', 'InMemoryBusTest.Withdrawn']);
  });

  it('handles one publish call\'s events in list order, each event\'s handlers finishing before the next starts', async () => {
    const bus = newBus();
    const log: string[] = [];
    const slowly = (label: string) => async (event: DomainEvent & { amount: number }) => {
      log.push(`${label}:start:${event.amount}`);
      await nextTurn();
      await nextTurn();
      log.push(`${label}:end:${event.amount}`);
    };
    bus.subscribe(Deposited, slowly('a'));
    bus.subscribe(Deposited, slowly('b'));
    await bus.publish([deposit(1), deposit(2), deposit(3)]);
    for (const amount of [1, 2, 3]) {
      const entries = log.filter((line) => line.endsWith(`:${amount}`));
      expect(entries).toHaveLength(4);
    }
    const lastOfEvent = (amount: number) => Math.max(...log.flatMap((line, i) => (line.endsWith(`:${amount}`) ? [i] : [])));
    const firstOfEvent = (amount: number) => log.findIndex((line) => line.endsWith(`:${amount}`));
    expect(lastOfEvent(1)).toBeLessThan(firstOfEvent(2));
    expect(lastOfEvent(2)).toBeLessThan(firstOfEvent(3));
    // Within one event the handlers run concurrently.
    expect(log.slice(0, 2)).toEqual(['a:start:1', 'b:start:1']);
  });

  it('waits for async handlers before publish() resolves', async () => {
    const bus = newBus();
    let finished = false;
    bus.subscribe(Deposited, async () => {
      await nextTurn();
      finished = true;
    });
    await bus.publish([deposit(1)]);
    expect(finished).toBe(true);
  });

  it('isolates handler failures: others still run, publish resolves, errors are counted and logged', async () => {
    const logger = new RecordingLogger();
    const bus = newBus({ logger });
    const ran: string[] = [];
    bus.subscribe(Deposited, function failsSync() {
      ran.push('sync');
      throw new Error('sync failure');
    });
    bus.subscribe(Deposited, async function failsAsync() {
      ran.push('async');
      throw 'async failure';
    });
    bus.subscribe(Deposited, function succeeds() {
      ran.push('ok');
    });
    await expect(bus.publish([deposit(1)])).resolves.toBeUndefined();
    expect(ran).toEqual(['sync', 'async', 'ok']);
    expect(bus.getStats()).toMatchObject({ eventsPublished: 1, handlersInvoked: 3, handlerErrors: 2 });
    const errors = logger.at('error');
    expect(errors.map((entry) => entry.message)).toEqual([
      'Handler failsSync failed on InMemoryBusTest.Deposited',
      'Handler failsAsync failed on InMemoryBusTest.Deposited',
    ]);
    expect(errors[0]!.fields).toMatchObject({ handler: 'failsSync', error: 'sync failure' });
    expect(errors[1]!.fields).toMatchObject({ handler: 'failsAsync', error: 'async failure' });
  });

  it('logs handler failures to the console by default', async () => {
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const bus = new InMemoryEventBus();
    buses.push(bus);
    bus.subscribe(Deposited, () => {
      throw new Error('loud');
    });
    await bus.publish([deposit(1)]);
    expect(consoleError).toHaveBeenCalledWith(
      expect.stringMatching(/^\[eventsource\] Handler anonymous#\d+ failed on InMemoryBusTest\.Deposited$/),
      expect.objectContaining({ error: 'loud' }),
    );
  });

  it('counts an event with no handlers as published', async () => {
    const bus = newBus();
    await bus.publish([deposit(1)]);
    expect(bus.getStats()).toMatchObject({ eventsPublished: 1, handlersInvoked: 0 });
  });

  it('accepts an empty list', async () => {
    const bus = newBus();
    await expect(bus.publish([])).resolves.toBeUndefined();
    expect(bus.getStats().eventsPublished).toBe(0);
  });

  it('rejects input that is not a list of events, publishing nothing', async () => {
    const bus = newBus();
    const seen: unknown[] = [];
    bus.subscribeToAllEvents((event) => {
      seen.push(event);
    });
    await expect(bus.publish(deposit(1) as never)).rejects.toThrow(/publish\(\) takes an array of events/);
    await expect(bus.publish(null as never)).rejects.toThrow(/received null/);
    await expect(bus.publish([deposit(1), { eventType: 'x' }] as never)).rejects.toThrow(
      /item 1 is not an event declared with defineEvent\(\) \(received Object\)\. Nothing was published\./,
    );
    await expect(bus.publish([deposit(1), 'x'] as never)).rejects.toThrow(InvalidEventError);
    await expect(bus.publish([null] as never)).rejects.toThrow(/received null/);
    expect(seen).toEqual([]);
  });

  it('returns exactly the five counters', async () => {
    const bus = newBus();
    bus.subscribe(Deposited, () => undefined);
    await bus.publish([deposit(1)]);
    await bus.publish([deposit(2)], { background: true });
    await bus.shutdown(1000);
    const stats = bus.getStats();
    expect(Object.keys(stats).sort()).toEqual([
      'backgroundTasksCompleted',
      'backgroundTasksCreated',
      'eventsPublished',
      'handlerErrors',
      'handlersInvoked',
    ]);
    expect(stats).toEqual({
      eventsPublished: 2,
      handlersInvoked: 2,
      handlerErrors: 0,
      backgroundTasksCreated: 1,
      backgroundTasksCompleted: 1,
    });
  });
});

describe('background publishing', () => {
  it('returns before handlers run', async () => {
    const bus = newBus();
    const seen: number[] = [];
    bus.subscribe(Deposited, (event) => {
      seen.push(event.amount);
    });
    await bus.publish([deposit(1), deposit(2)], { background: true });
    expect(seen).toEqual([]);
    expect(await bus.shutdown(1000)).toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(seen).toEqual([1, 2]);
  });

  it('copies the list, so the caller may reuse its array', async () => {
    const bus = newBus();
    const seen: number[] = [];
    bus.subscribe(Deposited, (event) => {
      seen.push(event.amount);
    });
    const batch = [deposit(1)];
    await bus.publish(batch, { background: true });
    batch.length = 0;
    batch.push(deposit(99));
    await bus.shutdown(1000);
    expect(seen).toEqual([1]);
  });

  it('is capped at 1000 in flight by default', () => {
    class Probe extends InMemoryEventBus {
      get backgroundLimit(): number {
        return this.background.limit;
      }
    }
    expect(DEFAULT_MAX_BACKGROUND_TASKS).toBe(1000);
    expect(new Probe({ logger: silentLogger }).backgroundLimit).toBe(1000);
    expect(new Probe({ logger: silentLogger, maxBackgroundTasks: 3 }).backgroundLimit).toBe(3);
  });

  it('runs inline at the cap, dropping nothing, and the counters add up', async () => {
    const bus = newBus({ maxBackgroundTasks: 2 });
    const gate = deferred();
    const seen: number[] = [];
    bus.subscribe(Deposited, async (event) => {
      await gate.promise;
      seen.push(event.amount);
    });

    await bus.publish([deposit(1)], { background: true });
    await bus.publish([deposit(2)], { background: true });
    let inlineDone = false;
    const inline = bus.publish([deposit(3)], { background: true }).then(() => {
      inlineDone = true;
    });
    await nextTurn();
    await nextTurn();
    // The third publish is running inline: it waits for its handler like a foreground publish.
    expect(inlineDone).toBe(false);
    expect(bus.getStats()).toMatchObject({ backgroundTasksCreated: 2, backgroundTasksCompleted: 0 });

    gate.resolve();
    await inline;
    expect(await bus.shutdown(1000)).toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(seen.sort()).toEqual([1, 2, 3]);
    expect(bus.getStats()).toEqual({
      eventsPublished: 3,
      handlersInvoked: 3,
      handlerErrors: 0,
      backgroundTasksCreated: 2,
      backgroundTasksCompleted: 2,
    });
  });

  it('does not deadlock a handler that publishes in the background at the cap', async () => {
    const bus = newBus({ maxBackgroundTasks: 1 });
    const seen: string[] = [];
    bus.subscribe(Deposited, async (event) => {
      seen.push(`deposit:${event.amount}`);
      await bus.publish([withdraw(event.amount)], { background: true });
    });
    bus.subscribe(Withdrawn, (event) => {
      seen.push(`withdraw:${event.amount}`);
    });
    await bus.publish([deposit(7)], { background: true });
    expect(await bus.shutdown(1000)).toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(seen).toEqual(['deposit:7', 'withdraw:7']);
  });

  it('logs a background publish that fails', async () => {
    const logger = new RecordingLogger();
    const bus = newBus({ logger, roundTrip: true });
    const Big = defineEvent('InMemoryBusTest.Big', { aggregateType: 'B', payload: fields<{ n: bigint }>() });
    await bus.publish([new Big({ aggregateId: 'b', n: 1n })], { background: true });
    await bus.shutdown(1000);
    expect(logger.at('error').map((entry) => entry.message)).toEqual(['Background publish failed']);
    expect(bus.getStats()).toMatchObject({ backgroundTasksCreated: 1, backgroundTasksCompleted: 1 });
  });

  it.each([[-1], [1.5], [Number.NaN]])('refuses maxBackgroundTasks %s', (maxBackgroundTasks) => {
    expect(() => new InMemoryEventBus({ maxBackgroundTasks })).toThrow(ConfigError);
    expect(() => new InMemoryEventBus({ maxBackgroundTasks })).toThrow(/Invalid option "maxBackgroundTasks"/);
  });
});

describe('shutdown', () => {
  it('defaults to a 30 s timeout', () => {
    expect(DEFAULT_SHUTDOWN_TIMEOUT_MS).toBe(30_000);
  });

  it('drains in-flight background work and reports it', async () => {
    const bus = newBus();
    const gate = deferred();
    let handled = false;
    bus.subscribe(Deposited, async () => {
      await gate.promise;
      handled = true;
    });
    await bus.publish([deposit(1)], { background: true });
    const stopping = bus.shutdown(5000);
    expect(bus.isClosed).toBe(true);
    await nextTurn();
    gate.resolve();
    expect(await stopping).toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(handled).toBe(true);
  });

  it('times out honestly when a handler never finishes', async () => {
    const logger = new RecordingLogger();
    const bus = newBus({ logger });
    bus.subscribe(Deposited, () => new Promise<void>(() => {}));
    await bus.publish([deposit(1)], { background: true });
    const result = await bus.shutdown(30);
    expect(result).toEqual({ drained: false, pendingBackgroundTasks: 1 });
    expect(logger.at('warn')).toEqual([
      {
        level: 'warn',
        message: 'Shutdown timed out with background publishes still running. The timeout is in milliseconds: shutdown(30_000) waits 30 s.',
        fields: { pending: 1 },
      },
    ]);
  });

  it('warns on the console by default when it times out', async () => {
    const consoleWarn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const bus = new InMemoryEventBus();
    bus.subscribe(Deposited, () => new Promise<void>(() => {}));
    await bus.publish([deposit(1)], { background: true });
    expect(await bus.shutdown(10)).toEqual({ drained: false, pendingBackgroundTasks: 1 });
    expect(consoleWarn).toHaveBeenCalledWith('[eventsource] Shutdown timed out with background publishes still running. The timeout is in milliseconds: shutdown(30_000) waits 30 s.', {
      pending: 1,
    });
  });

  it('is idempotent: a second call returns the first result', async () => {
    const bus = newBus();
    const first = bus.shutdown(10);
    expect(bus.shutdown(99_999)).toBe(first);
    expect(await first).toEqual({ drained: true, pendingBackgroundTasks: 0 });
    expect(await bus.shutdown()).toEqual({ drained: true, pendingBackgroundTasks: 0 });
  });

  it('refuses publishes once shut down', async () => {
    const bus = newBus();
    await bus.shutdown(100);
    const error = await bus.publish([deposit(1)]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BusClosedError);
    expect((error as BusClosedError).code).toBe('ES_BUS_CLOSED');
    expect((error as BusClosedError).message).toContain('Cannot publish: the bus has been shut down');
    await expect(bus.publish([deposit(1)], { background: true })).rejects.toThrow(BusClosedError);
  });

  it('treats a negative timeout as zero', async () => {
    const bus = newBus();
    bus.subscribe(Deposited, () => new Promise<void>(() => {}));
    await bus.publish([deposit(1)], { background: true });
    expect(await bus.shutdown(-5)).toEqual({ drained: false, pendingBackgroundTasks: 1 });
  });

  it('shuts down through Symbol.asyncDispose', async () => {
    const bus = newBus();
    await bus[Symbol.asyncDispose]();
    await expect(bus.publish([deposit(1)])).rejects.toThrow(BusClosedError);
  });
});

describe('subscriptions', () => {
  it('returns an unsubscribe function from subscribe()', async () => {
    const bus = newBus();
    const seen: number[] = [];
    const handler = (event: { amount: number }) => {
      seen.push(event.amount);
    };
    const off = bus.subscribe(Deposited, handler);
    expect(bus.getSubscriberCount(Deposited)).toBe(1);
    await bus.publish([deposit(1)]);
    expect(off()).toBe(true);
    expect(off()).toBe(false);
    await bus.publish([deposit(2)]);
    expect(seen).toEqual([1]);
    expect(bus.getSubscriberCount(Deposited)).toBe(0);
  });

  it('unsubscribes by handler', () => {
    const bus = newBus();
    const handler = () => undefined;
    bus.subscribe(Deposited, handler);
    expect(bus.unsubscribe(Withdrawn, handler)).toBe(false);
    expect(bus.unsubscribe(Deposited, handler)).toBe(true);
  });

  it('subscribes the same handler once per type', () => {
    const bus = newBus();
    const handler = () => undefined;
    bus.subscribe(Deposited, handler);
    bus.subscribe(Deposited, handler);
    bus.subscribe(Withdrawn, handler);
    expect(bus.getSubscriberCount(Deposited)).toBe(1);
    expect(bus.getSubscriberCount()).toBe(2);
  });

  it('subscribeAll() subscribes a projection to every type it declares', async () => {
    const bus = newBus();
    const projection = {
      balance: 0,
      subscribedTo: () => [Deposited, Withdrawn],
      handle(event: DomainEvent) {
        const amount = (event as DomainEvent & { amount: number }).amount;
        this.balance += event instanceof Deposited ? amount : -amount;
      },
    };
    const off = bus.subscribeAll(projection);
    expect(bus.getSubscriberCount()).toBe(2);
    await bus.publish([deposit(10), withdraw(3)]);
    expect(projection.balance).toBe(7);
    expect(off()).toBe(true);
    expect(off()).toBe(false);
    expect(bus.getSubscriberCount()).toBe(0);
  });

  it.each([[null], [{ handle: () => undefined }], [{ subscribedTo: [] }]])('subscribeAll() refuses %j', (subscriber) => {
    expect(() => newBus().subscribeAll(subscriber as never)).toThrow(/subscribeAll\(\) takes an object with subscribedTo\(\)/);
  });

  it('subscribeAll() refuses a subscriber without handle()', () => {
    expect(() => newBus().subscribeAll({ subscribedTo: () => [Deposited] } as never)).toThrow(TypeError);
  });

  it('wildcard subscriptions come and go', async () => {
    const bus = newBus();
    const handler = () => undefined;
    const off = bus.subscribeToAllEvents(handler);
    expect(bus.getWildcardSubscriberCount()).toBe(1);
    expect(bus.getSubscriberCount()).toBe(0);
    expect(off()).toBe(true);
    expect(bus.unsubscribeFromAllEvents(handler)).toBe(false);
    expect(bus.getWildcardSubscriberCount()).toBe(0);
  });

  it('clearSubscribers() removes everything', async () => {
    const bus = newBus();
    let calls = 0;
    bus.subscribe(Deposited, () => calls++);
    bus.subscribeToAllEvents(() => calls++);
    bus.clearSubscribers();
    await bus.publish([deposit(1)]);
    expect(calls).toBe(0);
    expect(bus.getSubscriberCount()).toBe(0);
    expect(bus.getWildcardSubscriberCount()).toBe(0);
  });

  it('names the handler from options', async () => {
    const logger = new RecordingLogger();
    const bus = newBus({ logger });
    bus.subscribe(
      Deposited,
      () => {
        throw new Error('x');
      },
      { name: 'ledger' },
    );
    await bus.publish([deposit(1)]);
    expect(logger.at('error')[0]!.fields).toMatchObject({ handler: 'ledger' });
  });

  it.each([
    ['subscribe', (bus: InMemoryEventBus) => bus.subscribe({} as never, () => undefined)],
    ['unsubscribe', (bus: InMemoryEventBus) => bus.unsubscribe(null as never, () => undefined)],
    ['getSubscriberCount', (bus: InMemoryEventBus) => bus.getSubscriberCount('Deposited' as never)],
    ['subscribeAll', (bus: InMemoryEventBus) => bus.subscribeAll({ subscribedTo: () => [42 as never], handle: () => undefined })],
  ])('%s() refuses something that is not an event class', (operation, call) => {
    expect(() => call(newBus())).toThrow(new RegExp(`${operation}\\(\\) takes an event class declared with defineEvent\\(\\)`));
  });
});

describe('roundTrip', () => {
  it('hands handlers what a broker would deliver', async () => {
    const bus = newBus({ roundTrip: true });
    const received: DomainEvent[] = [];
    bus.subscribe(Audited, (event) => {
      received.push(event);
    });
    const at = new Date('2024-01-01T00:00:00.000Z');
    const original = new Audited({ aggregateId: 'a', at, tags: new Set(['x']), note: undefined });
    await bus.publish([original]);
    const delivered = received[0] as DomainEvent & Record<string, unknown>;
    expect(delivered).not.toBe(original);
    expect(delivered).toBeInstanceOf(Audited);
    expect(delivered.eventId).toBe(original.eventId);
    expect(delivered.at).toBe('2024-01-01T00:00:00.000Z');
    expect(delivered.tags).toEqual({});
    expect('note' in delivered).toBe(false);
  });

  it('delivers none of a batch when one event in it does not survive the wire', async () => {
    const bus = newBus({ roundTrip: true });
    const Big = defineEvent('InMemoryBusTest.RoundTripBig', { aggregateType: 'B', payload: fields<{ n: bigint }>() });
    const handled: string[] = [];
    bus.subscribeToAllEvents((event) => {
      handled.push(event.eventType);
    });
    const good = new Deposited({ aggregateId: 'a', amount: 1 });
    await expect(bus.publish([good, new Big({ aggregateId: 'b', n: 1n })])).rejects.toThrow(/cannot be encoded as JSON/);
    expect(handled).toEqual([]);
    expect(bus.getStats().eventsPublished).toBe(0);
  });

  it('delivers the original instance without it', async () => {
    const bus = newBus();
    const received: DomainEvent[] = [];
    bus.subscribe(Deposited, (event) => {
      received.push(event);
    });
    const original = deposit(1);
    await bus.publish([original]);
    expect(received[0]).toBe(original);
  });

  it('decodes through the registry it is given', async () => {
    const registry = new EventRegistry();
    const Local = defineEvent('InMemoryBusTest.Local', { aggregateType: 'L', registry });
    const bus = newBus({ roundTrip: true, registry });
    const seen: string[] = [];
    bus.subscribe(Local, (event) => {
      seen.push(event.eventType);
    });
    await bus.publish([new Local({ aggregateId: 'l' })]);
    expect(seen).toEqual(['InMemoryBusTest.Local']);
    // The default registry does not know Local, so a bus using it refuses the event.
    await expect(newBus({ roundTrip: true }).publish([new Local({ aggregateId: 'l' })])).rejects.toThrow(/unknown_event_type/);
  });

  it('rejects the publish when an event cannot be encoded at all', async () => {
    const bus = newBus({ roundTrip: true });
    const Huge = defineEvent('InMemoryBusTest.Huge', { aggregateType: 'H', payload: fields<{ n: bigint }>() });
    await expect(bus.publish([new Huge({ aggregateId: 'h', n: 1n })])).rejects.toThrow(InvalidEventError);
  });
});

describe('tracing switch', () => {
  it('uses the given tracer by default', async () => {
    const tracer = new RecordingTracer();
    const bus = newBus({ tracer });
    bus.subscribe(Deposited, () => undefined);
    await bus.publish([deposit(1)]);
    expect(tracer.spans.length).toBeGreaterThan(0);
  });

  it('uses no tracer when enableTracing is false', async () => {
    const tracer = new RecordingTracer();
    const bus = newBus({ tracer, enableTracing: false });
    bus.subscribe(Deposited, () => undefined);
    await bus.publish([deposit(1)]);
    await bus.publish([deposit(2)], { background: true });
    await bus.shutdown(1000);
    expect(tracer.spans).toEqual([]);
  });
});

describe('subscription edge cases', () => {
  it('subscribeAll with one bad entry subscribes nothing', () => {
    const bus = newBus();
    const subscriber = {
      subscribedTo: () => [Deposited, {} as never, Withdrawn],
      handle: () => undefined,
    };
    expect(() => bus.subscribeAll(subscriber)).toThrow(InvalidEventError);
    expect(bus.getSubscriberCount()).toBe(0);
  });

  it('a repeated subscribe is one subscription, and only the first call can remove it', async () => {
    const bus = newBus();
    const seen: number[] = [];
    const handler = (event: { amount: number }): void => {
      seen.push(event.amount);
    };
    const first = bus.subscribe(Deposited, handler);
    const second = bus.subscribe(Deposited, handler);
    expect(bus.getSubscriberCount(Deposited)).toBe(1);
    expect(second()).toBe(false);
    await bus.publish([new Deposited({ aggregateId: 'a', amount: 5 })]);
    expect(seen).toEqual([5]);
    expect(first()).toBe(true);
    expect(bus.getSubscriberCount(Deposited)).toBe(0);
  });
});

describe('publishing while shutdown drains', () => {
  it('runs a background publish made during the drain inline, then refuses publishes once drained', async () => {
    const bus = newBus();
    const gate = deferred();
    const order: string[] = [];
    bus.subscribe(Deposited, async () => {
      await gate.promise;
      order.push('deposit handled');
    });
    bus.subscribe(Withdrawn, () => {
      order.push('withdrawal handled');
    });
    await bus.publish([new Deposited({ aggregateId: 'a', amount: 1 })], { background: true });
    await nextTurn();
    const shutdown = bus.shutdown(5_000);
    // Accepted while draining, and handled before publish() resolves: nothing is left behind.
    await bus.publish([new Withdrawn({ aggregateId: 'a', amount: 1 })], { background: true });
    expect(order).toEqual(['withdrawal handled']);
    expect(bus.getStats().backgroundTasksCreated).toBe(1);
    gate.resolve();
    expect(await shutdown).toEqual({ drained: true, pendingBackgroundTasks: 0 });
    await expect(bus.publish([new Withdrawn({ aggregateId: 'a', amount: 2 })], { background: true })).rejects.toThrow(BusClosedError);
  });
});
