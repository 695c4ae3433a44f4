import net from 'node:net';

export interface ProxyTarget {
  readonly host: string;
  readonly port: number;
}

/**
 * A loopback TCP proxy in front of a broker that a test can cut and restore: an outage as a
 * client sees it (dropped sockets, refused connections) without touching the server, which other
 * tests share.
 */
export class TcpProxy {
  #server: net.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  #connections = 0;

  readonly #targetUrl: string | undefined;

  private constructor(
    readonly port: number,
    readonly target: ProxyTarget,
    targetUrl: string | undefined,
  ) {
    this.#targetUrl = targetUrl;
  }

  /**
   * Listens on a free 127.0.0.1 port and forwards to `target`: a URL (its port, else
   * `defaultPort`) or a host and port.
   */
  static async start(target: string | ProxyTarget, options: { readonly defaultPort?: number } = {}): Promise<TcpProxy> {
    let resolved: ProxyTarget;
    if (typeof target === 'string') {
      const url = new URL(target);
      const port = Number(url.port || options.defaultPort);
      if (!Number.isInteger(port) || port <= 0) {
        throw new Error(`TcpProxy.start(${JSON.stringify(url.host)}): the URL has no port; pass { defaultPort } for its scheme.`);
      }
      resolved = { host: url.hostname, port };
    } else {
      resolved = target;
    }
    const proxy = new TcpProxy(await freePort(), resolved, typeof target === 'string' ? target : undefined);
    await proxy.up();
    return proxy;
  }

  /** The target URL with its host and port swapped for the proxy's (scheme, user info, path kept). */
  get url(): string {
    if (this.#targetUrl === undefined) return `tcp://127.0.0.1:${this.port}`;
    const url = new URL(this.#targetUrl);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  /** `127.0.0.1:<port>`, for clients configured with host:port lists (Kafka brokers). */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get isUp(): boolean {
    return this.#server !== undefined;
  }

  /** Connections accepted since start, for checking a client really went through the proxy. */
  get connectionsAccepted(): number {
    return this.#connections;
  }

  /** Accepts connections again (after down()). */
  async up(): Promise<void> {
    if (this.#server) return;
    const server = net.createServer((client) => {
      this.#connections++;
      const upstream = net.connect(this.target.port, this.target.host);
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      const end = (): void => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      for (const socket of [client, upstream]) {
        socket.on('error', end);
        socket.on('close', end);
      }
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  /** Drops every connection and refuses new ones until up(). */
  async down(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Same as down(), for the last use of a proxy. */
  close(): Promise<void> {
    return this.down();
  }
}

/** A TCP port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
