import { ConfigError } from '@eventsource/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEventBus } from '../src/index.js';
import { REDIS_URL, broker, deleteKeys, newBus, order, uniquePrefix, waitFor } from './support/redis.js';

const MAX_AGE_MS = 300;

describe.skipIf(!broker)('trimming the stream by age (maxAgeMs)', () => {
  const prefixes: string[] = [];
  const buses: RedisEventBus[] = [];
  let raw: Redis;

  beforeAll(async () => {
    raw = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await raw.connect();
  });
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.shutdown(2000)));
    for (const prefix of prefixes) await deleteKeys(prefix);
    raw.disconnect();
  });

  /** Event ids of the entries still in the stream. */
  async function retainedEventIds(stream: string): Promise<Set<string>> {
    const entries = (await raw.call('XRANGE', [stream, '-', '+'])) as Array<[string, string[]]>;
    return new Set(entries.map(([, fields]) => fields[fields.indexOf('event-id') + 1]!));
  }

  it('later publishes drop entries older than maxAgeMs and keep the recent ones', async () => {
    const prefix = uniquePrefix('trim-age');
    prefixes.push(prefix);
    const bus = await newBus(prefix, { maxAgeMs: MAX_AGE_MS });
    buses.push(bus);
    expect(bus.config.maxLen).toBe(0);

    // MINID ~ only drops whole radix-tree nodes (up to 100 entries each), so enough old entries
    // fill several nodes and at most the last, partly old one can survive.
    const old = Array.from({ length: 500 }, (_, i) => order(i));
    for (let i = 0; i < old.length; i += 100) await bus.publish(old.slice(i, i + 100));
    const oldPublishedAt = Date.now();
    expect((await bus.getStreamInfo()).length).toBe(500);

    await new Promise((resolve) => setTimeout(resolve, MAX_AGE_MS + 200 - (Date.now() - oldPublishedAt)));
    const recent = Array.from({ length: 20 }, (_, i) => order(1000 + i));
    for (const event of recent) await bus.publish([event]);

    const retained = await retainedEventIds(bus.config.keys.stream);
    const oldRetained = old.filter((event) => retained.has(event.eventId)).length;
    expect(recent.every((event) => retained.has(event.eventId))).toBe(true);
    expect(oldRetained).toBeLessThanOrEqual(100);
    expect((await bus.getStreamInfo()).length).toBe(retained.size);
    expect(retained.size).toBeLessThan(old.length);
  });

  it('a group created after trimming reads the recent entries, not the trimmed ones', async () => {
    const prefix = uniquePrefix('trim-age-consume');
    prefixes.push(prefix);
    const publisher = await newBus(prefix, { maxAgeMs: MAX_AGE_MS });
    buses.push(publisher);
    const old = Array.from({ length: 300 }, (_, i) => order(i));
    for (let i = 0; i < old.length; i += 100) await publisher.publish(old.slice(i, i + 100));
    await new Promise((resolve) => setTimeout(resolve, MAX_AGE_MS + 200));
    const recent = Array.from({ length: 5 }, (_, i) => order(1000 + i));
    for (const event of recent) await publisher.publish([event]);

    const consumer = await newBus(prefix, { consumerGroup: 'late-group', maxAgeMs: MAX_AGE_MS, startFrom: 'earliest' });
    buses.push(consumer);
    const seen = new Set<string>();
    consumer.subscribeToAllEvents((event) => void seen.add(event.eventId));
    consumer.startConsumingInBackground();
    const retained = await retainedEventIds(publisher.config.keys.stream);
    await waitFor('the late group to read every retained entry', () => seen.size >= retained.size);

    expect(recent.every((event) => seen.has(event.eventId))).toBe(true);
    expect(old.filter((event) => seen.has(event.eventId)).length).toBeLessThanOrEqual(100);
    expect(seen.size).toBe(retained.size);
  });

  it('trimming by both length and age is a ConfigError naming maxAgeMs', () => {
    expect(() => new RedisEventBus({ maxLen: 1000, maxAgeMs: 60_000 })).toThrow(ConfigError);
    expect(() => new RedisEventBus({ maxLen: 1000, maxAgeMs: 60_000 })).toThrow(/maxAgeMs.*not both/);
    expect(new RedisEventBus({ maxLen: 0, maxAgeMs: 60_000 }).config).toMatchObject({ maxLen: 0, maxAgeMs: 60_000 });
  });
});
