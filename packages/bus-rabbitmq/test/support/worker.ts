/**
 * A consumer process for the multi-process test: joins the group, records every handling in its
 * own file (written synchronously, before the message is acknowledged, so a SIGKILL cannot lose a
 * record of a settled message), and reports its stats when told to stop.
 * argv: amqpUrl exchangeName consumerName recordFile
 */
import { appendFileSync } from 'node:fs';
import { silentLogger } from '@eventsource/core';
import { RabbitMQEventBus } from '../../src/index.js';
import { OrderPlaced, registry } from './rabbitmq.js';

const [url, exchangeName, name, recordFile] = process.argv.slice(2) as [string, string, string, string];
const bus = new RabbitMQEventBus({
  rabbitmqUrl: url,
  exchangeName,
  consumerGroup: 'workers',
  consumerName: name,
  registry,
  logger: silentLogger,
  prefetchCount: 50,
  maxInFlight: 10,
});
bus.subscribe(OrderPlaced, async (event) => {
  appendFileSync(recordFile, `${event.n}\n`);
  await new Promise((resolve) => setTimeout(resolve, 1));
});
await bus.connect();
bus.startConsumingInBackground();
while (!bus.health().consuming) await new Promise((resolve) => setTimeout(resolve, 10));
process.send?.({ type: 'ready' });
process.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return;
  void bus.shutdown(10_000).then(() => {
    process.send?.({ type: 'stats', stats: bus.getStats() });
    process.disconnect?.();
  });
});
