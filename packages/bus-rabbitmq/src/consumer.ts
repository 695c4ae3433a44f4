import type { EventRegistry, Logger } from '@eventsource/core';
import { Backoff, Claim, errorMessage, redact, sleep, type Delivery, type DeliverySink } from '@eventsource/core/transport';
import type { Channel, ConsumeMessage } from 'amqplib';
import type { ResolvedRabbitMQConfig } from './config.js';
import type { RabbitMQConnection } from './connection.js';
import { bindingKeysOf, declareGroup } from './topology.js';

/**
 * One consuming channel. Its claim is revoked the moment the channel closes: the broker has then
 * requeued every message it delivered on it, so none of them may be started, acknowledged or
 * retried here any more.
 */
export class ConsumerSession {
  readonly claim: Claim;
  /** Delivery tags not yet acknowledged or handed back, in delivery order (tags only grow). */
  readonly unsettled = new Set<number>();
  closed = false;
  consumerTag: string | undefined;

  constructor(
    readonly channel: Channel,
    readonly number: number,
  ) {
    this.claim = new Claim(`channel ${number}`);
  }
}

/** A message as this transport holds it: the kit's view plus the AMQP message and its channel. */
export interface RabbitMQDelivery extends Delivery {
  readonly message: ConsumeMessage;
  readonly session: ConsumerSession;
}

/** Matches the close reason RabbitMQ gives when a delivery outlived consumer_timeout. */
const CONSUMER_TIMEOUT = /delivery acknowledgement on channel \d+ timed out/i;

/**
 * The push consumer: one channel with `prefetchCount` unacknowledged messages at most, re-opened
 * after a channel close (an error on one channel does not take the connection down, and nothing
 * else would bring consumption back) and after every reconnect, with the topology declared again
 * each time.
 */
export class ConsumerSource {
  readonly #config: ResolvedRabbitMQConfig;
  readonly #connection: RabbitMQConnection;
  readonly #logger: Logger;
  readonly #registry: EventRegistry;
  readonly #backoff: Backoff;
  #stop: AbortController | undefined;
  #current: ConsumerSession | undefined;
  #sessions = 0;
  /** Channels the broker closed because a delivery outlived consumer_timeout. */
  consumerTimeouts = 0;
  /** Consuming channels re-opened after a close (connection losses included). */
  channelRecoveries = 0;

  constructor(config: ResolvedRabbitMQConfig, connection: RabbitMQConnection, logger: Logger, registry: EventRegistry) {
    this.#config = config;
    this.#connection = connection;
    this.#logger = logger;
    this.#registry = registry;
    this.#backoff = new Backoff(config.broker.reconnectBaseDelayMs, config.broker.reconnectMaxDelayMs);
  }

  /** Sessions whose channels are still open, for closing at shutdown. */
  get current(): ConsumerSession | undefined {
    return this.#current;
  }

