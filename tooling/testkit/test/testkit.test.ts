import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordingLogger, RecordingTracer, TcpProxy, deferred, eventually, gate, nextTurn, uniqueName, waitFor, withTimeout } from '../src/index.js';

describe('eventually', () => {
  it('resolves with the value once the check stops throwing', async () => {
    let calls = 0;
    const value = await eventually(() => {
      calls++;
      if (calls < 3) throw new Error('not yet');
      return 'done';
    }, 1000);
    expect(value).toBe('done');
    expect(calls).toBe(3);
  });

  it('treats a false result as not met', async () => {
    let n = 0;
    await expect(eventually(() => ++n >= 2, 1000)).resolves.toBe(true);
    await expect(eventually(() => false, 30)).rejects.toThrow(/not met within 30 ms: the check returned false/);
  });

  it('rethrows the last failure, prefixed with the wait, when time runs out', async () => {
    const failure = eventually(() => expect(1).toBe(2), 30);
    await expect(failure).rejects.toThrow(/not met within 30 ms: .*expected 1 to be 2/);
  });

  it('awaits async checks', async () => {
    let ready = false;
    setTimeout(() => (ready = true), 20);
    await expect(eventually(async () => ready, 1000)).resolves.toBe(true);
  });
});

describe('waitFor', () => {
  it('resolves once the condition holds, and times out naming what it waited for', async () => {
    let n = 0;
    await waitFor('three polls', async () => ++n >= 3, 1000, 1);
    expect(n).toBe(3);
    await expect(waitFor('the consumer to start', () => false, 30, 5)).rejects.toThrow('Timed out after 30 ms waiting for the consumer to start');
  });

  it('fails at once when the check throws, instead of retrying', async () => {
    let calls = 0;
    const check = (): boolean => {
      calls++;
      throw new Error('broken check');
    };
    await expect(waitFor('anything', check, 1000)).rejects.toThrow('broken check');
    expect(calls).toBe(1);
  });
});

describe('uniqueName', () => {
  it('is estest, the label and 8 hex digits, joined by the separator the broker allows, and never repeats', () => {
    expect(uniqueName('retry', ':')).toMatch(/^estest:retry:[\da-f]{8}$/);
    expect(uniqueName('retry')).toMatch(/^estest\.retry\.[\da-f]{8}$/);
    expect(new Set(Array.from({ length: 50 }, () => uniqueName('x'))).size).toBe(50);
  });
});

describe('withTimeout, gate and deferred', () => {
  it('withTimeout passes a settled value through and rejects a promise that never settles', async () => {
    await expect(withTimeout(Promise.resolve(7), 100, 'quick')).resolves.toBe(7);
    const never = gate();
    await expect(withTimeout(never.promise, 20, 'stuck publish')).rejects.toThrow('stuck publish did not settle within 20 ms');
  });

  it('a gate stays shut until opened', async () => {
    const g = gate();
    let passed = false;
    const waiter = g.promise.then(() => (passed = true));
    await nextTurn();
    expect(passed).toBe(false);
    expect(g.isOpen).toBe(false);
    g.open();
    await waiter;
    expect(passed).toBe(true);
    expect(g.isOpen).toBe(true);
  });

  it('a deferred settles from outside', async () => {
    const ok = deferred<number>();
    ok.resolve(3);
    await expect(ok.promise).resolves.toBe(3);
    const failed = deferred();
    failed.reject(new Error('no'));
    await expect(failed.promise).rejects.toThrow('no');
  });
});

describe('RecordingLogger', () => {
  it('keeps lines by level, with their fields', () => {
    const logger = new RecordingLogger();
    logger.warn('slow', { ms: 5 });
    logger.error('down');
    expect(logger.at('warn')).toEqual([{ level: 'warn', message: 'slow', fields: { ms: 5 } }]);
    expect(logger.text).toBe('warn slow {"ms":5}\nerror down {}');
  });
});

describe('RecordingTracer', () => {
  it('gives children the trace id of a local parent and of a remote one carried in headers', () => {
    const tracer = new RecordingTracer({ tracestate: 'k=v' });
    const root = tracer.startSpan('publish', { kind: 'producer' });
    const local = tracer.startSpan('dispatch', { kind: 'internal', parent: root });
    const headers: Record<string, string> = {};
    tracer.inject(root, headers);
    expect(headers).toEqual({ traceparent: `00-${root.traceId}-${root.spanId}-01`, tracestate: 'k=v' });
    const remote = tracer.startSpan('dispatch', { kind: 'consumer', parent: tracer.extract(headers) });

    expect(root.parentSpanId).toBeUndefined();
    expect(local).toMatchObject({ traceId: root.traceId, parentSpanId: root.spanId, remoteParent: false });
    expect(remote).toMatchObject({ traceId: root.traceId, parentSpanId: root.spanId, remoteParent: true });
    expect(new Set(tracer.spans.map((s) => s.spanId)).size).toBe(3);
    expect(tracer.named('dispatch')).toEqual([local, remote]);
  });

  it('extracts only well-formed trace context', () => {
    const tracer = new RecordingTracer();
    const valid = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(tracer.extract({ traceparent: valid })).toEqual({ traceparent: valid });
    expect(tracer.extract({ traceparent: 'garbage' })).toBeUndefined();
    expect(tracer.extract({ traceparent: `00-${'0'.repeat(32)}-b7ad6b7169203331-01` })).toBeUndefined();
    expect(tracer.extract(undefined)).toBeUndefined();
  });
});

describe('TcpProxy', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function echoServer(): Promise<number> {
    const server = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return (server.address() as net.AddressInfo).port;
  }

  function roundTrip(port: number, text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString());
      });
      socket.once('error', reject);
    });
  }

  it('forwards, cuts live connections and refuses new ones while down, and forwards again once up', async () => {
    const port = await echoServer();
    const proxy = await TcpProxy.start(`redis://user:secret@127.0.0.1:${port}/0`);
    closers.push(() => proxy.close());
    expect(proxy.url).toBe(`redis://user:secret@127.0.0.1:${proxy.port}/0`);
    expect(await roundTrip(proxy.port, 'hello')).toBe('hello');

    const live = net.connect(proxy.port, '127.0.0.1');
    await new Promise((resolve) => live.once('connect', resolve));
    const closed = new Promise((resolve) => live.once('close', resolve));
    await proxy.down();
    await closed;
    expect(proxy.isUp).toBe(false);
    await expect(roundTrip(proxy.port, 'refused')).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    await proxy.up();
    expect(await roundTrip(proxy.port, 'again')).toBe('again');
    expect(proxy.connectionsAccepted).toBe(3);
  });

  it('needs a port for a URL without one', async () => {
    await expect(TcpProxy.start('redis://127.0.0.1')).rejects.toThrow(/defaultPort/);
  });
});
