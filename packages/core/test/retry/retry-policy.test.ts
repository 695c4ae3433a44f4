import { describe, expect, it } from 'vitest';
import { ConfigError, RetryPolicy, type RetryPolicyOptions } from '../../src/index.js';

const middle = () => 0.5; // no spread
const lowest = () => 0;
const highest = () => 0.999999;

describe('RetryPolicy', () => {
  it('has the documented defaults', () => {
    const policy = new RetryPolicy();
    expect(policy).toMatchObject({ baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0.1, maxRetries: 3 });
  });

  it('doubles the delay from baseDelayMs and caps it at maxDelayMs', () => {
    const policy = new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 1000, jitter: 0.2 }, middle);
    expect([1, 2, 3, 4, 5, 6].map((attempt) => policy.delayFor(attempt))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  it('stays at maxDelayMs for huge attempt numbers', () => {
    const policy = new RetryPolicy({ baseDelayMs: 1, maxDelayMs: 5000, jitter: 0 });
    expect(policy.delayFor(10_000)).toBe(5000);
  });

  it('spreads by at most ±jitter of the delay', () => {
    const low = new RetryPolicy({ baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0.1 }, lowest);
    const high = new RetryPolicy({ baseDelayMs: 1000, maxDelayMs: 60_000, jitter: 0.1 }, highest);
    expect(low.delayFor(1)).toBe(900);
    expect(high.delayFor(1)).toBe(1100);
    expect(low.delayFor(3)).toBe(3600);
    expect(high.delayFor(3)).toBe(4400);
  });

  it('keeps jittered delays within [0, maxDelayMs]', () => {
    const high = new RetryPolicy({ baseDelayMs: 1000, maxDelayMs: 1000, jitter: 1 }, highest);
    const low = new RetryPolicy({ baseDelayMs: 1000, maxDelayMs: 1000, jitter: 1 }, lowest);
    expect(high.delayFor(1)).toBe(1000);
    expect(low.delayFor(1)).toBe(0);
  });

  it('uses no randomness when jitter is 0', () => {
    const policy = new RetryPolicy({ baseDelayMs: 250, jitter: 0 }, lowest);
    expect(policy.delayFor(2)).toBe(500);
  });

  it.each([[0], [-1], [1.5], [Number.NaN]])('refuses attempt %s in delayFor', (attempt) => {
    expect(() => new RetryPolicy().delayFor(attempt)).toThrow(RangeError);
  });

  it('retries up to maxRetries times, then dead-letters', () => {
    const policy = new RetryPolicy({ baseDelayMs: 10, maxDelayMs: 1000, jitter: 0, maxRetries: 2 });
    expect(policy.decide(1)).toEqual({ kind: 'retry', delay: 10 });
    expect(policy.decide(2)).toEqual({ kind: 'retry', delay: 20 });
    expect(policy.decide(3)).toEqual({ kind: 'dead-letter' });
  });

  it('dead-letters on the first failure when maxRetries is 0', () => {
    expect(new RetryPolicy({ maxRetries: 0 }).decide(1)).toEqual({ kind: 'dead-letter' });
  });

  it('accepts the edge values', () => {
    expect(() => new RetryPolicy({ baseDelayMs: 0, maxDelayMs: 0, jitter: 0, maxRetries: 0 })).not.toThrow();
    expect(() => new RetryPolicy({ baseDelayMs: 5, maxDelayMs: 5, jitter: 1 })).not.toThrow();
  });

  it.each<[string, RetryPolicyOptions, string]>([
    ['negative baseDelayMs', { baseDelayMs: -1 }, 'baseDelayMs'],
    ['NaN baseDelayMs', { baseDelayMs: Number.NaN }, 'baseDelayMs'],
    ['infinite baseDelayMs', { baseDelayMs: Number.POSITIVE_INFINITY }, 'baseDelayMs'],
    ['negative maxDelayMs', { maxDelayMs: -5 }, 'maxDelayMs'],
    ['NaN maxDelayMs', { maxDelayMs: Number.NaN }, 'maxDelayMs'],
    ['maxDelayMs below baseDelayMs', { baseDelayMs: 2000, maxDelayMs: 1000 }, 'maxDelayMs'],
    ['negative jitter', { jitter: -0.1 }, 'jitter'],
    ['jitter above 1', { jitter: 1.5 }, 'jitter'],
    ['NaN jitter', { jitter: Number.NaN }, 'jitter'],
    ['fractional maxRetries', { maxRetries: 1.5 }, 'maxRetries'],
    ['negative maxRetries', { maxRetries: -1 }, 'maxRetries'],
    ['NaN maxRetries', { maxRetries: Number.NaN }, 'maxRetries'],
  ])('refuses %s with ConfigError', (_label, options, option) => {
    let error: unknown;
    try {
      new RetryPolicy(options);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const config = error as ConfigError;
    expect(config.code).toBe('ES_INVALID_CONFIG');
    expect(config.option).toBe(option);
    expect(config.message).toMatch(new RegExp(`^Invalid option "${option}": must `));
  });

  it('refuses a baseDelayMs that is not a number', () => {
    expect(() => new RetryPolicy({ baseDelayMs: '100' as unknown as number })).toThrow(ConfigError);
  });
});
