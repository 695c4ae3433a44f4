import { HEADER, type Logger } from '@eventsource/core';
import { errorMessage, redact } from '@eventsource/core/transport';
import type { ConfirmChannel, Options } from 'amqplib';
import type { RabbitMQConnection } from './connection.js';

/** One AMQP message to publish. */
export interface OutgoingMessage {
  readonly exchange: string;
  readonly routingKey: string;
  readonly content: Buffer;
  readonly options: Options.Publish;
}

/** The broker refused a message (a nack), or could not route a mandatory one to any queue. */
export class PublishRefusedError extends Error {
  override readonly name = 'PublishRefusedError';
}

/** The AMQP properties of an envelope: headers as AMQP headers, persistent, JSON. */
export function messageProperties(headers: Readonly<Record<string, string>>): Options.Publish {
  return {
    persistent: true,
    contentType: headers[HEADER.contentType] ?? 'application/json',
    messageId: headers[HEADER.eventId],
    type: headers[HEADER.eventType],
    timestamp: Math.floor(Date.now() / 1000),
    headers: { ...headers },
  };
}

/** A confirm channel with what every batch written on it needs to know, behind one listener each. */
class PublishChannel {
  closed = false;
  #drainWaiters: Array<() => void> = [];

  constructor(readonly channel: ConfirmChannel) {
    // One listener per event for the channel's whole life, whatever the number of concurrent
    // batches: a listener per batch would pile up past Node's MaxListeners under load.
    channel.on('drain', () => this.#wake());
    channel.once('close', () => {
      this.closed = true;
      this.#wake();
    });
  }

  /** Resolves when amqplib's write buffer has room again, or the channel closed. */
  drained(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Publishes over one confirm channel. A batch is written without waiting for confirms between
 * messages, pausing only when amqplib's write buffer is full (`drain`), and resolves once the
 * broker confirmed every message of it. Messages whose confirm was lost with a closed channel or
 * connection are written again on the next channel (at-least-once: a message the broker got but
 * could not confirm may be stored twice); a nack rejects.
 */
export class ConfirmPublisher {
  readonly #connection: RabbitMQConnection;
  readonly #logger: Logger;
  #channel: Promise<PublishChannel> | undefined;
  #closed = false;
  /** Correlation ids of mandatory messages the broker returned as unroutable (sent before their confirm). */
  readonly #returned = new Set<string>();

  constructor(connection: RabbitMQConnection, logger: Logger) {
    this.#connection = connection;
    this.#logger = logger;
  }

  /** Resolves once the broker confirmed every message. */
  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    let remaining = messages;
    for (;;) {
      if (this.#closed) throw new Error('The RabbitMQ publisher is closed (the bus was shut down).');
      const channel = await this.#openChannel();
      const unconfirmed = await this.#sendOn(channel, remaining);
      if (unconfirmed.length === 0) return;
      remaining = unconfirmed;
    }
  }

  /** Closes the channel. The kit calls it once its publishes were written (or at the deadline). */
  async close(): Promise<void> {
    this.#closed = true;
    const channel = this.#channel;
    this.#channel = undefined;
    if (channel) await channel.then((c) => c.channel.close()).catch(() => undefined);
  }

  /** Resolves with the messages whose confirms were lost to a closed channel; rejects on a nack. */
  #sendOn(target: PublishChannel, messages: readonly OutgoingMessage[]): Promise<OutgoingMessage[]> {
    return new Promise((resolve, reject) => {
      const { channel } = target;
      let outstanding = messages.length;
      let refused: Error | undefined;
      const lost: OutgoingMessage[] = [];
      const finish = (): void => {
        if (refused) reject(refused);
        else resolve(lost);
      };
      const settle = (): void => {
        outstanding -= 1;
        if (outstanding === 0) finish();
      };
      /** The messages from `index` on never reached the socket: they go on the next channel. */
      const unwritten = (index: number): void => {
        lost.push(...messages.slice(index));
        outstanding -= messages.length - index;
        if (outstanding === 0) finish();
      };
      const write = async (): Promise<void> => {
        for (let i = 0; i < messages.length; i++) {
          if (target.closed) return unwritten(i);
          const message = messages[i]!;
          let writable: boolean;
          try {
            writable = channel.publish(message.exchange, message.routingKey, message.content, message.options, (error: unknown) => {
              const id = message.options.correlationId;
              if (error) {
                if (target.closed || isClosedError(error)) lost.push(message);
                else refused ??= new PublishRefusedError(`RabbitMQ refused a message for exchange "${message.exchange}" (a nack): ${errorMessage(error)}`);
              } else if (id !== undefined && this.#returned.delete(id)) {
                refused ??= new PublishRefusedError(
                  `RabbitMQ could not route a message to queue "${message.routingKey}": it does not exist (deleted?). It is declared again on the next try.`,
                );
              }
              settle();
            });
          } catch (error) {
            // amqplib throws synchronously once the channel is closed.
            target.closed = true;
            if (!isClosedError(error)) this.#logger.warn('RabbitMQ publish failed; retrying on a new channel', { error: redact(errorMessage(error)) });
            return unwritten(i);
          }
          if (!writable) await target.drained();
        }
      };
      if (messages.length === 0) finish();
      else void write();
    });
  }

  #openChannel(): Promise<PublishChannel> {
    if (this.#channel) return this.#channel;
    const opening = this.#connection.confirmChannel().then((channel) => {
      channel.on('error', (error: Error) => {
        this.#logger.warn('RabbitMQ closed the publish channel', { error: redact(errorMessage(error)) });
      });
      channel.on('return', (returned: { properties: { correlationId?: unknown } }) => {
        const id = returned.properties.correlationId;
        if (typeof id === 'string') this.#returned.add(id);
      });
      channel.once('close', () => {
        if (this.#channel === opening) this.#channel = undefined;
      });
      return new PublishChannel(channel);
    });
    this.#channel = opening;
    opening.catch(() => {
      if (this.#channel === opening) this.#channel = undefined;
    });
    return opening;
  }
}

function isClosedError(error: unknown): boolean {
  const message = errorMessage(error);
  return /closed|Channel ended|Connection closed|IllegalOperationError/i.test(message) || (error as { name?: string }).name === 'IllegalOperationError';
}
