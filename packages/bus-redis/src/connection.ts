import { TransportError, type Logger } from '@eventsource/core';
import { errorMessage, redact, type ConnectionState } from '@eventsource/core/transport';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { isCluster, maskUrl, type RedisEventBusOptions, type ResolvedConfig } from './config.js';

export type Client = Redis | Cluster;

type Role = 'commands' | 'reader';

/** Longest wait for a polite QUIT at close before the socket is simply dropped. */
const QUIT_TIMEOUT_MS = 1000;

/**
 * The bus's two connections and their health. Commands (publish, settle, admin) and blocking
 * reads never share a socket: an XREADGROUP blocked for `blockMs` would otherwise hold every
 * publish behind it. Both reconnect by themselves with capped exponential backoff.
 */
export class Connections {
  readonly commands: Client;
  #reader: Client | undefined;
  readonly #ownsCommands: boolean;
  readonly #config: ResolvedConfig;
  readonly #logger: Logger;
  readonly #where: string;
  readonly #down = new Map<Role, string>();
  #since: string | undefined;
  #lastError: string | undefined;
  #reconnections = 0;
  #readerEpoch = 0;
  #closing = false;

  constructor(options: RedisEventBusOptions, config: ResolvedConfig, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    const retryStrategy = (times: number): number => {
      const exp = Math.min(config.reconnectMaxDelayMs, config.reconnectBaseDelayMs * 2 ** Math.min(times - 1, 30));
      return Math.round(exp * (0.8 + Math.random() * 0.4));
    };
    if (options.client) {
      this.commands = options.client;
      this.#ownsCommands = false;
      this.#where = 'the client passed in options.client';
    } else if (options.cluster) {
      this.commands = new Cluster([...options.cluster.nodes], {
        clusterRetryStrategy: retryStrategy,
        lazyConnect: true,
        ...options.cluster.options,
        redisOptions: { connectionName: `eventsource:${config.consumerName}`, ...options.cluster.options?.redisOptions },
      });
      this.#ownsCommands = true;
      this.#where = 'the Redis cluster';
    } else {
      const redisOptions: RedisOptions = {
        retryStrategy,
        lazyConnect: true,
        connectionName: `eventsource:${config.consumerName}`,
        ...options.redisOptions,
      };
      this.commands = new Redis(config.redisUrl, redisOptions);
      this.#ownsCommands = true;
      this.#where = maskUrl(config.redisUrl);
    }
    this.#watch(this.commands, 'commands');
  }

  /** Where we connect to, password masked; safe for logs. */
  get where(): string {
    return this.#where;
  }

  get reconnections(): number {
    return this.#reconnections;
  }

  /** Changes whenever the reader (re)connects, i.e. whenever its server-side client id changes. */
  get readerEpoch(): number {
    return this.#readerEpoch;
  }

  get isCluster(): boolean {
    return isCluster(this.commands);
  }

  async connect(): Promise<void> {
    await this.#open(this.commands);
  }

