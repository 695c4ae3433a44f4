/**
 * A consumer process for the multi-process test: joins the group, appends every handled event's
 * number to a file before the record can be committed (a synchronous write, so a SIGKILL cannot
 * lose it), reports its partitions while it runs and its stats when told to stop.
 * argv: bootstrapServers topicPrefix consumerName handledFile
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { silentLogger } from '@eventsource/core';
import { KafkaEventBus } from '../../src/index.js';
import { OrderPlaced, registry } from './events.js';

const [servers, prefix, name, file] = process.argv.slice(2) as [string, string, string, string];
const handled = openSync(file, 'a');
const bus = new KafkaEventBus({
  bootstrapServers: servers,
  topicPrefix: prefix,
  consumerGroup: 'workers',
  consumerName: name,
  registry,
  logger: silentLogger,
  partitions: 6,
  heartbeatIntervalMs: 500,
  sessionTimeoutMs: 6000,
  batchSize: 100,
  maxInFlight: 10,
});
bus.subscribe(OrderPlaced, async (event) => {
  writeSync(handled, `${event.n}\n`);
  await new Promise((resolve) => setTimeout(resolve, 1));
});
await bus.connect();
bus.startConsumingInBackground();
while (!bus.health().consuming) await new Promise((resolve) => setTimeout(resolve, 10));
process.send?.({ type: 'ready' });
const report = setInterval(() => process.send?.({ type: 'partitions', assigned: bus.getStats().assignedPartitions }), 100);
process.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return;
  clearInterval(report);
  void bus.shutdown(10_000).then(() => {
    closeSync(handled);
    process.send?.({ type: 'stats', stats: bus.getStats() });
    process.disconnect?.();
  });
});
