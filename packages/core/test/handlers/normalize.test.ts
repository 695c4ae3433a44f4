import { describe, expect, it } from 'vitest';
import {
  EventSourceError,
  InMemoryEventBus,
  InvalidHandlerError,
  defineEvent,
  silentLogger,
  type DomainEvent,
} from '../../src/index.js';
import { normalizeHandler } from '../../src/transport.js';

const Pinged = defineEvent('NormalizeTest.Pinged', { aggregateType: 'P' });
const ping = () => new Pinged({ aggregateId: 'p' });

class NotificationService {
  readonly seen: string[] = [];
  handle(event: DomainEvent): void {
    this.seen.push(event.eventId);
  }
}

describe('normalizeHandler', () => {
  it('takes a named function under its own name', async () => {
    function logEvent(event: DomainEvent): string {
      return event.eventType;
    }
    const handler = normalizeHandler(logEvent);
    expect(handler.name).toBe('logEvent');
    expect(handler.original).toBe(logEvent);
    expect(handler.invoke(ping())).toBe('NormalizeTest.Pinged');
  });

  it('names an anonymous lambda uniquely', () => {
    const first = normalizeHandler(normalizeHandlerTarget());
    const second = normalizeHandler(normalizeHandlerTarget());
    expect(first.name).toMatch(/^anonymous#\d+$/);
    expect(second.name).toMatch(/^anonymous#\d+$/);
    expect(first.name).not.toBe(second.name);
  });

  it('takes an object with handle(), named "ClassName.handle", calling it on the object', () => {
    const service = new NotificationService();
    const handler = normalizeHandler(service);
    expect(handler.name).toBe('NotificationService.handle');
    expect(handler.original).toBe(service);
    const event = ping();
    handler.invoke(event);
    expect(service.seen).toEqual([event.eventId]);
  });

  it('names a plain object handler uniquely', () => {
    const handler = normalizeHandler({ handle: () => undefined });
    expect(handler.name).toMatch(/^handler#\d+\.handle$/);
    const bare = Object.assign(Object.create(null) as object, { handle: () => undefined });
    expect(normalizeHandler(bare).name).toMatch(/^handler#\d+\.handle$/);
  });

  it('prefers an explicit name', () => {
    expect(normalizeHandler(() => undefined, 'audit').name).toBe('audit');
    expect(normalizeHandler(new NotificationService(), 'notify').name).toBe('notify');
  });

  it('passes through sync and async results unchanged', async () => {
    const sync = normalizeHandler(() => 1);
    const async = normalizeHandler(async () => 2);
    const asyncObject = normalizeHandler({ handle: async () => 3 });
    expect(sync.invoke(ping())).toBe(1);
    await expect(async.invoke(ping())).resolves.toBe(2);
    await expect(asyncObject.invoke(ping())).resolves.toBe(3);
  });

  it.each([
    ['null', null, 'received null'],
    ['undefined', undefined, 'received undefined undefined'],
    ['a number', 42, 'received number 42'],
    ['a string', 'x', 'received string x'],
    ['an empty object', {}, 'received an object without handle()'],
    ['an array', [() => undefined], 'received an array'],
    ['an object whose handle is not a function', { handle: 'nope' }, 'received an object without handle()'],
    ['an instance without handle()', new (class Projector {})(), 'received an instance of Projector without handle()'],
  ])('refuses %s with a TypeError saying what to pass', (_label, value, received) => {
    let error: unknown;
    try {
      normalizeHandler(value);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toBeInstanceOf(InvalidHandlerError);
    expect(error).toBeInstanceOf(EventSourceError);
    const invalid = error as InvalidHandlerError;
    expect(invalid.code).toBe('ES_INVALID_HANDLER');
    expect(invalid.message).toContain(received);
    expect(invalid.message).toContain('A handler must be a function or an object with a handle(event) method');
    expect(invalid.message).toContain('Pass `event => ...`, a named function, or an instance whose class defines handle()');
  });
});

describe('subscribing an invalid handler', () => {
  it.each([[null], [42], [{}], ['x']])('fails at subscribe time for %j, not at publish time', (value) => {
    const bus = new InMemoryEventBus({ logger: silentLogger });
    expect(() => bus.subscribe(Pinged, value as never)).toThrow(TypeError);
    expect(() => bus.subscribeToAllEvents(value as never)).toThrow(InvalidHandlerError);
    expect(bus.getSubscriberCount()).toBe(0);
    expect(bus.getWildcardSubscriberCount()).toBe(0);
  });
});

// Returns a fresh arrow whose name inference cannot see a binding.
function normalizeHandlerTarget(): (event: DomainEvent) => void {
  return [(_event: DomainEvent) => undefined][0]!;
}
