import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  AggregateNotFoundError,
  BusClosedError,
  ConcurrencyError,
  ConfigError,
  DlqMessageNotFoundError,
  DuplicateEventTypeError,
  EnvelopeDecodeError,
  EventSourceError,
  HandlerDispatchError,
  InvalidEventError,
  InvalidHandlerError,
  NotConnectedError,
  PublishError,
  PublishTimeoutError,
  TransportError,
  UnknownEventTypeError,
  isEventSourceError,
  type ErrorCode,
} from '../src/index.js';
import { errorMessage, errorName } from '../src/transport.js';

const cause = new Error('root cause');

// Each error, its stable code, and a phrase of its message that tells the reader what to do.
const cases: Array<[string, () => Error & { code: ErrorCode }, ErrorCode, string]> = [
  ['DuplicateEventTypeError', () => new DuplicateEventTypeError('T', 'A (defined at a.ts:1)', 'B (defined at b.ts:2)'), 'ES_DUPLICATE_EVENT_TYPE', 'Give one of them a different event type'],
  ['UnknownEventTypeError', () => new UnknownEventTypeError('T', ['A', 'B']), 'ES_UNKNOWN_EVENT_TYPE', 'Import the module that defines it'],
  ['InvalidEventError', () => new InvalidEventError('bad event'), 'ES_INVALID_EVENT', 'bad event'],
  ['EnvelopeDecodeError', () => new EnvelopeDecodeError('too_large', 'too big'), 'ES_ENVELOPE_INVALID', 'too big [reason: too_large]'],
  ['InvalidHandlerError', () => new InvalidHandlerError(42), 'ES_INVALID_HANDLER', 'Pass `event => ...`'],
  ['HandlerDispatchError', () => new HandlerDispatchError('T', 'e-1', [{ handlerName: 'h', error: cause }]), 'ES_HANDLER_DISPATCH', '1 handler(s) failed for T e-1: h: root cause'],
  ['ConfigError', () => new ConfigError('batchSize', 'must be positive.'), 'ES_INVALID_CONFIG', 'Invalid option "batchSize": must be positive.'],
  ['BusClosedError', () => new BusClosedError('publish'), 'ES_BUS_CLOSED', 'Create a new bus, or publish before calling shutdown()'],
  ['NotConnectedError', () => new NotConnectedError('publish'), 'ES_NOT_CONNECTED', 'Call `await bus.connect()` first'],
  ['ConcurrencyError', () => new ConcurrencyError('a-1', 2, 3), 'ES_CONCURRENCY', 'expected version 2, found 3. Reload the aggregate'],
  ['AggregateNotFoundError', () => new AggregateNotFoundError('Order', 'o-1'), 'ES_AGGREGATE_NOT_FOUND', 'Use repository.createNew(id)'],
  ['PublishError', () => new PublishError('could not publish'), 'ES_PUBLISH_FAILED', 'could not publish'],
  ['PublishTimeoutError', () => new PublishTimeoutError(3, 'orders', 1500), 'ES_PUBLISH_TIMEOUT', 'or raise publishTimeoutMs if it is only slow'],
  ['DlqMessageNotFoundError', () => new DlqMessageNotFoundError('m-1'), 'ES_DLQ_MESSAGE_NOT_FOUND', 'List them with getDlqMessages()'],
  ['TransportError', () => new TransportError('socket closed'), 'ES_TRANSPORT', 'socket closed'],
];

