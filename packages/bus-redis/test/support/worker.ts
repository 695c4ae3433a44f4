/**
 * A consumer process for the multi-process tests: joins the group, records every handling in a
 * Redis hash (before the entry is acknowledged), and reports its stats when told to stop.
 * argv: redisUrl streamPrefix consumerName [settings as JSON]
 * settings: `killOn` (an event `n` that makes the process SIGKILL itself when it starts handling
 * it, before recording it), `options` (bus options over the defaults below).
 */
import { silentLogger } from '@eventsource/core';
import { Redis } from 'ioredis';
import { RedisEventBus, type RedisEventBusOptions } from '../../src/index.js';
import { OrderPlaced, registry } from './redis.js';

interface WorkerSettings {
  readonly killOn?: number;
  readonly options?: RedisEventBusOptions;
}

const [url, prefix, name, json] = process.argv.slice(2) as [string, string, string, string | undefined];
const settings = (json === undefined ? {} : JSON.parse(json)) as WorkerSettings;
const recorder = new Redis(url, { enableAutoPipelining: true });
const bus = new RedisEventBus({
  redisUrl: url,
  streamPrefix: prefix,
  consumerGroup: 'workers',
  consumerName: name,
  registry,
  logger: process.env.BUS_DEBUG ? { debug() {}, info: (m: string, f?: object) => console.log(`[${name}] info`, m, JSON.stringify(f ?? {})), warn: (m: string, f?: object) => console.log(`[${name}] warn`, m, JSON.stringify(f ?? {})), error: (m: string, f?: object) => console.log(`[${name}] error`, m, JSON.stringify(f ?? {})) } : silentLogger,
  batchSize: 50,
  maxInFlight: 10,
  blockMs: 500,
  reclaimIdleMs: 1000,
  ...settings.options,
});
bus.subscribe(OrderPlaced, async (event) => {
  if (event.n === settings.killOn) process.kill(process.pid, 'SIGKILL');
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
