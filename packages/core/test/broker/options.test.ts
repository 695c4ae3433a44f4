import { describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { ConfigError, EventRegistry } from '../../src/index.js';
import { BROKER_DEFAULTS, boolean, defaultConsumerName, identifier, integer, milliseconds, oneOf, resolveBrokerOptions } from '../../src/transport.js';
import type { BrokerBusOptions } from '../../src/index.js';
import { FakeBus } from './fake-adapter.js';

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveBrokerOptions', () => {
  it('applies the documented defaults', () => {
    const resolved = resolveBrokerOptions({});
    expect(resolved).toMatchObject({
      consumerGroup: 'default',
      maxRetries: 3,
      enableDlq: true,
      maxInFlight: 10,
      handlerTimeoutMs: 0,
      maxDeliveries: 10,
      reconnectBaseDelayMs: 100,
      reconnectMaxDelayMs: 5000,
    });
    expect(resolved.retryPolicy).toMatchObject({ baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0.1, maxRetries: 3 });
    expect(resolved.consumerName).toMatch(new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]{8}$`));
    expect(BROKER_DEFAULTS.maxInFlight).toBe(10);
  });

  it('takes what the user passed, and a transport may change the defaults', () => {
    const resolved = resolveBrokerOptions(
      { consumerGroup: 'billing', consumerName: 'billing-7', maxRetries: 0, retryBaseDelayMs: 5, retryMaxDelayMs: 50, retryJitter: 0, enableDlq: false, handlerTimeoutMs: 250, maxDeliveries: 2 },
      { maxInFlight: 1 },
    );
    expect(resolved).toMatchObject({ consumerGroup: 'billing', consumerName: 'billing-7', maxRetries: 0, enableDlq: false, maxInFlight: 1, handlerTimeoutMs: 250, maxDeliveries: 2 });
    expect(resolved.retryPolicy).toMatchObject({ baseDelayMs: 5, maxDelayMs: 50, jitter: 0, maxRetries: 0 });
  });

  it('gives every consumer its own default name', () => {
    expect(defaultConsumerName()).not.toBe(defaultConsumerName());
  });

  const invalid: Array<[keyof BrokerBusOptions, unknown]> = [
    ['consumerGroup', ''],
    ['consumerGroup', 'billing team'],
    ['consumerGroup', 42],
    ['consumerName', ''],
    ['maxRetries', -1],
    ['maxRetries', 1.5],
    ['retryBaseDelayMs', -1],
    ['retryBaseDelayMs', Number.NaN],
    ['retryMaxDelayMs', Number.POSITIVE_INFINITY],
    ['retryJitter', 2],
    ['retryJitter', -0.1],
    ['retryJitter', '0.1'],
    ['enableDlq', 'yes'],
    ['maxInFlight', 0],
    ['maxInFlight', 2.5],
    ['maxDeliveries', 0],
    ['reconnectBaseDelayMs', 0],
    ['reconnectMaxDelayMs', 'soon'],
    ['handlerTimeoutMs', 0],
    ['handlerTimeoutMs', Number.NaN],
    ['publishTimeoutMs', 0],
    ['publishTimeoutMs', -1],
    ['publishTimeoutMs', Number.NaN],
    ['publishTimeoutMs', Number.NEGATIVE_INFINITY],
    ['publishTimeoutMs', 2 ** 31],
    ['publishTimeoutMs', '30000'],
  ];
  it.each(invalid)('refuses %s: %s with a ConfigError naming that option', (option, value) => {
    const error = configError(() => resolveBrokerOptions({ [option]: value } as BrokerBusOptions));
    expect(error.option).toBe(option);
    expect(error.message).toContain(option);
  });

  it('publishTimeoutMs: 30000 by default, any positive number of ms a timer can hold, or Infinity for no limit', () => {
    expect(resolveBrokerOptions({}).publishTimeoutMs).toBe(30_000);
    expect(BROKER_DEFAULTS.publishTimeoutMs).toBe(30_000);
    expect(resolveBrokerOptions({ publishTimeoutMs: 1 }).publishTimeoutMs).toBe(1);
    expect(resolveBrokerOptions({ publishTimeoutMs: 2 ** 31 - 1 }).publishTimeoutMs).toBe(2 ** 31 - 1);
    expect(resolveBrokerOptions({ publishTimeoutMs: Number.POSITIVE_INFINITY }).publishTimeoutMs).toBe(Number.POSITIVE_INFINITY);
    expect(resolveBrokerOptions({}, { publishTimeoutMs: 5000 }).publishTimeoutMs).toBe(5000);
  });

  it('publishTimeoutMs: 0 is refused, not read as "off", and the error says how to turn the limit off', () => {
    const error = configError(() => resolveBrokerOptions({ publishTimeoutMs: 0 }));
    expect(error.code).toBe('ES_INVALID_CONFIG');
    expect(error.message).toBe(
      'Invalid option "publishTimeoutMs": must be a number of milliseconds from 1 to 2147483647 (about 24.8 days), or Infinity for no limit; received 0. ' +
        'It bounds how long publish() waits for the broker (default 30000).',
    );
  });

  it('names the option the user passed when two depend on each other', () => {
    expect(configError(() => resolveBrokerOptions({ retryBaseDelayMs: 500, retryMaxDelayMs: 100 })).option).toBe('retryMaxDelayMs');
    expect(configError(() => resolveBrokerOptions({ reconnectBaseDelayMs: 500, reconnectMaxDelayMs: 100 })).option).toBe('reconnectMaxDelayMs');
  });

  it('refuses a missing options object with a hint', () => {
    const error = configError(() => resolveBrokerOptions(null as unknown as BrokerBusOptions));
    expect(error.option).toBe('options');
    expect(error.message).toContain('pass an options object');
  });

  it('is what a transport runs in its constructor, so a bad option fails at construction', () => {
    expect(configError(() => new FakeBus({ registry: new EventRegistry(), maxInFlight: -3 })).option).toBe('maxInFlight');
    expect(configError(() => new FakeBus({ registry: new EventRegistry(), handlerTimeoutMs: -1 })).option).toBe('handlerTimeoutMs');
    expect(configError(() => new FakeBus({ registry: new EventRegistry(), publishTimeoutMs: 0 })).option).toBe('publishTimeoutMs');
  });
});

describe('option validators', () => {
  it('identifier: a non-empty string without white space', () => {
    expect(identifier('exchange', 'orders.events')).toBe('orders.events');
    for (const bad of ['', 'a\tb', undefined, 3]) expect(configError(() => identifier('exchange', bad)).option).toBe('exchange');
  });

  it('integer: a whole number in range, and says the range', () => {
    expect(integer('batchSize', 5, 1, 10)).toBe(5);
    expect(configError(() => integer('batchSize', 11, 1, 10)).message).toContain('must be an integer from 1 to 10; received 11.');
    expect(configError(() => integer('batchSize', 0, 1)).message).toContain('must be an integer >= 1; received 0.');
    expect(configError(() => integer('batchSize', '5', 1)).option).toBe('batchSize');
  });

  it('milliseconds: a finite number at least the minimum', () => {
    expect(milliseconds('blockMs', 0.5, 0)).toBe(0.5);
    for (const bad of [-1, Number.POSITIVE_INFINITY, '10', null]) expect(configError(() => milliseconds('blockMs', bad, 0)).option).toBe('blockMs');
  });

  it('boolean: true or false only', () => {
    expect(boolean('durable', false)).toBe(false);
    expect(configError(() => boolean('durable', 0)).message).toBe('Invalid option "durable": must be true or false; received 0.');
  });

  it('oneOf: one of the allowed strings, listed in the message', () => {
    expect(oneOf('compression', 'gzip', ['none', 'gzip'])).toBe('gzip');
    expect(configError(() => oneOf('compression', 'zip', ['none', 'gzip'])).message).toContain('must be one of "none", "gzip"; received "zip".');
  });
});
