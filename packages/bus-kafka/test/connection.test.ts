import { describe, expect, it } from 'vitest';
import { resolveKafkaConfig } from '../src/config.js';
import { ConnectionTracker, adminProperties, consumerProperties, producerProperties } from '../src/connection.js';

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

describe('client properties', () => {
  it("librdkafka's broker reconnects follow the bus's reconnect backoff, so a green health() is not followed by a 5 s wait to publish", () => {
    const config = resolveKafkaConfig({}, { consumerGroup: 'billing', consumerName: 'billing-1', reconnectBaseDelayMs: 50, reconnectMaxDelayMs: 400 });
    for (const properties of [producerProperties(config), consumerProperties(config, () => undefined), adminProperties(config)]) {
      expect(properties).toMatchObject({ 'reconnect.backoff.ms': 50, 'reconnect.backoff.max.ms': 400 });
    }
  });

  it('an explicit librdkafka setting still wins', () => {
    const config = resolveKafkaConfig(
      { librdkafka: { 'reconnect.backoff.max.ms': 10_000 } },
      { consumerGroup: 'billing', consumerName: 'billing-1', reconnectBaseDelayMs: 100, reconnectMaxDelayMs: 5000 },
    );
    expect(producerProperties(config)['reconnect.backoff.max.ms']).toBe(10_000);
  });
});
