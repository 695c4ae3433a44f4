import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { RedisEventBus } from '@eventsource/bus-redis';
import { EnvelopeCodec, silentLogger } from '@eventsource/core';
import { Redis } from 'ioredis';
import { comparisonTable, resultsTable } from '../harness/compare.js';
import { median, percentile } from '../harness/stats.js';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from '../harness/scenario.js';
import { OrderCreated, benchRegistry, makeOrders, type OrderCreated as Order } from '../fixtures/order-events.js';

const OURS = 'eventsource';
const RAW = 'raw ioredis';
const MOLECULER = '@moleculer/channels';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const PUBLISH_BATCH = 100;

/** Handed each event as its consumer sees it; returns when everything is closed. */
interface RunningSubject {
  publishBatch(events: readonly Order[]): Promise<void>;
  publishOne(event: Order): Promise<void>;
  close(): Promise<void>;
}

interface SubjectFactory {
  readonly name: string;
  /** `onHandled(eventId)` once per handled event. */
  start(prefix: string, consumers: number, onHandled: (eventId: string) => void): Promise<RunningSubject>;
}

// ── ours ─────────────────────────────────────────────────────────────────────

const ours: SubjectFactory = {
  name: OURS,
  async start(prefix, consumers, onHandled) {
    const options = { redisUrl: REDIS_URL, streamPrefix: prefix, consumerGroup: 'bench', registry: benchRegistry, logger: silentLogger };
    const publisher = new RedisEventBus(options);
    await publisher.connect();
    const buses: RedisEventBus[] = [];
    for (let i = 0; i < consumers; i++) {
      const bus = new RedisEventBus(options);
      await bus.connect();
      bus.subscribe(OrderCreated, (event) => onHandled(event.eventId));
      bus.startConsumingInBackground();
      buses.push(bus);
    }
    for (const bus of buses) while (!bus.health().healthy) await sleep(5);
    return {
      publishBatch: (events) => publisher.publish(events),
      publishOne: (event) => publisher.publish([event]),
      async close() {
        await Promise.all([publisher, ...buses].map((bus) => bus.shutdown(10_000)));
      },
    };
  },
};

// ── the raw ioredis loop: the same entries, the same work, no library ───────────

const raw: SubjectFactory = {
  name: RAW,
  async start(prefix, consumers, onHandled) {
    const stream = `${prefix}:stream`;
    // Same wire form as ours: the envelope headers, key and body as fields.
    const codec = new EnvelopeCodec({ registry: benchRegistry });
    const publisher = new Redis(REDIS_URL);
    await publisher.call('XGROUP', ['CREATE', stream, 'bench', '0', 'MKSTREAM']);
    let stopping = false;
    const loops: Array<Promise<void>> = [];
    const clients: Redis[] = [publisher];
    for (let c = 0; c < consumers; c++) {
      const reader = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const acker = new Redis(REDIS_URL);
      clients.push(reader, acker);
      loops.push(
        (async () => {
          while (!stopping) {
            const reply = await reader.call('XREADGROUP', ['GROUP', 'bench', `c${c}`, 'COUNT', '100', 'BLOCK', '200', 'STREAMS', stream, '>']);
            if (!reply) continue;
            const entries = (typeof (reply as unknown[])[0] === 'string' ? (reply as unknown[])[1] : (reply as unknown[][])[0]![1]) as Array<[string, string[]]>;
            const ids: string[] = [];
            for (const [id, fields] of entries) {
              // Decode like a consumer must: parse the body and check it.
              const body = JSON.parse(fields[fields.length - 1]!) as { eventId?: unknown };
              if (typeof body.eventId === 'string') onHandled(body.eventId);
              ids.push(id);
            }
            await acker.call('XACK', [stream, 'bench', ...ids]);
          }
        })(),
      );
    }
    const xadd = (event: Order): string[] => {
      const { key, headers, body } = codec.encode(event);
      const args = [stream, 'MAXLEN', '~', '1000000', '*'];
      for (const name in headers) args.push(name, headers[name]!);
      args.push('key', key, 'body', body);
      return args;
    };
    return {
      async publishBatch(events) {
        const pipeline = publisher.pipeline();
        for (const event of events) pipeline.call('XADD', xadd(event));
        await pipeline.exec();
      },
      async publishOne(event) {
        await publisher.call('XADD', xadd(event));
      },
      async close() {
        stopping = true;
        await Promise.all(loops);
        for (const client of clients) client.disconnect();
      },
    };
  },
};

