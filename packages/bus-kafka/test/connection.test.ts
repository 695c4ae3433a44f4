import { describe, expect, it } from 'vitest';
import { ConnectionTracker } from '../src/connection.js';

describe('ConnectionTracker', () => {
  it('an "all brokers down" error as the client emits it (code -1, the text only) starts an outage; a good probe ends it', () => {
    const tracker = new ConnectionTracker(async () => undefined);
    try {
      tracker.onError(Object.assign(new Error('all broker connections are down'), { code: -1 }));
      const down = tracker.state();
      expect(down.connected).toBe(false);
      expect(down.lastError).toBe('all broker connections are down');
      expect(down.since).toMatch(/^\d{4}-\d\d-\d\dT/);
      tracker.restored();
      expect(tracker.state()).toEqual({ connected: true });
      expect(tracker.reconnections).toBe(1);
    } finally {
      tracker.close();
    }
  });

  it('other client errors do not count as an outage', () => {
    const tracker = new ConnectionTracker(async () => undefined);
    tracker.onError(Object.assign(new Error('unknown topic or partition'), { code: 3 }));
    tracker.onError('not an error object');
    expect(tracker.state()).toEqual({ connected: true });
    tracker.close();
  });
});
