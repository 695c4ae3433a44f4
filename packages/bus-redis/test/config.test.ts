import { ConfigError } from '@eventsource/core';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, redisKeys } from '../src/index.js';
import { redact } from '@eventsource/core/transport';
import { maskUrl, resolveConfig } from '../src/config.js';
import { readerCommandTimeout } from '../src/connection.js';

describe('resolveConfig', () => {
  it('keeps the seed guide names and defaults', () => {
    const config = resolveConfig({});
    expect(config).toMatchObject({
      redisUrl: 'redis://localhost:6379',
      streamPrefix: 'events',
      consumerGroup: 'default',
      batchSize: 100,
      blockMs: 5000,
      maxRetries: 3,
      enableDlq: true,
      reclaimIdleMs: 60_000,
      maxDeliveries: 10,
      dlqMaxLen: 0,
      maxLen: 1_000_000,
      maxAgeMs: 0,
      maxInFlight: 10,
      startFrom: 'earliest',
    });
    expect(config.retryPolicy).toMatchObject({ baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0.1, maxRetries: 3 });
    expect(config.keys).toEqual({
      stream: 'events:stream',
      dlq: 'events:stream_dlq:default',
      retrySchedule: 'events:retry:default',
      retryData: 'events:retry:default:data',
      startJournal: 'events:starts:default',
    });
    expect(DEFAULTS.batchSize).toBe(100);
  });

  it('names the consumer after the host with a random suffix', () => {
    const a = resolveConfig({}).consumerName;
    const b = resolveConfig({}).consumerName;
    expect(a).toMatch(/^.+-[\da-f]{8}$/);
    expect(a).not.toBe(b);
  });

  it('keeps in-flight entries alive well within the reclaim idle time', () => {
    const config = resolveConfig({ reclaimIdleMs: 2000 });
    expect(config.keepAliveIntervalMs).toBeLessThanOrEqual(500);
    expect(config.reclaimIntervalMs).toBe(1000);
  });

  it('trims by age when asked, and refuses both kinds at once', () => {
    expect(resolveConfig({ maxAgeMs: 60_000 })).toMatchObject({ maxAgeMs: 60_000, maxLen: 0 });
    expect(() => resolveConfig({ maxAgeMs: 60_000, maxLen: 10 })).toThrow(/not both/);
  });

  it.each([
    [{ redisUrl: 'http://localhost:6379' }, 'redisUrl'],
    [{ redisUrl: 'not a url' }, 'redisUrl'],
    [{ batchSize: 0 }, 'batchSize'],
    [{ blockMs: -1 }, 'blockMs'],
    [{ maxRetries: 1.5 }, 'maxRetries'],
    [{ maxInFlight: 0 }, 'maxInFlight'],
    [{ dlqMaxLen: -1 }, 'dlqMaxLen'],
    [{ maxDeliveries: 0 }, 'maxDeliveries'],
    [{ consumerGroup: '' }, 'consumerGroup'],
    [{ streamPrefix: 'has space' }, 'streamPrefix'],
    [{ reclaimIdleMs: 10 }, 'reclaimIdleMs'],
    [{ retryJitter: 2 }, 'retryJitter'],
    [{ retryBaseDelayMs: 5000, retryMaxDelayMs: 1000 }, 'retryMaxDelayMs'],
    [{ startFrom: 'middle' as 'earliest' }, 'startFrom'],
    [{ enableDlq: 'yes' as unknown as boolean }, 'enableDlq'],
    [{ reconnectBaseDelayMs: 500, reconnectMaxDelayMs: 100 }, 'reconnectMaxDelayMs'],
  ])('rejects %o with a ConfigError naming %s', (options, option) => {
    let error: unknown;
    try {
      resolveConfig(options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).option).toBe(option);
  });

  it('puts every key of a prefix in one cluster hash slot', () => {
    expect(redisKeys('orders', 'billing', true)).toEqual({
      stream: '{orders}:stream',
      dlq: '{orders}:stream_dlq:billing',
      retrySchedule: '{orders}:retry:billing',
      retryData: '{orders}:retry:billing:data',
      startJournal: '{orders}:starts:billing',
    });
    expect(redisKeys('{orders}.v2', 'billing', true).stream).toBe('{orders}.v2:stream');
  });
});

