import { ConfigError, HEADER, type EventRegistry } from '@eventsource/core';
import type { Channel } from 'amqplib';
import type { ResolvedRabbitMQConfig, RoutingKeyInput } from './config.js';

/**
 * Everything the bus declares, and the naming and routing rules behind it.
 *
 *   publish ─► exchange `events` (topic) ──binding──► queue `events.{group}` ◄── consumers of the group
 *                                                       ▲            │ handler failed
 *                            TTL expired, dead-lettered │            ▼
 *                            to this queue only         └── `events.{group}.retry.{ms}` (one per delay bucket)
 *                                                                    │ retries exhausted, bad input
 *                                                                    ▼
 *                                                        `events.{group}.dlq`
 *
 * Every declaration is idempotent (same name, same arguments) and is made again after each
 * reconnect, so a broker that lost its non-replicated state, or an operator who deleted a queue,
 * gets the topology back.
 */

/**
 * Delay buckets. A queue-level TTL expires messages strictly in arrival order, and only at the
 * head: a queue holding messages with different TTLs would make a short retry wait behind a long
 * one. So each delay queue holds one TTL only, and a requested delay is rounded up to the next
 * bucket: 8 buckets per doubling, so a delay grows by at most 12.5% (the retry policy's jitter
 * already spreads delays by ±10%). From 1 ms to the 60 s default cap that is at most ~130 queues
 * per group, and only the ones in use exist: an idle delay queue expires.
 */
export function retryBucketMs(delayMs: number): number {
  const delay = Math.max(1, Math.ceil(delayMs));
  if (delay <= 8) return delay;
  const step = 2 ** (Math.floor(Math.log2(delay)) - 3);
  return Math.ceil(delay / step) * step;
}

/** How long an unused delay queue lives after its last declaration. Publishing does not count as use, so the bus re-declares well within it. */
export const RETRY_QUEUE_IDLE_MS = 10 * 60_000;
/** The bus re-declares a delay queue before publishing to it once its last declaration is this old. */
export const RETRY_QUEUE_REDECLARE_MS = RETRY_QUEUE_IDLE_MS / 4;

export function retryQueueName(config: ResolvedRabbitMQConfig, bucketMs: number): string {
  return `${config.names.retryPrefix}${bucketMs}`;
}

/** The routing key of a published envelope. */
export function routingKeyOf(config: ResolvedRabbitMQConfig, headers: Readonly<Record<string, string>>): string {
  const eventType = headers[HEADER.eventType] ?? '';
  const aggregateType = headers[HEADER.aggregateType] ?? '';
  if (config.routingKey) {
    const input: RoutingKeyInput = { eventType, aggregateType, aggregateId: headers[HEADER.aggregateId] ?? '', headers };
    const key = config.routingKey(input);
    if (typeof key !== 'string') throw new ConfigError('routingKey', `must return a string; returned ${String(key)} for ${eventType}.`);
    return key;
  }
  if (config.exchangeType === 'fanout') return '';
  return `${aggregateType}.${eventType}`;
}

/** The keys the group's queue is bound with. */
export function bindingKeysOf(config: ResolvedRabbitMQConfig, registry: EventRegistry): string[] {
  if (config.bindingKeys) return [...config.bindingKeys];
  switch (config.exchangeType) {
    case 'fanout':
      return [''];
    case 'topic':
      // Every group gets every event; a type nobody here handles is acknowledged and counted.
      return ['#'];
    case 'direct': {
      if (config.routingKey) {
        throw new ConfigError(
          'bindingKeys',
          'a direct exchange with a custom routingKey needs the keys to bind with: pass bindingKeys, e.g. ["orders"].',
        );
      }
      const keys: string[] = [];
      for (const name of registry.names()) {
        const aggregateType = registry.tryGet(name)?.aggregateType;
        if (aggregateType !== undefined) keys.push(`${aggregateType}.${name}`);
      }
      return keys;
    }
  }
}

export function groupQueueArguments(config: ResolvedRabbitMQConfig): Record<string, unknown> {
  return { 'x-queue-type': config.queueType };
}

/**
 * The DLQ is a classic queue whatever queueType says: listing reads messages and hands them back,
 * and only a classic queue puts handed-back messages back at their old positions (a quorum queue
 * appends them, so every partial listing would rotate the DLQ).
 */
export function dlqArguments(config: ResolvedRabbitMQConfig): Record<string, unknown> {
  const args: Record<string, unknown> = { 'x-queue-type': 'classic' };
  if (config.dlqMessageTtlMs > 0) args['x-message-ttl'] = Math.round(config.dlqMessageTtlMs);
  if (config.dlqMaxLength > 0) args['x-max-length'] = config.dlqMaxLength;
  return args;
}

export function retryQueueArguments(config: ResolvedRabbitMQConfig, bucketMs: number): Record<string, unknown> {
  const args: Record<string, unknown> = {
    'x-queue-type': config.queueType,
    'x-message-ttl': bucketMs,
    // The default exchange routes by queue name: the copy goes back to this group's queue only.
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': config.names.queue,
    'x-expires': bucketMs + RETRY_QUEUE_IDLE_MS,
  };
  if (config.queueType === 'quorum') {
    // The broker keeps an expired copy until the group's queue has confirmed it: no retry is lost
    // to a broker crash between the two queues.
    args['x-dead-letter-strategy'] = 'at-least-once';
    args['x-overflow'] = 'reject-publish';
  }
  return args;
}

/** Declares the exchange (publishers need nothing else). */
export async function declareExchange(channel: Channel, config: ResolvedRabbitMQConfig): Promise<void> {
  await withExplanation(config.names.exchange, 'exchange', () =>
    channel.assertExchange(config.names.exchange, config.exchangeType, { durable: true }),
  );
}

/** Declares the exchange, the group's queue with its bindings, and its dead-letter queue. */
export async function declareGroup(channel: Channel, config: ResolvedRabbitMQConfig, bindingKeys: readonly string[]): Promise<void> {
  await declareExchange(channel, config);
  const { queue, dlq, exchange } = config.names;
  await withExplanation(queue, 'queue', () => channel.assertQueue(queue, { durable: true, arguments: groupQueueArguments(config) }));
  for (const key of bindingKeys) await channel.bindQueue(queue, exchange, key);
  if (config.broker.enableDlq) {
    await withExplanation(dlq, 'queue', () => channel.assertQueue(dlq, { durable: true, arguments: dlqArguments(config) }));
  }
}

/** Declares a delay queue; the caller caches it for RETRY_QUEUE_REDECLARE_MS. */
export async function declareRetryQueue(channel: Channel, config: ResolvedRabbitMQConfig, bucketMs: number): Promise<string> {
  const name = retryQueueName(config, bucketMs);
  await withExplanation(name, 'queue', () => channel.assertQueue(name, { durable: true, arguments: retryQueueArguments(config, bucketMs) }));
  return name;
}

/** A 406 PRECONDITION_FAILED on declare means the object exists with other settings: say which and how to fix it. */
async function withExplanation<T>(name: string, kind: 'queue' | 'exchange', declare: () => Promise<T>): Promise<T> {
  try {
    return await declare();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 406) {
      throw new Error(
        `RabbitMQ ${kind} "${name}" already exists with different settings (${(error as Error).message}). ` +
          `Use the settings it was created with (exchangeType, queueType, dlqMessageTtlMs, dlqMaxLength), or delete the ${kind} ` +
          `(rabbitmqctl delete_queue / the management UI) so the bus can declare it again.`,
        { cause: error },
      );
    }
    throw error;
  }
}
