import Kafka from '@confluentinc/kafka-javascript';
import { uniqueName, waitFor as pollUntil } from '@eventsource/conformance/testkit';
import { consoleLogger, silentLogger } from '@eventsource/core';
import { requireBroker } from '@eventsource/test-brokers';
import type { KafkaEventBusOptions } from '../../src/index.js';
import { registry } from './events.js';

export { OrderPlaced, order, registry } from './events.js';

/** The shared Kafka: KAFKA_BROKERS, else a container; none means a loud skip, and under CI=true a failure. */
export const broker = await requireBroker('kafka');
export const KAFKA_BROKERS = broker?.url ?? '127.0.0.1:9092';

/** Kafka topic names: letters, digits, `.`, `_`, `-`. */
export function uniquePrefix(label: string): string {
  return uniqueName(label, '.');
}

/** Fast group timings, so joins and rebalances take about a second instead of several. */
export function busOptions(prefix: string, extra: KafkaEventBusOptions = {}): KafkaEventBusOptions {
  return {
    bootstrapServers: KAFKA_BROKERS,
    topicPrefix: prefix,
    consumerGroup: 'g1',
    registry,
    logger: process.env.BUS_DEBUG ? consoleLogger : silentLogger,
    heartbeatIntervalMs: 500,
    sessionTimeoutMs: 6000,
    lingerMs: 1,
    retryBaseDelayMs: 50,
    retryMaxDelayMs: 400,
    partitions: 3,
    ...extra,
  };
}

export function admin(bootstrap = KAFKA_BROKERS): Kafka.IAdminClient {
  return Kafka.AdminClient.create({ 'bootstrap.servers': bootstrap, 'allow.auto.create.topics': false } as never);
}

/** Deletes every topic whose name starts with `prefix` (on the shared broker unless `bootstrap` names another). */
export async function deleteTopics(prefix: string, bootstrap = KAFKA_BROKERS): Promise<void> {
  const client = admin(bootstrap);
  try {
    const names = await new Promise<string[]>((resolve, reject) => client.listTopics({ timeout: 5000 }, (e, t) => (e ? reject(e) : resolve(t))));
    await Promise.all(
      names
        .filter((name) => name === prefix || name.startsWith(`${prefix}.`))
        .map((name) => new Promise<void>((resolve) => client.deleteTopic(name, 5000, () => resolve()))),
    );
  } finally {
    client.disconnect();
  }
}

/** A plain producer for raw records (malformed input, foreign producers). */
export async function rawProducer(): Promise<{ send(topic: string, key: string | null, value: Buffer | string | null, headers?: Record<string, string>): Promise<void>; close(): Promise<void> }> {
  const producer = new Kafka.Producer({ 'bootstrap.servers': KAFKA_BROKERS, dr_cb: true, 'linger.ms': 0, 'allow.auto.create.topics': false } as never);
  await new Promise<void>((resolve, reject) => producer.connect({}, (e) => (e ? reject(e) : resolve())));
  producer.setPollInBackground(true);
  producer.on('delivery-report', (error, report) => (report.opaque as (e: unknown) => void)(error));
  return {
    send(topic, key, value, headers = {}) {
      return new Promise<void>((resolve, reject) => {
        const body = value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(value);
        producer.produce(topic, null, body, key, Date.now(), (error: unknown) => (error ? reject(error) : resolve()), Object.entries(headers).map(([k, v]) => ({ [k]: v })));
      });
    },
    close: () => new Promise<void>((resolve) => producer.disconnect(() => resolve())),
  };
}

/** Polls `ready` every 50 ms until it holds; fails after `timeoutMs` (default 30 s: group joins are slow) saying what was awaited. */
export function waitFor(what: string, ready: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  return pollUntil(what, ready, timeoutMs, 50);
}