describe('maskUrl', () => {
  it('hides the password and keeps the rest', () => {
    expect(maskUrl('redis://user:secret@cache.internal:6380/2')).toBe('redis://user:***@cache.internal:6380/2');
    expect(maskUrl('rediss://:secret@cache.internal:6380')).not.toContain('secret');
    expect(maskUrl('redis://localhost:6379')).toBe('redis://localhost:6379');
  });

  it('masks a token in the username position and a password containing @, in URLs and in messages', () => {
    expect(maskUrl('redis://s3cr3t-token@cache.internal:6379')).toBe('redis://***@cache.internal:6379');
    expect(maskUrl('redis://user:p@ss-w0rd@cache.internal:6379/0')).toBe('redis://user:***@cache.internal:6379/0');
    const message = redact('lost redis://user:p@ss@w0rd@a:1 and rediss://tok@b:2/1; mail admin@example.com');
    expect(message).toBe('lost redis://user:***@a:1 and rediss://***@b:2/1; mail admin@example.com');
    expect(message).not.toMatch(/w0rd|tok@/);
  });
});

describe('key layout and reader options (issue 7)', () => {
  // Fails on a8f92dc: the check found the `{c}` later in the prefix and left `a{}b{c}` unwrapped,
  // but Redis hashes a key whose first `{` is followed by `}` as a whole, so the keys of one prefix
  // landed in different slots.
  it('treats a prefix whose first braces are empty as untagged, as Redis Cluster does', () => {
    expect(redisKeys('a{}b{c}', 'g', true).stream).toBe('{a{}b{c}}:stream');
    expect(redisKeys('a{b}c', 'g', true).stream).toBe('a{b}c:stream');
    expect(redisKeys('{{x}', 'g', true).stream).toBe('{{x}:stream');
    expect(redisKeys('plain', 'g', true).stream).toBe('{plain}:stream');
  });

  // Fails on a8f92dc: group X's `…:retry:X:data` was group X:data's `…:retry:X:data`, and group
  // g's start journal for retry `replay:1-1` was group g:replay's for entry 1-1.
  it('gives no two groups a key, or a key prefix, in common; names without `:` or `%` keep their keys', () => {
    const groups = ['X', 'X:data', 'g', 'g:replay', 'a%3Ab', 'a:b', 'a%b', 'data', 'stream'];
    const keysOf = (group: string): string[] => {
      const keys = redisKeys('p', group);
      return [keys.dlq, keys.retrySchedule, keys.retryData, `${keys.startJournal}:`];
    };
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const ka of keysOf(a)) for (const kb of keysOf(b)) expect(kb === ka || kb.startsWith(`${ka}:`), `${a} / ${b}: ${ka} ~ ${kb}`).toBe(false);
      }
    }
    expect(redisKeys('p', 'orders')).toMatchObject({ retrySchedule: 'p:retry:orders', retryData: 'p:retry:orders:data', dlq: 'p:stream_dlq:orders' });
  });

  it('checks staleConsumerIdleMs against the reclaim window', () => {
    expect(() => resolveConfig({ reclaimIdleMs: 60_000, staleConsumerIdleMs: 60_000 })).toThrow(ConfigError);
    expect(() => resolveConfig({ staleConsumerIdleMs: -1 })).toThrow(/staleConsumerIdleMs/);
    expect(resolveConfig({ staleConsumerIdleMs: 0 }).staleConsumerIdleMs).toBe(0);
    expect(resolveConfig({ reclaimIdleMs: 1000, staleConsumerIdleMs: 10_000 }).staleConsumerIdleMs).toBe(10_000);
  });

  it('never lets a command timeout end a blocked read early', () => {
    expect(readerCommandTimeout(undefined, 5000)).toBeUndefined();
    expect(readerCommandTimeout(200, 5000)).toBe(6000);
    expect(readerCommandTimeout(60_000, 5000)).toBe(60_000);
  });
});
