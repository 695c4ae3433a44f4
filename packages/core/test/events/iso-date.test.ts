import { describe, expect, it } from 'vitest';
import { parseIsoTime, toIsoString } from '../../src/events/iso-date.js';

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

describe('parseIsoTime', () => {
  const engine = (text: string): number => new Date(text).getTime();

  it('gives the time new Date(text) gives for the form toISOString writes', () => {
    let seed = 7;
    for (let i = 0; i < 5000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const text = new Date(Math.floor((seed / 2 ** 31) * 253402300799999)).toISOString();
      expect(parseIsoTime(text)).toBe(engine(text));
    }
  });

  it('agrees with new Date(text) on out-of-range fields and other forms', () => {
    const texts = [
      '2024-02-30T00:00:00.000Z',
      '2023-02-29T00:00:00.000Z',
      '2024-04-31T00:00:00.000Z',
      '2024-01-32T00:00:00.000Z',
      '2024-00-01T00:00:00.000Z',
      '2024-13-01T00:00:00.000Z',
      '2024-01-01T24:00:00.000Z',
      '2024-01-01T24:00:00.001Z',
      '2024-01-01T23:60:00.000Z',
      '2024-01-01T23:59:60.000Z',
      '0000-01-01T00:00:00.000Z',
      '0099-12-31T23:59:59.999Z',
      '0999-06-15T12:00:00.000Z',
      '2024-1a-01T00:00:00.000Z',
      '2024-01-01T00:00:00.00aZ',
      '2024-01-01 00:00:00.000Z',
      '2024-01-01T00:00:00.000+',
      '2024-01-01T00:00:00Z',
      '2024-01-01T00:00:00.000+02:00',
      '2024-01-01',
      '+010000-01-01T00:00:00.000Z',
      'Mon, 01 Jan 2024 00:00:00 GMT',
      'not a date at all, 24 ch',
      '',
    ];
    for (const text of texts) expect(parseIsoTime(text), text).toBe(engine(text));
  });
});

describe('parseIsoTime, asked repeatedly', () => {
  it('answers the same text the same way twice in a row, and follows when the text changes', () => {
    expect(parseIsoTime('2026-11-28T00:00:00.001Z')).toBe(Date.UTC(2026, 10, 28, 0, 0, 0, 1));
    expect(parseIsoTime('2026-11-28T00:00:00.001Z')).toBe(Date.UTC(2026, 10, 28, 0, 0, 0, 1));
    expect(parseIsoTime('2026-11-28T00:00:00.002Z')).toBe(Date.UTC(2026, 10, 28, 0, 0, 0, 2));
    expect(parseIsoTime('not a date')).toBeNaN();
    expect(parseIsoTime('not a date')).toBeNaN();
    expect(parseIsoTime('2026-11-28T00:00:00.002Z')).toBe(Date.UTC(2026, 10, 28, 0, 0, 0, 2));
  });
});
