import { describe, expect, it } from 'vitest';
import { toIsoString } from '../../src/events/iso-date.js';

describe('toIsoString', () => {
  it('matches Date#toISOString across the range it formats itself', () => {
    const samples = [0, 1, 999, 1000, -1, Date.UTC(1999, 11, 31, 23, 59, 59, 999), Date.UTC(2024, 1, 29, 12, 0, 0, 7), Date.UTC(9999, 11, 31, 23, 59, 59, 999)];
    let seed = 42;
    for (let i = 0; i < 5000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      samples.push(Math.floor((seed / 2 ** 31) * 253402300799999) - 62135596800000 * (i % 2));
    }
    for (const time of samples) {
      const date = new Date(time);
      expect(toIsoString(date)).toBe(date.toISOString());
    }
  });

  it('answers twice in a row for the same millisecond, and changes when the time does', () => {
    const a = new Date(Date.UTC(2026, 10, 28, 0, 0, 0, 1));
    expect(toIsoString(a)).toBe('2026-11-28T00:00:00.001Z');
    expect(toIsoString(new Date(a.getTime()))).toBe('2026-11-28T00:00:00.001Z');
    expect(toIsoString(new Date(a.getTime() + 1))).toBe('2026-11-28T00:00:00.002Z');
  });

  it('leaves years outside 0000-9999 to the engine', () => {
    const far = new Date(Date.UTC(10000, 0, 1));
    expect(toIsoString(far)).toBe('+010000-01-01T00:00:00.000Z');
    const past = new Date(Date.UTC(-1, 0, 1));
    expect(toIsoString(past)).toBe(past.toISOString());
  });
});
