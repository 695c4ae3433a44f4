import type { Logger } from '@eventsource/core';
import { Backoff, errorMessage, redact, sleep, type ConnectionState } from '@eventsource/core/transport';
import { connect, type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { ResolvedRabbitMQConfig } from './config.js';

type Listener = () => void;

/**
 * One AMQP connection with its own reconnect loop. amqplib reports a lost connection and stops;
 * this class brings it back with capped backoff and tells the publisher and the consumers, which
 * re-create their channels (a channel never outlives its connection). Channel-level failures are
 * the channel owners' business: a closed channel leaves the connection up.
 */
export class RabbitMQConnection {
  readonly #config: ResolvedRabbitMQConfig;
  readonly #logger: Logger;
  readonly #backoff: Backoff;
  readonly #label: string;
  #model: ChannelModel | undefined;
  #connecting: Promise<ChannelModel> | undefined;
  #closed = false;
  #everConnected = false;
  #lastError: string | undefined;
  #since: string | undefined;
  #blocked: string | undefined;
  #reconnections = 0;
  readonly #onReconnect = new Set<Listener>();
  readonly #onLost = new Set<Listener>();
  readonly #stop = new AbortController();
  #waiters: Array<{ resolve: (model: ChannelModel) => void; reject: (error: unknown) => void }> = [];

  constructor(config: ResolvedRabbitMQConfig, logger: Logger, label: string) {
    this.#config = config;
    this.#logger = logger;
    this.#label = label;
    this.#backoff = new Backoff(config.broker.reconnectBaseDelayMs, config.broker.reconnectMaxDelayMs);
  }

  get reconnections(): number {
    return this.#reconnections;
  }

  get connected(): boolean {
    return this.#model !== undefined;
  }

  state(): ConnectionState {
    if (this.#model !== undefined && this.#blocked === undefined) return { connected: true };
    if (this.#model !== undefined) return { connected: true, lastError: `broker blocked publishing: ${this.#blocked}`, since: this.#since };
    return { connected: false, lastError: this.#lastError ?? 'not connected', since: this.#since };
  }

  /** Called after every reconnect (not the first connect). */
  onReconnect(listener: Listener): () => void {
    this.#onReconnect.add(listener);
    return () => this.#onReconnect.delete(listener);
  }

  /** Called when the connection is lost. */
  onLost(listener: Listener): () => void {
    this.#onLost.add(listener);
    return () => this.#onLost.delete(listener);
  }

  /** The first connect: one attempt, an explained error when the broker refuses or is away. */
  async open(): Promise<void> {
    if (this.#model) return;
    try {
      await this.#attempt();
    } catch (error) {
      throw new Error(
        `Cannot connect to RabbitMQ at ${redact(this.#config.rabbitmqUrl)}: ${redact(errorMessage(error))}. ` +
          'Check that the broker runs and that rabbitmqUrl (host, port, vhost, user, password) and tls are right.',
        { cause: error },
      );
    }
  }

  /** The live connection; while it is away, waits for the reconnect loop (rejects once closed). */
  async model(): Promise<ChannelModel> {
    if (this.#model) return this.#model;
    if (this.#closed) throw new Error('The RabbitMQ connection is closed (the bus was shut down).');
    if (!this.#everConnected && this.#connecting === undefined && this.#waiters.length === 0) this.#reconnectLoop();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async channel(): Promise<Channel> {
    const model = await this.model();
    return model.createChannel();
  }

  async confirmChannel(): Promise<ConfirmChannel> {
    const model = await this.model();
    return model.createConfirmChannel();
  }

  /** Closes the connection; resolves by `deadline` whatever the broker does. */
  async close(deadline: number): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    const error = new Error('The RabbitMQ connection is closed (the bus was shut down).');
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    const model = this.#model;
    this.#model = undefined;
    if (!model) return;
    const remaining = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const closedInTime = await Promise.race([
      model.close().then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), remaining);
      }),
    ]);
    clearTimeout(timer);
    if (!closedInTime) destroySocket(model);
  }

  /** Test and fault-injection aid: drops the socket as a network failure would. */
  destroyForTesting(): void {
    if (this.#model) destroySocket(this.#model);
  }

  async #attempt(): Promise<ChannelModel> {
    const url = new URL(this.#config.rabbitmqUrl);
    url.searchParams.set('heartbeat', String(this.#config.heartbeatSeconds));
    const tls = this.#config.tls;
    const model = await connect(url.toString(), {
      clientProperties: { connection_name: `eventsource ${this.#label} ${this.#config.broker.consumerName}` },
      ...(tls === undefined
        ? {}
        : {
            ca: typeof tls.ca === 'object' && !Buffer.isBuffer(tls.ca) ? [...tls.ca] : tls.ca,
            cert: tls.cert,
            key: tls.key,
            passphrase: tls.passphrase,
            servername: tls.servername,
            rejectUnauthorized: tls.rejectUnauthorized ?? true,
          }),
    });
    if (this.#closed) {
      await model.close().catch(() => undefined);
      throw new Error('closed while connecting');
    }
    model.on('error', (error: Error) => {
      this.#lastError = redact(errorMessage(error));
    });
    model.on('blocked', (reason: string) => {
      this.#blocked = reason;
      this.#since ??= new Date().toISOString();
      this.#logger.warn('RabbitMQ blocked this connection (a resource alarm): publishes wait until it clears', { reason });
    });
    model.on('unblocked', () => {
      this.#blocked = undefined;
      this.#since = undefined;
    });
    model.once('close', (error?: Error) => this.#lost(model, error));
    const first = !this.#everConnected;
    this.#model = model;
    this.#everConnected = true;
    this.#lastError = undefined;
    this.#since = undefined;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve(model);
    if (!first) {
      this.#reconnections += 1;
      this.#logger.info('Reconnected to RabbitMQ', { connection: this.#label, reconnections: this.#reconnections });
      for (const listener of this.#onReconnect) listener();
    }
    return model;
  }

  #lost(model: ChannelModel, error: Error | undefined): void {
    if (this.#model !== model) return;
    this.#model = undefined;
    if (this.#closed) return;
    this.#since = new Date().toISOString();
    this.#lastError = redact(error ? errorMessage(error) : 'connection closed');
    this.#logger.warn('Lost the RabbitMQ connection; reconnecting', { connection: this.#label, error: this.#lastError });
    for (const listener of this.#onLost) listener();
    this.#reconnectLoop();
  }

  #reconnectLoop(): void {
    if (this.#connecting) return;
    const loop = async (): Promise<ChannelModel> => {
      for (let failures = 0; ; ) {
        if (this.#closed) throw new Error('closed');
        try {
          return await this.#attempt();
        } catch (error) {
          failures += 1;
          this.#lastError = redact(errorMessage(error));
          this.#since ??= new Date().toISOString();
          if (failures === 1 || failures % 10 === 0) {
            this.#logger.warn('RabbitMQ is unreachable; still trying', { connection: this.#label, failures, error: this.#lastError });
          }
          await sleep(this.#backoff.delay(failures), this.#stop.signal);
        }
      }
    };
    this.#connecting = loop().finally(() => {
      this.#connecting = undefined;
    });
    this.#connecting.catch(() => undefined);
  }
}

/** amqplib has no public way to drop a connection without the close handshake. */
function destroySocket(model: ChannelModel): void {
  const stream = (model.connection as unknown as { stream?: { destroy(): void } }).stream;
  stream?.destroy();
}
