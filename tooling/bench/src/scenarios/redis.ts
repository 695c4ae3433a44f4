import { RedisEventBus } from '@eventsource/bus-redis';
import { EnvelopeCodec, silentLogger } from '@eventsource/core';
import { Redis } from 'ioredis';
import { CONSUMER_CASES, PUBLISH_BATCH, runBrokerScenario, startOurs, type SubjectFactory } from '../harness/broker-scenario.js';
import { comparisonTable, resultsTable } from '../harness/compare.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../harness/scenario.js';
import { benchRegistry, type OrderCreated as Order } from '../fixtures/order-events.js';
import { MOLECULER, startMoleculerGroup } from '../peers/moleculer.js';

const OURS = 'eventsource';
const RAW = 'raw ioredis';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// ── ours ─────────────────────────────────────────────────────────────────────

const ours: SubjectFactory = {
  name: OURS,
  async start(prefix, consumers, onHandled) {
    const options = { redisUrl: REDIS_URL, streamPrefix: prefix, consumerGroup: 'bench', registry: benchRegistry, logger: silentLogger };
    return startOurs({
      consumers,
      onHandled,
      create: () => new RedisEventBus(options),
      ready: (buses) => buses.every((bus) => bus.health().healthy),
      pollMs: 5,
    });
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

const moleculer: SubjectFactory = {
  name: MOLECULER,
  async start(prefix, consumers, onHandled) {
    const url = new URL(REDIS_URL);
    const channel = `${prefix}:orders`;
    const group = await startMoleculerGroup({
      nodePrefix: prefix,
      channel,
      consumers,
      adapter: () => ({
        type: 'Redis',
        options: {
          // protocol 2: the adapter predates ioredis 6's RESP3 default and reads RESP2 reply shapes.
          redis: { host: url.hostname, port: Number(url.port || 6379), protocol: 2, consumerOptions: { readTimeoutInterval: 200, startID: '0' } },
          maxInFlight: 100,
        },
      }),
      onHandled,
    });
    return {
      async publishBatch(events) {
        await Promise.all(events.map((event) => group.send(event)));
      },
      publishOne: (event) => group.send(event),
      async close() {
        await group.stop();
        const admin = new Redis(REDIS_URL);
        await admin.del(channel);
        admin.disconnect();
      },
    };
  },
};

const SUBJECTS: readonly SubjectFactory[] = [ours, raw, moleculer];

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { measurements, sizes } = await runBrokerScenario(ctx, {
    namespaces: { separator: ':', cleanUp: deleteKeys },
    subjects: SUBJECTS,
    cases: CONSUMER_CASES,
  });
  const { total, bodyBytes, repeats, latencyCount, rate } = sizes;

  const notes = [
    `${total} events of ${bodyBytes} bytes of JSON body each (plus envelope fields), published in pipelined batches of ${PUBLISH_BATCH}, ` +
      `consumed in the same process by a group of 1 or 3 consumers; ops/s = events / (first publish → last first-time handling), median of ${repeats} run(s).`,
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
