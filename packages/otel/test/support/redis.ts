import { uniqueName } from '@eventsource/conformance/testkit';
import { requireBroker } from '@eventsource/test-brokers';
import { Redis } from 'ioredis';

/** The shared Redis: REDIS_URL, else a container; none means a loud skip, and under CI=true a failure. */
export const broker = await requireBroker('redis');
export const REDIS_URL = broker?.url ?? 'redis://127.0.0.1:6379';

export { waitFor } from '@eventsource/conformance/testkit';

export function uniquePrefix(label: string): string {
  return uniqueName(`otel-${label}`, ':');
}

/** Deletes every key under the prefix. */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
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
