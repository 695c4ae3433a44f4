import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { EventRegistry, defineEvent, fields, silentLogger, type Logger } from '@eventsource/core';
import { requireBroker } from '@eventsource/test-brokers';
import { uniqueName } from '@eventsource/testkit';
import { connect, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll } from 'vitest';
import { RabbitMQEventBus, type RabbitMQEventBusOptions } from '../../src/index.js';

export { waitFor } from '@eventsource/testkit';

/** The shared RabbitMQ: AMQP_URL, else a container; none means a loud skip, and under CI=true a failure. */
export const broker = await requireBroker('rabbitmq');
export const AMQP_URL = broker?.url ?? 'amqp://guest:guest@127.0.0.1:5672';

export const registry = new EventRegistry();

export const OrderPlaced = defineEvent('RabbitTestOrderPlaced', {
  aggregateType: 'Order',
  payload: fields<{ n: number; note?: string }>(),
  registry,
});
export type OrderPlaced = InstanceType<typeof OrderPlaced>;

export const UserRegistered = defineEvent('RabbitTestUserRegistered', {
  aggregateType: 'User',
  payload: fields<{ n: number }>(),
  registry,
});

export function order(n: number, note?: string): OrderPlaced {
  return new OrderPlaced({ aggregateId: `order-${n}`, aggregateVersion: 1, n, ...(note === undefined ? {} : { note }) });
}

export function uniqueExchange(label: string): string {
  return uniqueName(label, '.');
}

const debugLogger: Logger = {
  debug: (m, f) => console.log('[debug]', m, f ?? ''),
  info: (m, f) => console.log('[info]', m, f ?? ''),
  warn: (m, f) => console.log('[warn]', m, f ?? ''),
  error: (m, f) => console.log('[error]', m, f ?? ''),
};

/** Fast timings so tests about retries and reconnects finish in seconds. */
export function busOptions(exchangeName: string, extra: RabbitMQEventBusOptions = {}): RabbitMQEventBusOptions {
  return {
    rabbitmqUrl: AMQP_URL,
    exchangeName,
    consumerGroup: 'g1',
    registry,
    logger: process.env.BUS_DEBUG ? debugLogger : silentLogger,
    retryBaseDelayMs: 50,
    retryMaxDelayMs: 200,
    reconnectBaseDelayMs: 50,
    reconnectMaxDelayMs: 500,
    handlerTimeoutMs: 30_000,
    ...extra,
  };
}

export async function newBus(exchangeName: string, extra: RabbitMQEventBusOptions = {}, url = AMQP_URL): Promise<RabbitMQEventBus> {
  const bus = new RabbitMQEventBus({ ...busOptions(exchangeName, extra), rabbitmqUrl: url });
  await bus.connect();
  return bus;
}

export async function rawConnection(url = AMQP_URL): Promise<ChannelModel> {
  return connect(url);
}

const run = promisify(execFile);

/** rabbitmqctl against the shared node (or `node`), stdout. */
export async function rabbitmqctl(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { stdout } = await run('rabbitmqctl', [...args], { env, timeout: 60_000 });
  return stdout;
}

/**
 * Deletes the exchange with the queues of `groups` (queue and DLQ). Delay queues expire by
 * themselves; sweepTestQueues() removes them at the end of a file, since listing queues takes
 * rabbitmqctl, which needs seconds to start.
 */
export async function deleteTopology(exchangeName: string, groups: Iterable<string> = ['g1'], url = AMQP_URL, open?: ChannelModel): Promise<void> {
  // An open connection saves a handshake (tens of ms, paid by every conformance test).
  const model = open ?? (await connect(url));
  try {
    const names = [...new Set(groups)].flatMap((group) => [`${exchangeName}.${group}`, `${exchangeName}.${group}.dlq`]);
    for (const queue of names) {
      const channel = await model.createChannel();
      channel.on('error', () => undefined);
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
    const channel = await model.createChannel();
    channel.on('error', () => undefined);
    await channel.deleteExchange(exchangeName).catch(() => undefined);
    await channel.close().catch(() => undefined);
  } finally {
    if (!open) await model.close().catch(() => undefined);
  }
}

/** Deletes every queue left by these tests (names start with `estest.`), delay queues included. */
export async function sweepTestQueues(url = AMQP_URL): Promise<void> {
  const listing = await rabbitmqctl(['list_queues', '-q', '--no-table-headers', 'name']).catch(() => '');
  const queues = listing.split('\n').map((line) => line.trim()).filter((name) => name.startsWith('estest.'));
  if (queues.length === 0) return;
  const model = await connect(url);
  try {
    for (const queue of queues) {
      const channel = await model.createChannel();
      channel.on('error', () => undefined);
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
  } finally {
    await model.close().catch(() => undefined);
  }
}

/** beforeAll/afterAll for a describe block: buses and exchanges that are shut down and deleted afterwards. */
export function rabbitTestScope(): {
  exchange(label: string, groups?: readonly string[]): string;
  bus(exchange: string, extra?: RabbitMQEventBusOptions): Promise<RabbitMQEventBus>;
  track(bus: RabbitMQEventBus): RabbitMQEventBus;
  readonly raw: () => ChannelModel;
} {
  const exchanges = new Map<string, readonly string[]>();
  const buses: RabbitMQEventBus[] = [];
  let raw: ChannelModel | undefined;
  beforeAll(async () => {
    raw = await connect(AMQP_URL);
  });
  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.shutdown(2000)));
    await raw?.close().catch(() => undefined);
    for (const [exchange, groups] of exchanges) await deleteTopology(exchange, groups);
    await sweepTestQueues();
  });
  return {
    exchange(label, groups = ['g1']) {
      const name = uniqueExchange(label);
      exchanges.set(name, groups);
      return name;
    },
    async bus(exchange, extra = {}) {
      const bus = await newBus(exchange, extra);
      buses.push(bus);
      return bus;
    },
    track(bus) {
      buses.push(bus);
      return bus;
    },
    raw: () => raw!,
  };
}