// ── @moleculer/channels, Redis adapter ───────────────────────────────────────

interface MoleculerBroker {
  createService(schema: object): unknown;
  start(): Promise<void>;
  stop(): Promise<void>;
  sendToChannel(name: string, payload: unknown): Promise<void>;
}

const moleculer: SubjectFactory = {
  name: MOLECULER,
  async start(prefix, consumers, onHandled) {
    const require = createRequire(import.meta.url);
    const { ServiceBroker } = require('moleculer') as { ServiceBroker: new (options: object) => MoleculerBroker };
    const { Middleware } = require('@moleculer/channels') as { Middleware: (options: object) => object };
    const url = new URL(REDIS_URL);
    const adapter = () => ({
      type: 'Redis',
      options: {
        // protocol 2: the adapter predates ioredis 6's RESP3 default and reads RESP2 reply shapes.
        redis: { host: url.hostname, port: Number(url.port || 6379), protocol: 2, consumerOptions: { readTimeoutInterval: 200, startID: '0' } },
        maxInFlight: 100,
      },
    });
    const channel = `${prefix}:orders`;
    const brokers: MoleculerBroker[] = [];
    const publisher = new ServiceBroker({ nodeID: `${prefix}-pub`, logger: false, middlewares: [Middleware({ adapter: adapter() })] });
    await publisher.start();
    brokers.push(publisher);
    for (let i = 0; i < consumers; i++) {
      const broker = new ServiceBroker({ nodeID: `${prefix}-c${i}`, logger: false, middlewares: [Middleware({ adapter: adapter() })] });
      broker.createService({
        name: `consumer${i}`,
        channels: {
          [channel]: {
            group: 'bench',
            handler(payload: { eventId: string }) {
              onHandled(payload.eventId);
            },
          },
        },
      });
      await broker.start();
      brokers.push(broker);
    }
    return {
      async publishBatch(events) {
        await Promise.all(events.map((event) => publisher.sendToChannel(channel, event)));
      },
      publishOne: (event) => publisher.sendToChannel(channel, event),
      async close() {
        for (const broker of brokers.reverse()) await broker.stop();
        const admin = new Redis(REDIS_URL);
        await admin.del(channel);
        admin.disconnect();
      },
    };
  },
};

const SUBJECTS: readonly SubjectFactory[] = [ours, raw, moleculer];

// ── measurements ─────────────────────────────────────────────────────────────

async function endToEnd(subject: SubjectFactory, consumers: number, events: readonly Order[]): Promise<number> {
  const prefix = `esbench:${randomBytes(4).toString('hex')}`;
  const seen = new Set<string>();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const running = await subject.start(prefix, consumers, (id) => {
    if (!seen.has(id)) {
      seen.add(id);
      if (seen.size === events.length) finish();
    }
  });
  try {
    const start = performance.now();
    for (let i = 0; i < events.length; i += PUBLISH_BATCH) await running.publishBatch(events.slice(i, i + PUBLISH_BATCH));
    await withTimeout(finished, 300_000, `${subject.name}: ${seen.size}/${events.length} handled`);
    const seconds = (performance.now() - start) / 1000;
    return events.length / seconds;
  } finally {
    await running.close();
    await deleteKeys(prefix);
  }
}

