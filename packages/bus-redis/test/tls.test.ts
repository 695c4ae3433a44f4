import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TransportError } from '@eventsource/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEventBus } from '../src/index.js';
import { OrderPlaced, busOptions, order, waitFor } from './support/redis.js';
import { RedisServerProcess, freePort, tempDir, toolsAvailable, within } from './support/private-redis.js';

const available = toolsAvailable('redis-server', 'openssl');

/** A throwaway CA and a server certificate it signed, valid for 127.0.0.1 only. */
async function makeCertificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=eventsource test CA', '-keyout', path('ca.key'), '-out', path('ca.crt'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', path('server.key'), '-out', path('server.csr'));
  await writeFile(path('server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509', '-req', '-days', '1', '-in', path('server.csr'), '-CA', path('ca.crt'), '-CAkey', path('ca.key'), '-CAcreateserial',
    '-extfile', path('server.ext'), '-out', path('server.crt'),
  );
  return { ca: path('ca.crt'), cert: path('server.crt'), key: path('server.key') };
}

describe.skipIf(!available)('RedisEventBus over TLS (rediss://) against a private TLS-only redis-server', () => {
  let dir: string;
  let server: RedisServerProcess | undefined;
  let port: number;
  let ca: string;
  const buses: RedisEventBus[] = [];

  beforeAll(async () => {
    dir = await tempDir('tls');
    const files = await makeCertificates(dir);
    ca = await readFile(files.ca, 'utf8');
    port = await freePort();
    server = await RedisServerProcess.start(
      [
        // Port 0 turns the plain-text listener off: the TLS port is the only way in.
        '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1',
        '--tls-cert-file', files.cert, '--tls-key-file', files.key, '--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'no',
        '--save', '', '--appendonly', 'no', '--dir', dir,
      ],
      { url: `rediss://127.0.0.1:${port}`, options: { tls: { ca } } },
    );
  });

  afterAll(async () => {
    await Promise.all(buses.map((bus) => bus.shutdown(2000)));
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function tlsBus(redisUrl: string, tls?: { ca: string }): RedisEventBus {
    const bus = new RedisEventBus(
      busOptions('tls', {
        redisUrl,
        redisOptions: { ...(tls ? { tls } : {}), maxRetriesPerRequest: 1 },
        reconnectBaseDelayMs: 50,
        reconnectMaxDelayMs: 200,
      }),
    );
    buses.push(bus);
    return bus;
  }

  it('publishes and consumes through rediss:// with the CA passed in redisOptions.tls', async () => {
    const bus = tlsBus(`rediss://127.0.0.1:${port}`, { ca });
    await bus.connect();
    const handled: number[] = [];
    bus.subscribe(OrderPlaced, (event) => void handled.push(event.n));
    bus.startConsumingInBackground();
    await bus.publish([order(1), order(2), order(3)]);

    await waitFor('three events delivered over TLS', () => handled.length >= 3);
    expect([...handled].sort()).toEqual([1, 2, 3]);
    await waitFor('the entries acknowledged', async () => (await bus.getStreamInfo()).pendingMessages === 0);
    expect((await bus.getStreamInfo()).length).toBe(3);
    expect(bus.health()).toMatchObject({ healthy: true, connected: true, consuming: true });
  });

  it('a plain redis:// URL to the TLS port fails connect() with a TransportError naming the URL, and shutdown() does not hang', async () => {
    const bus = tlsBus(`redis://127.0.0.1:${port}`);
    const error = await within(10_000, 'connect() over plain TCP to a TLS port', bus.connect().then(() => undefined, (e: unknown) => e));
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toContain(`Could not connect to redis://127.0.0.1:${port}`);
    expect(bus.health().healthy).toBe(false);
    await within(10_000, 'shutdown() of a bus that never connected', bus.shutdown(2000));
  });

  it('rediss:// without the CA fails connect() with the certificate error, not a hang', async () => {
    const bus = tlsBus(`rediss://127.0.0.1:${port}`);
    const error = await within(10_000, 'connect() with an untrusted certificate', bus.connect().then(() => undefined, (e: unknown) => e));
    expect(error).toBeInstanceOf(TransportError);
    expect((error as Error).message).toMatch(/certificate/i);
    await within(10_000, 'shutdown() of a bus that never connected', bus.shutdown(2000));
  });
});
