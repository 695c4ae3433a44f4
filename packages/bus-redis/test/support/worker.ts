/**
 * A consumer process for the multi-process test: joins the group, records every handling in a
 * Redis hash (before the entry is acknowledged), and reports its stats when told to stop.
 * argv: redisUrl streamPrefix consumerName
 */
import { silentLogger } from '@eventsource/core';
import { Redis } from 'ioredis';
import { RedisEventBus } from '../../src/index.js';
import { OrderPlaced, registry } from './redis.js';

const [url, prefix, name] = process.argv.slice(2) as [string, string, string];
const recorder = new Redis(url, { enableAutoPipelining: true });
const bus = new RedisEventBus({
  redisUrl: url,
  streamPrefix: prefix,
  consumerGroup: 'workers',
  consumerName: name,
  registry,
  logger: silentLogger,
  batchSize: 50,
  maxInFlight: 10,
  blockMs: 500,
  reclaimIdleMs: 1000,
});
bus.subscribe(OrderPlaced, async (event) => {
  await recorder.hincrby(`${prefix}:handled`, String(event.n), 1);
  await new Promise((resolve) => setTimeout(resolve, 1));
});
await bus.connect();
bus.startConsumingInBackground();
while (!bus.health().consuming) await new Promise((resolve) => setTimeout(resolve, 10));
process.send?.({ type: 'ready' });
process.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return;
  void bus.shutdown(10_000).then(async () => {
    process.send?.({ type: 'stats', stats: bus.getStats() });
    await recorder.quit();
    process.disconnect?.();
  });
});