async function latencyAtRate(subject: SubjectFactory, count: number, perSecond: number): Promise<{ p50Us: number; p99Us: number }> {
  const prefix = `esbench:${randomBytes(4).toString('hex')}`;
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const running = await subject.start(prefix, 1, (id) => {
    const at = sentAt.get(id);
    if (at === undefined) return;
    sentAt.delete(id);
    samples.push((performance.now() - at) * 1000);
    if (samples.length === count) finish();
  });
  try {
    const events = makeOrders(count);
    const interval = 1000 / perSecond;
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const due = start + i * interval;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const event = events[i]!;
      sentAt.set(event.eventId, performance.now());
      void running.publishOne(event);
    }
    await withTimeout(finished, 60_000, `${subject.name}: ${samples.length}/${count} latency samples`);
    return { p50Us: percentile(samples, 50), p99Us: percentile(samples, 99) };
  } finally {
    await running.close();
    await deleteKeys(prefix);
  }
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const total = ctx.settings.quick ? 20_000 : 100_000;
  const latencyCount = ctx.settings.quick ? 1000 : 3000;
  const rate = 1000;
  const events = makeOrders(total);
  const bodyBytes = Buffer.byteLength(JSON.stringify(events[0]));
  const measurements: Measurement[] = [];

  // Warm-up: every subject once, unmeasured, so none pays for the JIT inside its numbers.
  for (const subject of SUBJECTS) {
    ctx.progress(`${subject.name}: warm-up…`);
    await endToEnd(subject, 1, makeOrders(ctx.settings.quick ? 5000 : 20_000));
  }
  // Subjects take turns within each repeat, so a slow patch of the shared machine hits all of them.
  const repeats = ctx.settings.quick ? 1 : 3;
  for (const consumers of [1, 3]) {
    const runs = new Map<string, number[]>(SUBJECTS.map((subject) => [subject.name, []]));
    for (let repeat = 1; repeat <= repeats; repeat++) {
      for (const subject of SUBJECTS) {
        ctx.progress(`${subject.name}: ${total} events end to end, ${consumers} consumer(s), run ${repeat}/${repeats}…`);
        const opsPerSec = await endToEnd(subject, consumers, events);
        runs.get(subject.name)!.push(opsPerSec);
        ctx.progress(`${subject.name}: ${Math.round(opsPerSec)} events/s`);
      }
    }
    for (const subject of SUBJECTS) {
      const opsPerSecRuns = runs.get(subject.name)!;
      measurements.push({
        case: `end to end, ${consumers} consumer${consumers > 1 ? 's' : ''}`,
        subject: subject.name,
        unit: 'events',
        opsPerSec: median(opsPerSecRuns),
        opsPerSecRuns,
      });
    }
  }
  for (const subject of SUBJECTS) {
    ctx.progress(`${subject.name}: publish→handle latency at ${rate}/s, ${latencyCount} events…`);
    const { p50Us, p99Us } = await latencyAtRate(subject, latencyCount, rate);
    measurements.push({ case: `latency at ${rate}/s`, subject: subject.name, unit: 'events', p50Us, p99Us });
  }

  const notes = [
    `${total} events of ${bodyBytes} bytes of JSON body each (plus envelope fields), published in pipelined batches of ${PUBLISH_BATCH}, ` +
      `consumed in the same process by a group of 1 or 3 consumers; ops/s = events / (first publish → last first-time handling), median of ${ctx.settings.quick ? 1 : 3} run(s).`,
    `${RAW}: pipelined XADD of the same envelope fields, XREADGROUP COUNT 100, JSON.parse of each body, one XACK per batch; no retries, DLQ or reclaim.`,
    `${MOLECULER}: its Redis adapter (maxInFlight 100); one XADD per message, ${PUBLISH_BATCH} in flight.`,
    `latency: one event every ${1000 / rate} ms, 1 consumer, time from publish() call to handler; p50/p99 over ${latencyCount} events.`,
    `Goals (ratios to ${RAW}): throughput >= 0.90×, p99 <= 1.5×; and ahead of ${MOLECULER}.`,
  ];
  return {
    measurements,
    tables: [
      resultsTable('Redis Streams: end to end and latency', measurements),
      comparisonTable(`Redis: ${OURS} relative to each baseline`, measurements, OURS, [RAW, MOLECULER]),
    ],
    notes,
  };
}

export const redisScenario: Scenario = {
  name: 'redis',
  description: `Redis Streams end to end (RedisEventBus vs a raw ioredis loop vs ${MOLECULER}) at ${REDIS_URL.replace(/\/\/[^@/]*@/, '//***@')}`,
  async checkAvailable() {
    const probe = new Redis(REDIS_URL, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      return true;
    } catch (error) {
      return `no Redis answers at REDIS_URL (${(error as Error).message}); start one or set REDIS_URL`;
    } finally {
      probe.disconnect();
    }
  },
  run,
};

async function deleteKeys(prefix: string): Promise<void> {
  const admin = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await admin.del(...keys);
    } while (cursor !== '0');
  } finally {
    admin.disconnect();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
