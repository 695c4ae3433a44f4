import { stripFailureHeaders, type DeadLetterStore, type StoredDeadLetter } from '@eventsource/core/transport';
import type { Channel, GetMessage } from 'amqplib';
import type { ResolvedRabbitMQConfig } from './config.js';
import type { RabbitMQConnection } from './connection.js';
import { stringHeaders } from './consumer.js';
import { messageProperties, type ConfirmPublisher, type OutgoingMessage } from './publisher.js';

/** Messages replayed per confirmed batch by replayAll(). */
const REPLAY_BATCH = 500;

/**
 * The group's dead-letter queue. A queue has no "peek", so reading takes messages without
 * acknowledging them and, once done, hands them all back in one `nack(multiple, requeue)`:
 * RabbitMQ puts them back at their positions. Nothing is requeued one by one while reading goes
 * on (which is how get-then-requeue listings return the same head message again and again), so a
 * listing never meets a message twice and never reorders the queue, and replay can reach any
 * message: everything before it is held, then put back in place. Another process's consumer or
 * admin call does not see the held messages for those milliseconds.
 */
export class RabbitMQDeadLetters implements DeadLetterStore {
  readonly #config: ResolvedRabbitMQConfig;
  readonly #connection: RabbitMQConnection;
  readonly #publisher: ConfirmPublisher;
  #open: Promise<Channel> | undefined;
  /** Admin operations run one at a time on the one channel. */
  #queue: Promise<void> = Promise.resolve();

  constructor(config: ResolvedRabbitMQConfig, connection: RabbitMQConnection, publisher: ConfirmPublisher) {
    this.#config = config;
    this.#connection = connection;
    this.#publisher = publisher;
  }

  list(count: number): Promise<StoredDeadLetter[]> {
    return this.#withHeldMessages(async (channel, hold) => {
      const letters: StoredDeadLetter[] = [];
      while (letters.length < count) {
        const message = await channel.get(this.#config.names.dlq, { noAck: false });
        if (message === false) break;
        hold(message);
        letters.push(toStored(message));
      }
      return letters;
    }, []);
  }

  async count(): Promise<number> {
    return this.#withHeldMessages(async (channel) => (await channel.checkQueue(this.#config.names.dlq)).messageCount, 0);
  }

  replay(id: string): Promise<boolean> {
    return this.#withHeldMessages(async (channel, hold) => {
      for (;;) {
        const message = await channel.get(this.#config.names.dlq, { noAck: false });
        if (message === false) return false;
        if (message.properties.messageId !== id) {
          hold(message);
          continue;
        }
        await this.#publisher.send([this.#replayCopy(message)]);
        channel.ack(message);
        return true;
      }
    }, false);
  }

  replayAll(): Promise<number> {
    return this.#withHeldMessages(async (channel) => {
      // What is there now, not what is dead-lettered while replaying.
      const total = (await channel.checkQueue(this.#config.names.dlq)).messageCount;
      let replayed = 0;
      while (replayed < total) {
        const batch: GetMessage[] = [];
        while (batch.length < REPLAY_BATCH && replayed + batch.length < total) {
          const message = await channel.get(this.#config.names.dlq, { noAck: false });
          if (message === false) break;
          batch.push(message);
        }
        if (batch.length === 0) break;
        await this.#publisher.send(batch.map((message) => this.#replayCopy(message)));
        // Every message taken on this channel so far is replayed: one ack settles them all.
        channel.ack(batch[batch.length - 1]!, true);
        replayed += batch.length;
      }
      return replayed;
    }, 0);
  }

  async purge(): Promise<number> {
    return this.#withHeldMessages(async (channel) => (await channel.purgeQueue(this.#config.names.dlq)).messageCount, 0);
  }

  /** The original envelope, failure bookkeeping removed, straight to this group's queue. */
  #replayCopy(message: GetMessage): OutgoingMessage {
    const headers = stripFailureHeaders(stringHeaders(message.properties.headers));
    return { exchange: '', routingKey: this.#config.names.queue, content: message.content, options: messageProperties(headers) };
  }

  /**
   * Runs `work` on the DLQ channel, one operation at a time, then hands back in one
   * `nack(multiple, requeue)` whatever it took and did not ack: RabbitMQ puts those back in
   * place. The next operation runs on the same channel, so it sees them back in place (a
   * fresh channel could race the requeue). `whenMissing` is the answer when the DLQ does not
   * exist yet (nothing was dead-lettered).
   */
  #withHeldMessages<T>(work: (channel: Channel, hold: (message: GetMessage) => void) => Promise<T>, whenMissing: T): Promise<T> {
    const run = this.#queue.then(async () => {
      const channel = await this.#channel();
      let last: GetMessage | undefined;
      try {
        const result = await work(channel, (message) => {
          last = message;
        });
        if (last !== undefined) channel.nack(last, true, true);
        return result;
      } catch (error) {
        // Closing the channel hands everything back too.
        await channel.close().catch(() => undefined);
        if ((error as { code?: unknown }).code === 404) return whenMissing;
        throw error;
      }
    });
    this.#queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  #channel(): Promise<Channel> {
    if (this.#open) return this.#open;
    const opening = this.#connection.channel().then((channel) => {
      channel.on('error', () => undefined);
      channel.once('close', () => {
        if (this.#open === opening) this.#open = undefined;
      });
      return channel;
    });
    this.#open = opening;
    opening.catch(() => {
      if (this.#open === opening) this.#open = undefined;
    });
    return opening;
  }

  async close(): Promise<void> {
    const open = this.#open;
    this.#open = undefined;
    if (open) await open.then((channel) => channel.close()).catch(() => undefined);
  }
}

function toStored(message: GetMessage): StoredDeadLetter {
  const id = message.properties.messageId;
  return {
    id: typeof id === 'string' ? id : `delivery-${message.fields.deliveryTag}`,
    headers: stringHeaders(message.properties.headers),
    body: message.content,
  };
}
