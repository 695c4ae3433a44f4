import { randomUUID } from 'node:crypto';
import type { Logger } from '@eventsource/core';
import { errorMessage, redact, type DeadLetterWrite, type RetryWrite, type SuccessorWrite } from '@eventsource/core/transport';
import type { Channel } from 'amqplib';
import type { ResolvedRabbitMQConfig } from './config.js';
import type { RabbitMQConnection } from './connection.js';
import type { ConsumerSession, RabbitMQDelivery } from './consumer.js';
import { messageProperties, type ConfirmPublisher } from './publisher.js';
import { RETRY_QUEUE_REDECLARE_MS, declareRetryQueue, retryBucketMs } from './topology.js';

/**
 * Settling on RabbitMQ: acks go to the channel that delivered the message (a delivery tag means
 * nothing on another channel), retry copies to the group's delay queue for their bucket, dead
 * letters to the group's DLQ. Both successor writes are confirmed by the broker before the kit
 * acknowledges the original; they are not atomic with it, so a crash in between handles the
 * message once more (at-least-once).
 */
export class Settlement {
  readonly #config: ResolvedRabbitMQConfig;
  readonly #connection: RabbitMQConnection;
  readonly #publisher: ConfirmPublisher;
  readonly #logger: Logger;
  /** Delay queue name → when it was last declared. */
  readonly #declared = new Map<number, number>();
  #declareChannel: Promise<Channel> | undefined;

  constructor(config: ResolvedRabbitMQConfig, connection: RabbitMQConnection, publisher: ConfirmPublisher, logger: Logger) {
    this.#config = config;
    this.#connection = connection;
    this.#publisher = publisher;
    this.#logger = logger;
    // A new connection may be to a broker that lost the queues: declare them again before use.
    connection.onReconnect(() => this.#declared.clear());
  }

  /**
   * Acknowledges per channel. Where the batch covers every unsettled tag of the channel up to some
   * tag, one `multiple` ack settles that run; the rest are acked one by one. Messages of a closed
   * channel are skipped: the broker requeued them when it closed.
   */
  ack(deliveries: readonly RabbitMQDelivery[]): Promise<void> {
    const bySession = new Map<ConsumerSession, Set<number>>();
    for (const delivery of deliveries) {
      if (delivery.session.closed) continue;
      let tags = bySession.get(delivery.session);
      if (!tags) bySession.set(delivery.session, (tags = new Set()));
      tags.add(delivery.message.fields.deliveryTag);
    }
    for (const [session, tags] of bySession) {
      try {
        ackOn(session, tags);
      } catch (error) {
        // The channel closed under us: the broker requeues whatever was not acknowledged.
        this.#logger.debug('Could not acknowledge on a closing channel; the broker redelivers those messages', { error: errorMessage(error) });
      }
    }
    return Promise.resolve();
  }

  handBack(deliveries: readonly RabbitMQDelivery[]): Promise<void> {
    for (const delivery of deliveries) {
      const { session, message } = delivery;
      if (session.closed || !session.unsettled.delete(message.fields.deliveryTag)) continue;
      try {
        session.channel.nack(message, false, true);
      } catch {
        // A closing channel requeues it anyway.
      }
    }
    return Promise.resolve();
  }

  async writeRetry(delivery: RabbitMQDelivery, retry: RetryWrite): Promise<SuccessorWrite> {
    // The broker took the original back when the channel closed and hands it out again: a copy
    // now would make two.
    if (delivery.claim.lost) return 'already-settled';
    const bucket = retryBucketMs(retry.delayMs);
    const queue = await this.#retryQueue(bucket);
    try {
      await this.#publisher.send([
        {
          exchange: '',
          routingKey: queue,
          content: delivery.message.content,
          options: { ...messageProperties(retry.headers), mandatory: true, correlationId: randomUUID() },
        },
      ]);
    } catch (error) {
      this.#declared.delete(bucket);
      throw error;
    }
    return 'written';
  }

  async writeDeadLetter(delivery: RabbitMQDelivery, letter: DeadLetterWrite): Promise<SuccessorWrite> {
    if (!this.#config.broker.enableDlq) {
      throw new Error('writeDeadLetter called with enableDlq: false; the dead-letter queue is not declared.');
    }
    if (delivery.claim.lost) return 'already-settled';
    const properties = messageProperties(letter.headers);
    await this.#publisher.send([
      {
        exchange: '',
        routingKey: this.#config.names.dlq,
        content: delivery.message.content,
        // The DLQ id replayDlqMessage() takes: unique per dead letter, even for one event dead-lettered twice.
        options: { ...properties, messageId: randomUUID(), mandatory: true, correlationId: randomUUID() },
      },
    ]);
    return 'written';
  }

  async #retryQueue(bucket: number): Promise<string> {
    const declaredAt = this.#declared.get(bucket);
    if (declaredAt !== undefined && Date.now() - declaredAt < RETRY_QUEUE_REDECLARE_MS) return `${this.#config.names.retryPrefix}${bucket}`;
    const channel = await this.#channel();
    try {
      const name = await declareRetryQueue(channel, this.#config, bucket);
      this.#declared.set(bucket, Date.now());
      return name;
    } catch (error) {
      throw new Error(`Cannot declare the delay queue for a ${bucket} ms retry: ${redact(errorMessage(error))}`, { cause: error });
    }
  }

  #channel(): Promise<Channel> {
    if (this.#declareChannel) return this.#declareChannel;
    const opening = this.#connection.channel().then((channel) => {
      channel.on('error', () => undefined);
      channel.once('close', () => {
        if (this.#declareChannel === opening) this.#declareChannel = undefined;
      });
      return channel;
    });
    this.#declareChannel = opening;
    opening.catch(() => {
      if (this.#declareChannel === opening) this.#declareChannel = undefined;
    });
    return opening;
  }

  async close(): Promise<void> {
    const channel = this.#declareChannel;
    this.#declareChannel = undefined;
    if (channel) await channel.then((c) => c.close()).catch(() => undefined);
  }
}

/** Acks `tags` on the session's channel, using one `multiple` ack for the leading run. */
export function ackOn(session: ConsumerSession, tags: ReadonlySet<number>): void {
  let runEnd: number | undefined;
  for (const tag of session.unsettled) {
    if (!tags.has(tag)) break;
    runEnd = tag;
  }
  const channel = session.channel;
  let acked = 0;
  if (runEnd !== undefined) {
    for (const tag of session.unsettled) {
      if (tag > runEnd) break;
      session.unsettled.delete(tag);
      acked += 1;
    }
    channel.ack(fakeMessage(runEnd), acked > 1);
  }
  for (const tag of tags) {
    if (runEnd !== undefined && tag <= runEnd) continue;
    if (!session.unsettled.delete(tag)) continue;
    channel.ack(fakeMessage(tag), false);
  }
}

/** amqplib's ack reads only the delivery tag of the message it is given. */
function fakeMessage(deliveryTag: number): Parameters<Channel['ack']>[0] {
  return { fields: { deliveryTag } } as Parameters<Channel['ack']>[0];
}