describe('errors', () => {
  it.each(cases)('%s has its stable code, its own name and a helpful message', (name, make, code, phrase) => {
    const error = make();
    expect(error.code).toBe(code);
    expect(error.name).toBe(name);
    expect(error.message).toContain(phrase);
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(EventSourceError);
    expect(isEventSourceError(error)).toBe(true);
  });

  it('uses a distinct code for every error', () => {
    const codes = cases.map(([, make]) => make().code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('keeps instanceof precise between subclasses', () => {
    const classes = [
      DuplicateEventTypeError,
      UnknownEventTypeError,
      InvalidEventError,
      EnvelopeDecodeError,
      HandlerDispatchError,
      ConfigError,
      BusClosedError,
      NotConnectedError,
      ConcurrencyError,
      AggregateNotFoundError,
      PublishError,
      PublishTimeoutError,
      DlqMessageNotFoundError,
      TransportError,
      InvalidHandlerError,
    ];
    // A timeout is a kind of publish failure: code that catches PublishError keeps catching it.
    const parents: Record<string, string> = { PublishTimeoutError: 'PublishError' };
    for (const [name, make] of cases) {
      const error = make();
      for (const cls of classes) {
        expect(error instanceof cls, `${name} instanceof ${cls.name}`).toBe(cls.name === name || parents[name] === cls.name);
      }
    }
  });

  it('makes InvalidHandlerError both a TypeError and an EventSourceError', () => {
    const error = new InvalidHandlerError(null);
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toBeInstanceOf(EventSourceError);
    expect(error).toBeInstanceOf(InvalidHandlerError);
    expect(isEventSourceError(error)).toBe(true);
    expect(new ConfigError('x', 'y')).not.toBeInstanceOf(TypeError);
  });

  it('does not claim foreign errors or non-objects', () => {
    expect(new Error('plain')).not.toBeInstanceOf(EventSourceError);
    expect(new TypeError('plain')).not.toBeInstanceOf(EventSourceError);
    expect(isEventSourceError({ code: 'ES_TRANSPORT', message: 'look-alike' })).toBe(false);
    expect(isEventSourceError(null)).toBe(false);
    expect(isEventSourceError('ES_TRANSPORT')).toBe(false);
  });

  it('recognises errors from another copy of the package by their brand', () => {
    const fromOtherCopy = new Error('x');
    Object.defineProperty(fromOtherCopy, Symbol.for('@eventsource/error'), { value: true });
    expect(fromOtherCopy).toBeInstanceOf(EventSourceError);
  });

  it('lets user subclasses keep precise instanceof', () => {
    class OrderConcurrencyError extends ConcurrencyError {}
    const error = new OrderConcurrencyError('o', 1, 2);
    expect(error).toBeInstanceOf(OrderConcurrencyError);
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toBeInstanceOf(EventSourceError);
    expect(error.name).toBe('OrderConcurrencyError');
    expect(new ConcurrencyError('o', 1, 2)).not.toBeInstanceOf(OrderConcurrencyError);
  });

  it('keeps the cause when given one, and sets none otherwise', () => {
    expect(new PublishError('p', { cause }).cause).toBe(cause);
    expect(new TransportError('t', { cause }).cause).toBe(cause);
    expect(new InvalidEventError('i', { cause }).cause).toBe(cause);
    expect(new EnvelopeDecodeError('malformed_json', 'm', { cause }).cause).toBe(cause);
    expect('cause' in new PublishError('p')).toBe(false);
  });

  it('carries the details a caller needs', () => {
    expect(new UnknownEventTypeError('T', [])).toMatchObject({ eventType: 'T', knownTypes: [] });
    expect(new UnknownEventTypeError('T', []).message).toContain('Known types: none.');
    expect(new DuplicateEventTypeError('T', 'A', 'B')).toMatchObject({ eventType: 'T', existing: 'A', incoming: 'B' });
    expect(new EnvelopeDecodeError('forbidden_key', 'x').reason).toBe('forbidden_key');
    expect(new ConfigError('opt', 'm').option).toBe('opt');
    expect(new DlqMessageNotFoundError('m-1').messageId).toBe('m-1');
  });

  it('HandlerDispatchError reports the type of its first failure', () => {
    expect(new HandlerDispatchError('T', 'e', [{ handlerName: 'h', error: new RangeError('r') }]).errorType).toBe('RangeError');
    expect(new HandlerDispatchError('T', 'e', [{ handlerName: 'h', error: 'text' }]).errorType).toBe('string');
    expect(new HandlerDispatchError('T', 'e', []).errorType).toBe('undefined');
  });
});

// Values that make naive describing code throw: each one fed to errorMessage and errorName.
function hostileValues(): Array<[string, unknown]> {
  const circularBare = Object.create(null) as Record<string, unknown>;
  circularBare.self = circularBare;
  const throwingToString = { toJSON: () => { throw new Error('toJSON'); }, toString: () => { throw new Error('toString'); } };
  const throwingGetters = new Error('x');
  Object.defineProperty(throwingGetters, 'message', { get: () => { throw new Error('message getter'); } });
  Object.defineProperty(throwingGetters, 'name', { get: () => { throw new Error('name getter'); } });
  const throwingProxy = new Proxy(new Error('proxied'), {
    get: () => { throw new Error('get trap'); },
    getPrototypeOf: () => { throw new Error('getPrototypeOf trap'); },
    has: () => { throw new Error('has trap'); },
    getOwnPropertyDescriptor: () => { throw new Error('getOwnPropertyDescriptor trap'); },
  });
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  const badConstructor = new Error('x');
  Object.defineProperty(badConstructor, 'constructor', { get: () => { throw new Error('constructor getter'); } });
  return [
    ['a circular object without a prototype', circularBare],
    ['an object whose toJSON and toString throw', throwingToString],
    ['an error whose message and name getters throw', throwingGetters],
    ['a Proxy whose every trap throws', throwingProxy],
    ['a revoked Proxy', revoked.proxy],
    ['an error whose constructor getter throws', badConstructor],
    ['an object whose toString returns an object', { toString: () => ({}), toJSON: () => { throw new Error('no'); } }],
  ];
}

describe('errorMessage', () => {
  it('reads messages from anything that can be thrown', () => {
    expect(errorMessage(new Error('m'))).toBe('m');
    expect(errorMessage('text')).toBe('text');
    expect(errorMessage({ code: 1 })).toBe('{"code":1}');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(10n)).toBe('10');
    expect(errorMessage(undefined)).toBe('undefined');
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(errorMessage(circular)).toBe('[object Object]');
  });

  it('reads the message of an error from another realm', () => {
    expect(errorMessage(runInNewContext('new RangeError("far away")'))).toBe('far away');
  });

  // Fails on main before issue 8: errorMessage threw for every value here but the bad constructor getter.
  it.each(hostileValues())('never throws, and says something, for %s', (_label, value) => {
    const message = errorMessage(value);
    expect(typeof message).toBe('string');
    expect(message.length).toBeGreaterThan(0);
  });

  it('names a value it could not read instead of guessing', () => {
    const [, proxy] = hostileValues().find(([label]) => label.startsWith('a Proxy'))!;
    expect(errorMessage(proxy)).toBe('[unreadable object: describing it threw]');
    const bare = Object.create(null) as Record<string, unknown>;
    bare.self = bare;
    expect(errorMessage(bare)).toBe('[object Object]');
  });

  it('bounds the description of a huge thrown object, but not an error message', () => {
    const big = { data: 'x'.repeat(10_000) };
    expect(errorMessage(big).length).toBeLessThanOrEqual(2001);
    expect(errorMessage(new Error('y'.repeat(10_000)))).toHaveLength(10_000);
  });
});

describe('errorName', () => {
  it('names anything that can be thrown', () => {
    expect(errorName(new TypeError('t'))).toBe('TypeError');
    expect(errorName(new ConcurrencyError('a', 1, 2))).toBe('ConcurrencyError');
    expect(errorName(new InvalidHandlerError(1))).toBe('InvalidHandlerError');
    const nameless = new Error('x');
    nameless.name = '';
    expect(errorName(nameless)).toBe('Error');
    expect(errorName(new Error('plain'))).toBe('Error');
    expect(errorName(null)).toBe('null');
    expect(errorName('s')).toBe('string');
    expect(errorName(undefined)).toBe('undefined');
    expect(errorName({ name: 'order-1' })).toBe('object');
  });

  // Fails on main before issue 8: these were recorded as "Error" and "TypeError".
  it('uses the constructor name of a user error class that does not set name', () => {
    class TransientError extends Error {}
    class BadInput extends TypeError {}
    class DeeperTransient extends TransientError {}
    expect(errorName(new TransientError('try again'))).toBe('TransientError');
    expect(errorName(new BadInput('no'))).toBe('BadInput');
    expect(errorName(new DeeperTransient('again'))).toBe('DeeperTransient');
  });

  it('uses name where the class sets it', () => {
    class OwnName extends Error {
      override name = 'PaymentDeclined';
    }
    class ProtoName extends Error {}
    Object.defineProperty(ProtoName.prototype, 'name', { value: 'FromPrototype' });
    class InheritsChosen extends ProtoName {}
    expect(errorName(new OwnName('x'))).toBe('PaymentDeclined');
    expect(errorName(new ProtoName('x'))).toBe('FromPrototype');
    expect(errorName(new InheritsChosen('x'))).toBe('FromPrototype');
    expect(errorName(new DOMException('stop', 'AbortError'))).toBe('AbortError');
  });

  it('names thrown class instances that are not errors, and errors from another realm', () => {
    class Rejection {}
    expect(errorName(new Rejection())).toBe('Rejection');
    expect(errorName(runInNewContext('new RangeError("far")'))).toBe('RangeError');
  });

  it('reports a user error class through HandlerDispatchError.errorType', () => {
    class TransientError extends Error {}
    expect(new HandlerDispatchError('T', 'e', [{ handlerName: 'h', error: new TransientError('t') }]).errorType).toBe('TransientError');
  });

  // Fails on main before issue 8: errorName threw for the throwing getters and both Proxies.
  it.each(hostileValues())('never throws for %s', (_label, value) => {
    const name = errorName(value);
    expect(typeof name).toBe('string');
    expect(name.length).toBeGreaterThan(0);
  });
});