  async consume(sink: DeliverySink<RabbitMQDelivery>): Promise<void> {
    const stop = new AbortController();
    this.#stop = stop;
    const bindingKeys = bindingKeysOf(this.#config, this.#registry);
    let failures = 0;
    while (!stop.signal.aborted && !sink.stopping) {
      let session: ConsumerSession | undefined;
      try {
        const channel = await this.#connection.channel();
        this.#sessions += 1;
        session = new ConsumerSession(channel, this.#sessions);
        const closed = this.#watch(session, sink);
        await declareGroup(channel, this.#config, bindingKeys);
        await channel.prefetch(this.#config.prefetchCount);
        const current = session;
        const reply = await channel.consume(this.#config.names.queue, (message) => this.#onMessage(current, message, sink), {
          noAck: false,
          consumerTag: `${this.#config.broker.consumerName}.${session.number}`,
        });
        session.consumerTag = reply.consumerTag;
        this.#current = session;
        if (stop.signal.aborted) await this.#cancel(session);
        failures = 0;
        sink.problem(undefined);
        sink.started();
        const reason = await Promise.race([closed, aborted(stop.signal)]);
        if (reason === undefined) break;
        this.channelRecoveries += 1;
        sink.problem(reason);
      } catch (error) {
        if (session && !session.closed) await session.channel.close().catch(() => undefined);
        if (stop.signal.aborted) break;
        failures += 1;
        const message = redact(errorMessage(error));
        sink.problem(`cannot consume from ${this.#config.names.queue}: ${message}`);
        if (failures === 1 || failures % 20 === 0) this.#logger.warn('RabbitMQ consumer setup failed; trying again', { error: message, failures });
        await sleep(this.#backoff.delay(failures), stop.signal);
      }
    }
  }

  /** Cancels the consumer; the channel stays open so in-flight messages can still be acknowledged. */
  async stopSources(): Promise<void> {
    this.#stop?.abort();
    const session = this.#current;
    if (session) await this.#cancel(session);
  }

  async #cancel(session: ConsumerSession): Promise<void> {
    const tag = session.consumerTag;
    if (session.closed || tag === undefined) return;
    session.consumerTag = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      session.channel.cancel(tag).catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 2000);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Resolves with why the channel closed. */
  #watch(session: ConsumerSession, sink: DeliverySink<RabbitMQDelivery>): Promise<string> {
    let reason = 'channel closed';
    session.channel.on('error', (error: Error) => {
      reason = redact(errorMessage(error));
      if (CONSUMER_TIMEOUT.test(reason)) {
        this.consumerTimeouts += 1;
        this.#logger.error(
          'RabbitMQ closed the consuming channel: a message stayed unacknowledged past consumer_timeout. Its messages are requeued; the channel is reopened. Set handlerTimeoutMs below consumer_timeout.',
          { error: reason },
        );
      } else {
        this.#logger.warn('RabbitMQ closed the consuming channel; reopening it', { error: reason });
      }
    });
    return new Promise((resolve) => {
      session.channel.once('close', () => {
        session.closed = true;
        session.claim.revoke(reason);
        sink.fence(session.claim);
        if (this.#current === session) this.#current = undefined;
        resolve(reason);
      });
    });
  }

  #onMessage(session: ConsumerSession, message: ConsumeMessage | null, sink: DeliverySink<RabbitMQDelivery>): void {
    if (message === null) {
      // The broker cancelled the consumer (queue deleted, or a failover): start over on a new channel.
      this.#logger.warn('RabbitMQ cancelled the consumer; consuming again on a new channel', { queue: this.#config.names.queue });
      void session.channel.close().catch(() => undefined);
      return;
    }
    session.unsettled.add(message.fields.deliveryTag);
    sink.push(toDelivery(session, message, this.#config.queueType === 'quorum'));
  }
}

export function toDelivery(session: ConsumerSession, message: ConsumeMessage, quorum: boolean): RabbitMQDelivery {
  const raw = message.properties.headers;
  const redelivered = message.fields.redelivered;
  let deliveryCount: number;
  if (quorum) {
    // Quorum queues count returns in x-delivery-count; it is absent on a first delivery.
    const returns = Number(raw?.['x-delivery-count'] ?? 0);
    deliveryCount = (Number.isFinite(returns) ? returns : 0) + 1;
  } else {
    deliveryCount = redelivered ? 0 : 1;
  }
  return {
    id: typeof message.properties.messageId === 'string' ? message.properties.messageId : `${session.claim.label}/${message.fields.deliveryTag}`,
    envelope: { headers: stringHeaders(raw), body: message.content },
    deliveryCount,
    suspect: redelivered,
    claim: session.claim,
    message,
    session,
  };
}

/**
 * AMQP headers to the envelope's string headers. Broker-added `x-` headers (x-death, the delivery
 * count) are dropped: they are the broker's bookkeeping, and a retry copy must not carry them on.
 */
export function stringHeaders(raw: Record<string, unknown> | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!raw) return headers;
  for (const name of Object.keys(raw)) {
    if (name.startsWith('x-')) continue;
    const value = raw[name];
    let text: string | undefined;
    if (typeof value === 'string') text = value;
    else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
    else if (Buffer.isBuffer(value)) text = value.toString('utf8');
    if (text === undefined) continue;
    // An own property even for "__proto__", never a prototype change (defineProperty only there:
    // it is several times slower than an assignment, and this runs for every header of every message).
    if (name === '__proto__') Object.defineProperty(headers, name, { value: text, enumerable: true, writable: true, configurable: true });
    else headers[name] = text;
  }
  return headers;
}

function aborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
}
