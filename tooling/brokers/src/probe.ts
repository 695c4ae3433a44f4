/**
 * Low-level helpers: broker URL parsing, credential masking, a TCP probe and container-runtime
 * detection. No broker client and no testcontainers here.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { existsSync } from 'node:fs';

export interface Endpoint {
  host: string;
  port: number;
}

export interface AmqpEndpoint extends Endpoint {
  username?: string;
  password?: string;
  vhost: string;
  tls: boolean;
}

export type Env = Record<string, string | undefined>;

/** Strips IPv6 brackets: URL gives `[::1]`, net.connect wants `::1`. */
function bareHost(hostname: string): string {
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
}

function parsePort(raw: string, fallback: number, what: string): number {
  if (raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`invalid port "${raw}" in ${what}`);
  }
  return port;
}

function parseUrl(url: string, protocols: string[], what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`invalid ${what} URL: ${maskUrl(url)}`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new TypeError(
      `invalid ${what} URL ${maskUrl(url)}: expected ${protocols.map((p) => `${p}//`).join(' or ')}`,
    );
  }
  if (parsed.hostname === '') throw new TypeError(`invalid ${what} URL ${maskUrl(url)}: no host`);
  return parsed;
}

/** `redis://[user[:pass]@]host[:port][/db]` (also `rediss://`); default port 6379. */
export function parseRedisUrl(url: string): Endpoint {
  const u = parseUrl(url, ['redis:', 'rediss:'], 'Redis');
  return { host: bareHost(u.hostname), port: parsePort(u.port, 6379, 'Redis URL') };
}

/** `amqp://user:pass@host:port/vhost` (also `amqps://`); default port 5672 (5671 for amqps), vhost `/`. */
export function parseAmqpUrl(url: string): AmqpEndpoint {
  const u = parseUrl(url, ['amqp:', 'amqps:'], 'AMQP');
  const tls = u.protocol === 'amqps:';
  // Per the AMQP URI spec the vhost is the path without its leading slash, percent-decoded;
  // an empty path means the default vhost "/".
  const path = u.pathname.replace(/^\//, '');
  const endpoint: AmqpEndpoint = {
    host: bareHost(u.hostname),
    port: parsePort(u.port, tls ? 5671 : 5672, 'AMQP URL'),
    vhost: path === '' ? '/' : decodeURIComponent(path),
    tls,
  };
  if (u.username !== '') endpoint.username = decodeURIComponent(u.username);
  if (u.password !== '') endpoint.password = decodeURIComponent(u.password);
  return endpoint;
}

/** `KAFKA_BROKERS=host:port,host:port` (whitespace tolerated, `[::1]:9092` for IPv6); default port 9092. */
export function parseKafkaBrokers(value: string): Endpoint[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new TypeError('KAFKA_BROKERS is empty; expected host:port[,host:port]');
  return items.map((item) => {
    if (item.includes('://')) {
      throw new TypeError(`invalid Kafka broker "${item}": expected host:port, without a scheme`);
    }
    const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d*))?$/.exec(item);
    if (!m) throw new TypeError(`invalid Kafka broker "${item}": expected host:port`);
    const host = (m[1] ?? m[2]) as string;
    return { host, port: parsePort(m[3] ?? '', 9092, `Kafka broker "${item}"`) };
  });
}

/**
 * Replaces the password (and only the password) of a URL with `***`, so that URLs can be
 * printed. Works on strings that are not valid URLs too (best effort: `scheme://user:pass@`).
 */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') {
      u.password = '***';
      return u.toString();
    }
    return url;
  } catch {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]*@/i, '$1:***@');
  }
}

/** Resolves true when a TCP connection to host:port opens within timeoutMs. Never rejects. */
export function probeTcp(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Resolves true when any of the endpoints accepts a TCP connection. */
export async function probeAny(endpoints: Endpoint[], timeoutMs = 1000): Promise<boolean> {
  const results = await Promise.all(endpoints.map((e) => probeTcp(e.host, e.port, timeoutMs)));
  return results.some(Boolean);
}

export interface ContainerRuntime {
  available: boolean;
  /** Where we looked, or why there is none (printed in skip messages). */
  detail: string;
}

function dockerPing(target: { socketPath: string } | { host: string; port: number }, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(ok);
    };
    const req = request({ ...target, path: '/_ping', method: 'GET' }, (res) => {
      res.resume();
      done(res.statusCode === 200);
    });
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    req.once('error', () => done(false));
    req.end();
  });
}

/**
 * Is there a container runtime that answers (`GET /_ping`)? Looks at DOCKER_HOST (unix:// or
 * tcp://), else /var/run/docker.sock. Does not import testcontainers. A docker CLI without a
 * daemon (this machine) answers "no" in about a millisecond.
 */
export async function detectContainerRuntime(env: Env = process.env, timeoutMs = 1000): Promise<ContainerRuntime> {
  if (env['TESTCONTAINERS_DISABLED'] === 'true' || env['TESTCONTAINERS_DISABLED'] === '1') {
    return { available: false, detail: 'TESTCONTAINERS_DISABLED is set' };
  }
  const dockerHost = env['DOCKER_HOST'];
  if (dockerHost !== undefined && dockerHost !== '') {
    if (dockerHost.startsWith('unix://')) {
      const socketPath = dockerHost.slice('unix://'.length);
      const ok = await dockerPing({ socketPath }, timeoutMs);
      return { available: ok, detail: ok ? `DOCKER_HOST=${dockerHost}` : `DOCKER_HOST=${dockerHost} does not answer` };
    }
    if (dockerHost.startsWith('tcp://')) {
      // TLS daemons (DOCKER_TLS_VERIFY) refuse plain HTTP; let testcontainers decide for those.
      if (env['DOCKER_TLS_VERIFY']) return { available: true, detail: `DOCKER_HOST=${dockerHost} (TLS, not pinged)` };
      let u: URL;
      try {
        u = new URL(dockerHost);
      } catch {
        return { available: false, detail: `DOCKER_HOST=${dockerHost} is not a valid URL` };
      }
      const ok = await dockerPing({ host: bareHost(u.hostname), port: Number(u.port || 2375) }, timeoutMs);
      return { available: ok, detail: ok ? `DOCKER_HOST=${dockerHost}` : `DOCKER_HOST=${dockerHost} does not answer` };
    }
    return { available: true, detail: `DOCKER_HOST=${dockerHost} (not pinged)` };
  }
  const socketPath = '/var/run/docker.sock';
  if (!existsSync(socketPath)) return { available: false, detail: 'no container runtime' };
  const ok = await dockerPing({ socketPath }, timeoutMs);
  return { available: ok, detail: ok ? socketPath : `no container runtime (${socketPath} does not answer)` };
}
