import { uniqueName } from '@eventsource/conformance/testkit';
import { EventRegistry, defineEvent, fields, silentLogger } from '@eventsource/core';
import { requireBroker } from '@eventsource/test-brokers';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisEventBus, type RedisEventBusOptions } from '../../src/index.js';

export { waitFor } from '@eventsource/conformance/testkit';

/** The shared Redis: REDIS_URL, else a container; none means a loud skip, and under CI=true a failure. */
export const broker = await requireBroker('redis');
export const REDIS_URL = broker?.url ?? 'redis://127.0.0.1:6379';

export const registry = new EventRegistry();

export const OrderPlaced = defineEvent('RedisTestOrderPlaced', {
  aggregateType: 'Order',
  payload: fields<{ n: number; note?: string }>(),
  registry,
});
export type OrderPlaced = InstanceType<typeof OrderPlaced>;

export const OtherTeamEvent = defineEvent('RedisTestOtherTeamEvent', {
  aggregateType: 'Other',
  payload: fields<{ n: number }>(),
  registry,
});

export function order(n: number, note?: string): OrderPlaced {
  return new OrderPlaced({ aggregateId: `order-${n}`, aggregateVersion: 1, n, ...(note === undefined ? {} : { note }) });
}

/** `estest:<label>:<hex>`: Redis keys are colon-separated. */
export function uniquePrefix(label: string): string {
  return uniqueName(label, ':');
}

/** Fast timings so tests about retries and reclaim finish in seconds. */
export function busOptions(prefix: string, extra: RedisEventBusOptions = {}): RedisEventBusOptions {
  return {
    redisUrl: REDIS_URL,
    streamPrefix: prefix,
    consumerGroup: 'g1',
    registry,
    logger: process.env.BUS_DEBUG ? consoleDebugLogger : silentLogger,
    blockMs: 200,
    retryBaseDelayMs: 50,
    retryMaxDelayMs: 200,
    retryPollMs: 50,
    ...extra,
  };
}

export async function newBus(prefix: string, extra: RedisEventBusOptions = {}): Promise<RedisEventBus> {
  const bus = new RedisEventBus(busOptions(prefix, extra));
  await bus.connect();
  return bus;
}

/** Deletes every key under the prefix. */
export async function deleteKeys(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

const consoleDebugLogger = {
  debug: (m: string, f?: object) => console.log('[debug]', m, f ?? ''),
  info: (m: string, f?: object) => console.log('[info]', m, f ?? ''),
  warn: (m: string, f?: object) => console.log('[warn]', m, f ?? ''),
  error: (m: string, f?: object) => console.log('[error]', m, f ?? ''),
};

/**
 * Registers beforeAll/afterAll for a describe block: a raw client for assertions, and buses and
 * key prefixes that are shut down and deleted afterwards.
 */
export function redisTestScope(): {
  readonly raw: () => Redis;
  prefix(label: string): string;
  bus(prefix: string, extra?: RedisEventBusOptions): Promise<RedisEventBus>;
  track(bus: RedisEventBus): RedisEventBus;
} {
  const prefixes: string[] = [];
  const buses: RedisEventBus[] = [];
  let raw: Redis | undefined;
  beforeAll(async () => {
    raw = new Redis(REDIS_URL, { lazyConnect: true });
    await raw.connect();
  });
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.shutdown(2000)));
    for (const prefix of prefixes) await deleteKeys(prefix);
    await raw?.quit();
  });
  return {
    raw: () => raw!,
    prefix(label) {
      const p = uniquePrefix(label);
      prefixes.push(p);
      return p;
    },
    async bus(p, extra = {}) {
      const b = await newBus(p, extra);
      buses.push(b);
      return b;
    },
    track(bus) {
      buses.push(bus);
      return bus;
    },
  };
}