  /**
   * Redis's `maxmemory-policy`, or undefined when it cannot be read (no CONFIG permission, or a
   * managed service that renamed or disabled the command).
   */
  async evictionPolicy(): Promise<string | undefined> {
    try {
      const reply = (await this.commands.call('CONFIG', ['GET', 'maxmemory-policy'])) as unknown;
      const value = Array.isArray(reply) ? (reply as unknown[])[1] : pairsValue(reply, 'maxmemory-policy');
      return typeof value === 'string' || Buffer.isBuffer(value) ? String(value) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The blocking-read connection, created on first use. Never gives up on a request: a read waits
   * out an outage (stopping races it instead). A `commandTimeout` shorter than a blocked read is
   * raised to `blockMs` plus a second on this connection: a read timed out on the client while
   * Redis still answers it would leave the entries Redis delivered pending, unseen, until reclaim.
   */
  async reader(): Promise<Client> {
    if (!this.#reader) {
      const override = {
        maxRetriesPerRequest: null,
        lazyConnect: true,
        connectionName: `eventsource:${this.#config.consumerName}:reader`,
        commandTimeout: readerCommandTimeout(this.#userCommandTimeout(), this.#config.blockMs),
      };
      this.#reader = isCluster(this.commands)
        ? this.commands.duplicate(undefined, { redisOptions: { ...this.commands.options.redisOptions, ...override } })
        : this.commands.duplicate(override);
      this.#watch(this.#reader, 'reader');
    }
    await this.#open(this.#reader);
    return this.#reader;
  }

  #userCommandTimeout(): number | undefined {
    const options = isCluster(this.commands) ? this.commands.options.redisOptions : this.commands.options;
    return options?.commandTimeout;
  }

  /** Drops the reader's socket (interrupting a blocked read); it is reopened on next use. */
  dropReader(): void {
    const reader = this.#reader;
    this.#reader = undefined;
    this.#down.delete('reader');
    if (reader) {
      reader.removeAllListeners();
      reader.on('error', () => {});
      reader.disconnect();
    }
  }

  /** Both connections in use are ready; otherwise the outage and its last error. */
  state(): ConnectionState {
    const connected = this.commands.status === 'ready' && (this.#reader === undefined || this.#reader.status === 'ready');
    if (connected) return { connected };
    return { connected, lastError: this.#lastError ?? `not connected to ${this.#where}`, since: this.#since ?? new Date().toISOString() };
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.dropReader();
    if (!this.#ownsCommands) return;
    // QUIT is queued, not sent, while ioredis is reconnecting with commands in its offline queue
    // (a server that is down, or never accepted us): it would wait for a connection forever.
    if (this.commands.status !== 'ready') {
      this.commands.disconnect();
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([this.commands.quit(), new Promise((resolve) => (timer = setTimeout(resolve, QUIT_TIMEOUT_MS)))]);
    } catch {
      // Disconnecting below is all that is left to do.
    } finally {
      clearTimeout(timer);
    }
    if ((this.commands.status as string) !== 'end') this.commands.disconnect();
  }

  async #open(client: Client): Promise<void> {
    if (client.status === 'ready') return;
    if (client.status === 'wait' || client.status === 'end' || client.status === 'close') {
      // ioredis rejects connect() with a bare "Connection is closed."; the socket or TLS error
      // that explains it (ECONNRESET, a certificate problem) only comes as an 'error' event.
      let socketError: unknown;
      const remember = (error: unknown): void => {
        socketError ??= error;
      };
      client.on('error', remember);
      try {
        await client.connect();
      } catch (error) {
        if ((client.status as string) === 'ready') return;
        const reason = socketError === undefined ? errorMessage(error) : `${errorMessage(error)} (${errorMessage(socketError)})`;
        throw new TransportError(`Could not connect to ${this.#where}: ${redact(reason)}`, { cause: socketError ?? error });
      } finally {
        client.off('error', remember);
      }
      return;
    }
    // connecting / reconnecting: ioredis gets there by itself.
    await new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        client.off('end', onEnd);
        resolve();
      };
      const onEnd = (): void => {
        client.off('ready', onReady);
        reject(new TransportError(`Connection to ${this.#where} was closed before it became ready.`));
      };
      client.once('ready', onReady);
      client.once('end', onEnd);
    });
  }

  #watch(client: Client, role: Role): void {
    let readyBefore = client.status === 'ready';
    client.on('ready', () => {
      if (role === 'reader') this.#readerEpoch++;
      if (readyBefore) {
        this.#reconnections++;
        this.#logger.info('Reconnected to Redis', { where: this.#where, connection: role });
      }
      readyBefore = true;
      this.#down.delete(role);
      if (this.#down.size === 0) {
        this.#since = undefined;
        this.#lastError = undefined;
      }
    });
    const lost = (): void => {
      if (this.#closing || this.#down.has(role)) return;
      this.#down.set(role, new Date().toISOString());
      this.#since ??= new Date().toISOString();
      this.#lastError ??= `connection to ${this.#where} lost`;
      this.#logger.warn('Lost connection to Redis; reconnecting with backoff', {
        where: this.#where,
        connection: role,
        error: this.#lastError,
      });
    };
    client.on('close', lost);
    client.on('reconnecting', lost);
    client.on('error', (error: Error) => {
      this.#lastError = redact(error.message);
      if (!this.#closing && client.status !== 'ready') lost();
    });
  }
}

/** Time a blocked read may take beyond blockMs before a command timeout may end it. */
const READ_TIMEOUT_GRACE_MS = 1000;

/** The reader's command timeout: the user's, but never shorter than a blocked read plus a grace. */
export function readerCommandTimeout(userTimeout: number | undefined, blockMs: number): number | undefined {
  if (userTimeout === undefined || !(userTimeout > 0)) return undefined;
  return Math.max(userTimeout, blockMs + READ_TIMEOUT_GRACE_MS);
}

/** Reply errors that say "not now" rather than "never": retrying them can succeed. */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|OOM|MOVED|ASK|UNBLOCKED)\b/;

/**
 * True for an error Redis itself answered and that will be answered again the same way (a bad
 * argument, a script error, a wrong key type, a missing permission), as opposed to a lost
 * connection or a server that is busy loading. Such a write is never retried forever.
 */
export function isPermanentReplyError(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && !TRANSIENT_REPLY.test(error.message);
}

/** True when Redis refused the command because of the user's ACL. */
export function isNoPermission(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOPERM');
}

function pairsValue(reply: unknown, name: string): unknown {
  return reply !== null && typeof reply === 'object' ? (reply as Record<string, unknown>)[name] : undefined;
}
