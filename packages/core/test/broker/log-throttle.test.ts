import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RecordingLogger } from '@eventsource/testkit';
import { LogThrottle } from '../../src/transport.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('LogThrottle', () => {
  it('logs the first warning of a kind at once and the rest of its window as one line', () => {
    const logger = new RecordingLogger();
    const throttle = new LogThrottle(logger, 5000);
    for (let i = 1; i <= 1000; i++) throttle.warn('retry:OrderPlaced:TypeError', 'Handler failed; retry scheduled', { id: `${i}-0` });
    expect(logger.entries).toEqual([{ level: 'warn', message: 'Handler failed; retry scheduled', fields: { id: '1-0' } }]);
    vi.advanceTimersByTime(5000);
    expect(logger.entries).toHaveLength(2);
    expect(logger.entries[1]).toEqual({
      level: 'warn',
      message: 'Handler failed; retry scheduled (and 999 more like it in the last 5 s)',
      fields: { id: '1000-0', suppressed: 999 },
    });
  });

  it('keeps kinds apart, and logs nothing more for a kind that happened once', () => {
    const logger = new RecordingLogger();
    const throttle = new LogThrottle(logger, 1000);
    throttle.warn('a', 'A failed', {});
    throttle.warn('b', 'B failed', {});
    throttle.warn('b', 'B failed', {});
    vi.advanceTimersByTime(1000);
    expect(logger.entries.map((e) => e.message)).toEqual(['A failed', 'B failed', 'B failed (and 1 more like it in the last 1 s)']);
  });

  it('starts a new window after one closes', () => {
    const logger = new RecordingLogger();
    const throttle = new LogThrottle(logger, 1000);
    throttle.warn('a', 'A failed', {});
    vi.advanceTimersByTime(1000);
    throttle.warn('a', 'A failed', {});
    expect(logger.entries.map((e) => e.message)).toEqual(['A failed', 'A failed']);
  });

  it('flush() reports every open window at once (at shutdown) and clears its timers', () => {
    const logger = new RecordingLogger();
    const throttle = new LogThrottle(logger);
    throttle.warn('a', 'A failed', { n: 1 });
    throttle.warn('a', 'A failed', { n: 2 });
    throttle.flush();
    expect(logger.entries.map((e) => e.message)).toEqual(['A failed', 'A failed (and 1 more like it in the last 5 s)']);
    expect(vi.getTimerCount()).toBe(0);
    throttle.flush();
    expect(logger.entries).toHaveLength(2);
  });
});
