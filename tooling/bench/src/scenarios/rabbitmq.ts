import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { RabbitMQEventBus } from '@eventsource/bus-rabbitmq';
import { EnvelopeCodec, silentLogger } from '@eventsource/core';
import { connect, type ChannelModel } from 'amqplib';
import { comparisonTable, resultsTable } from '../harness/compare.js';
import { median, percentile } from '../harness/stats.js';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from '../harness/scenario.js';
import { OrderCreated, benchRegistry, makeOrders, type OrderCreated as Order } from '../fixtures/order-events.js';

const OURS = 'eventsource';
const RAW = 'raw amqplib';
const MOLECULER = '@moleculer/channels';
const MOLECULER_PERSISTENT = '@moleculer/channels, persistent messages';
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const PUBLISH_BATCH = 100;
/** The same unacknowledged-message window for every subject. */
const PREFETCH = 100;

type QueueType = 'quorum' | 'classic';

interface RunningSubject {
  /** Resolves once the broker confirmed every event (for @moleculer/channels, which has no confirms: once written). */
  publishBatch(events: readonly Order[]): Promise<void>;
  /** Resolves once handed off, without waiting for confirms (amqplib's backpressure still applies). */
  publishWithoutWaiting(events: readonly Order[]): Promise<void>;
  publishOne(event: Order): Promise<void>;
  close(): Promise<void>;
}

interface SubjectFactory {
  readonly name: string;
  /** `onHandled(eventId)` once per handled event. */
  start(exchange: string, consumers: number, onHandled: (eventId: string) => void): Promise<RunningSubject>;
}

// ── ours ─────────────────────────────────────────────────────────────────────

function ours(queueType: QueueType): SubjectFactory {
  return {
    name: queueType === 'quorum' ? OURS : `${OURS}, classic queue`,
    async start(exchange, consumers, onHandled) {
      const options = {
        rabbitmqUrl: AMQP_URL,
        exchangeName: exchange,
        consumerGroup: 'bench',
        registry: benchRegistry,
        logger: silentLogger,
        prefetchCount: PREFETCH,
        queueType,
      };
      const publisher = new RabbitMQEventBus(options);
      await publisher.connect();
      const buses: RabbitMQEventBus[] = [];
      for (let i = 0; i < consumers; i++) {
        const bus = new RabbitMQEventBus(options);
        await bus.connect();
        bus.subscribe(OrderCreated, (event) => onHandled(event.eventId));
        bus.startConsumingInBackground();
        buses.push(bus);
      }
      for (const bus of buses) while (!bus.health().healthy || !bus.health().consuming) await sleep(5);
      return {
        publishBatch: (events) => publisher.publish(events),
        // Confirmed in the background, at most maxBackgroundTasks batches at once (then inline).
        publishWithoutWaiting: (events) => publisher.publish(events, { background: true }),
        publishOne: (event) => publisher.publish([event]),
        async close() {
          await Promise.all([publisher, ...buses].map((bus) => bus.shutdown(10_000)));
        },
      };
    },
  };
}

// ── raw amqplib: confirm channel, the same envelope, the same decode and ack ──

function raw(queueType: QueueType): SubjectFactory {
  return {
    name: queueType === 'quorum' ? RAW : `${RAW}, classic queue`,
    async start(exchange, consumers, onHandled) {
      const codec = new EnvelopeCodec({ registry: benchRegistry });
      const queue = `${exchange}.bench`;
      const publishing = await connect(AMQP_URL);
      const confirm = await publishing.createConfirmChannel();
      await confirm.assertExchange(exchange, 'topic', { durable: true });
      await confirm.assertQueue(queue, { durable: true, arguments: { 'x-queue-type': queueType } });
      await confirm.bindQueue(queue, exchange, '#');
      const consuming: ChannelModel[] = [];
      for (let c = 0; c < consumers; c++) {
        const model = await connect(AMQP_URL);
        consuming.push(model);
        const channel = await model.createChannel();
        await channel.prefetch(PREFETCH);
        await channel.consume(queue, (message) => {
          if (!message) return;
          // Decode like a consumer must: parse the body and check it.
          const body = JSON.parse(message.content.toString('utf8')) as { eventId?: unknown };
          if (typeof body.eventId === 'string') onHandled(body.eventId);
          channel.ack(message);
        });
      }
      /** False when amqplib's write buffer is full. */
      const send = (event: Order, confirmed?: (error: unknown) => void): boolean => {
        const { headers, body } = codec.encode(event);
        return confirm.publish(exchange, `${event.aggregateType}.${event.eventType}`, Buffer.from(body), { persistent: true, headers, messageId: event.eventId }, confirmed);
      };
      return {
        async publishBatch(events) {
          for (const event of events) send(event);
          await confirm.waitForConfirms();
        },
        async publishWithoutWaiting(events) {
          for (const event of events) if (!send(event)) await once(confirm, 'drain');
        },
        publishOne: (event) => new Promise<void>((resolve, reject) => send(event, (error) => (error ? reject(error as Error) : resolve()))),
        async close() {
          await confirm.waitForConfirms();
          for (const model of consuming) await model.close();
          await confirm.deleteQueue(queue);
          await confirm.deleteExchange(exchange);
          await publishing.close();
        },
      };
    },
  };
}

// ── @moleculer/channels, AMQP adapter ────────────────────────────────────────

interface MoleculerBroker {
  createService(schema: object): unknown;
  start(): Promise<void>;
  stop(): Promise<void>;
  sendToChannel(name: string, payload: unknown): Promise<void>;
}

/**
 * `persistent: false` is its default (transient messages: lost when the broker restarts, never
 * written to disk); `true` gives its messages the durability ours always have.
 */
function moleculer(persistent: boolean): SubjectFactory {
  return {
    name: persistent ? MOLECULER_PERSISTENT : MOLECULER,
    async start(exchange, consumers, onHandled) {
      const require = createRequire(import.meta.url);
      const { ServiceBroker } = require('moleculer') as { ServiceBroker: new (options: object) => MoleculerBroker };
      const channels = require('@moleculer/channels') as {
        Middleware: (options: object) => object;
        Adapters: { AMQP: new (options: object) => { checkClientLibVersion(library: string, versions: string): boolean } };
      };
      const { Middleware } = channels;
      // Its version check reads amqplib/package.json, which amqplib 2 no longer exports; the check
      // only logs a warning, so the bench skips it and runs the adapter on the amqplib we ship.
      class AmqpAdapter extends channels.Adapters.AMQP {
        override checkClientLibVersion(): boolean {
          return true;
        }
      }
      const adapter = () => new AmqpAdapter({ amqp: { url: AMQP_URL, ...(persistent ? { messageOptions: { persistent: true } } : {}) }, maxInFlight: PREFETCH });
      const channel = `${exchange}.orders`;
      const brokers: MoleculerBroker[] = [];
      const publisher = new ServiceBroker({ nodeID: `${exchange}-pub`, logger: false, middlewares: [Middleware({ adapter: adapter() })] });
      await publisher.start();
      brokers.push(publisher);
      for (let i = 0; i < consumers; i++) {
        const broker = new ServiceBroker({ nodeID: `${exchange}-c${i}`, logger: false, middlewares: [Middleware({ adapter: adapter() })] });
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
          for (const event of events) await sendRetryingWhenFull(publisher, channel, event);
        },
        async publishWithoutWaiting(events) {
          for (const event of events) await sendRetryingWhenFull(publisher, channel, event);
        },
        publishOne: (event) => sendRetryingWhenFull(publisher, channel, event),
        async close() {
          for (const broker of brokers.reverse()) await broker.stop();
          const admin = await connect(AMQP_URL);
          const ch = await admin.createChannel();
          await ch.deleteQueue(`bench.${channel}`).catch(() => undefined);
          await admin.close().catch(() => undefined);
        },
      };
    },
  };
}

/**
 * Its adapter does not wait for amqplib's `drain`: when the socket buffer is full it throws
 * "Write buffer is full" and the message is not sent. Its users must retry, so the bench does,
 * after the buffer had a moment to drain.
 */
async function sendRetryingWhenFull(broker: MoleculerBroker, channel: string, event: Order): Promise<void> {
  for (;;) {
    try {
      await broker.sendToChannel(channel, event);
      return;
    } catch (error) {
      if (!/Write buffer is full/.test((error as Error).message)) throw error;
      await sleep(1);
    }
  }
}

/**
 * Quorum (our default) against raw amqplib on a quorum queue; and, since @moleculer/channels can
 * only use a classic queue, both again on a classic queue, so each comparison is like with like.
 */
const SUBJECTS: readonly SubjectFactory[] = [ours('quorum'), raw('quorum'), ours('classic'), raw('classic'), moleculer(false), moleculer(true)];

// ── measurements ─────────────────────────────────────────────────────────────

async function endToEnd(subject: SubjectFactory, consumers: number, events: readonly Order[], waitForConfirms = true): Promise<number> {
  const exchange = `esbench.${randomBytes(4).toString('hex')}`;
  const seen = new Set<string>();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const running = await subject.start(exchange, consumers, (id) => {
    if (!seen.has(id)) {
      seen.add(id);
      if (seen.size === events.length) finish();
    }
  });
  try {
    const start = performance.now();
    for (let i = 0; i < events.length; i += PUBLISH_BATCH) {
      const batch = events.slice(i, i + PUBLISH_BATCH);
      await (waitForConfirms ? running.publishBatch(batch) : running.publishWithoutWaiting(batch));
    }
    await withTimeout(finished, 300_000, `${subject.name}: ${seen.size}/${events.length} handled`);
    return events.length / ((performance.now() - start) / 1000);
  } finally {
    await running.close();
    await deleteOurTopology(exchange);
  }
}

interface LatencyRun {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly samples: number;
}

async function latencyAtRate(subject: SubjectFactory, count: number, perSecond: number): Promise<LatencyRun> {
  const exchange = `esbench.${randomBytes(4).toString('hex')}`;
  const sentAt = new Map<string, number>();
  const samples: number[] = [];
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const running = await subject.start(exchange, 1, (id) => {
    const at = sentAt.get(id);
    if (at === undefined) return;
    sentAt.delete(id);
    samples.push((performance.now() - at) * 1000);
    if (samples.length === count) finish();
  });
  const publishes: Array<Promise<void>> = [];
  let failed: unknown;
  try {
    const events = makeOrders(count);
    const interval = 1000 / perSecond;
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const wait = start + i * interval - performance.now();
      if (wait > 1) await sleep(wait);
      const event = events[i]!;
      sentAt.set(event.eventId, performance.now());
      // Not awaited: the rate is fixed, whatever the confirms take. Failures end the run below.
      publishes.push(running.publishOne(event).catch((error: unknown) => void (failed ??= error)));
    }
    await withTimeout(finished, 60_000, `${subject.name}: ${samples.length}/${count} latency samples`);
    // A handler can run before its publish is confirmed: wait for every confirm before closing.
    await withTimeout(Promise.all(publishes), 30_000, `${subject.name}: confirms of the latency run`);
    if (failed !== undefined) throw new Error(`${subject.name}: a publish of the latency run failed`, { cause: failed });
    return { p50Us: percentile(samples, 50), p99Us: percentile(samples, 99), samples: samples.length };
  } finally {
    await running.close();
    await deleteOurTopology(exchange);
  }
}

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const total = ctx.settings.quick ? 20_000 : 100_000;
  const latencyCount = ctx.settings.quick ? 1000 : 3000;
  const rate = 1000;
  const events = makeOrders(total);
  const bodyBytes = Buffer.byteLength(JSON.stringify(events[0]));
  const measurements: Measurement[] = [];

  for (const subject of SUBJECTS) {
    ctx.progress(`${subject.name}: warm-up…`);
    await endToEnd(subject, 1, makeOrders(ctx.settings.quick ? 5000 : 10_000));
  }
  // Subjects take turns within each repeat, so a burst of load from elsewhere on the machine
  // lands on all of them rather than on one.
  const repeats = ctx.settings.quick ? 1 : 3;
  const cases = [
    { name: 'end to end, 1 consumer', consumers: 1, waitForConfirms: true },
    { name: 'end to end, 3 consumers', consumers: 3, waitForConfirms: true },
    { name: `end to end, 1 consumer, publisher not waiting for confirms`, consumers: 1, waitForConfirms: false },
  ];
  for (const { name, consumers, waitForConfirms } of cases) {
    const runs = new Map<string, number[]>(SUBJECTS.map((subject) => [subject.name, []]));
    for (let repeat = 1; repeat <= repeats; repeat++) {
      for (const subject of SUBJECTS) {
        ctx.progress(`${subject.name}: ${total} events, ${name}, run ${repeat}/${repeats}…`);
        const opsPerSec = await endToEnd(subject, consumers, events, waitForConfirms);
        runs.get(subject.name)!.push(opsPerSec);
        ctx.progress(`${subject.name}: ${Math.round(opsPerSec)} events/s`);
      }
    }
    for (const subject of SUBJECTS) {
      const opsPerSecRuns = runs.get(subject.name)!;
      measurements.push({ case: name, subject: subject.name, unit: 'events', opsPerSec: median(opsPerSecRuns), opsPerSecRuns });
    }
  }
  // A latency run is short (3 s), and one burst of load elsewhere moves its p99: more repeats.
  const latencyRepeats = ctx.settings.quick ? 1 : 5;
  const latencyRuns = new Map<string, LatencyRun[]>(SUBJECTS.map((subject) => [subject.name, []]));
  for (let repeat = 1; repeat <= latencyRepeats; repeat++) {
    for (const subject of SUBJECTS) {
      ctx.progress(`${subject.name}: publish→handle latency at ${rate}/s, ${latencyCount} events, run ${repeat}/${latencyRepeats}…`);
      const result = await latencyAtRate(subject, latencyCount, rate);
      latencyRuns.get(subject.name)!.push(result);
      ctx.progress(`${subject.name}: p50 ${(result.p50Us / 1000).toFixed(1)} ms, p99 ${(result.p99Us / 1000).toFixed(1)} ms`);
    }
  }
  for (const subject of SUBJECTS) {
    const runsOf = latencyRuns.get(subject.name)!;
    measurements.push({
      case: `latency at ${rate}/s`,
      subject: subject.name,
      unit: 'events',
      p50Us: median(runsOf.map((r) => r.p50Us)),
      p99Us: median(runsOf.map((r) => r.p99Us)),
      latencyRuns: runsOf,
    });
  }

  const notes = [
    `${total} events of ${bodyBytes} bytes of JSON body each (plus envelope headers), published in batches of ${PUBLISH_BATCH} awaited for confirms, ` +
      `consumed in the same process by a group of 1 or 3 consumers with prefetch ${PREFETCH}; ops/s = events / (first publish → last first-time handling), median of ${repeats} run(s), subjects taking turns.`,
    `"publisher not waiting for confirms": ${OURS} publishes each batch with { background: true } (confirmed in the background, bounded by maxBackgroundTasks), ` +
      `${RAW} writes without waitForConfirms (waiting only for drain), ${MOLECULER} as always. ${MOLECULER} never waits for confirms, so this is the case to compare it on.`,
    `${OURS}: RabbitMQEventBus defaults (quorum queue, persistent messages, publisher confirms, batched acks, retries and DLQ available) with prefetchCount ${PREFETCH}; "classic queue": the same with queueType 'classic'.`,
    `${RAW}: a confirm channel (publish ${PUBLISH_BATCH}, then waitForConfirms), the same headers and body, the same queue type, JSON.parse of each body and one ack per message; no retries or DLQ.`,
    `${MOLECULER}: its AMQP adapter (maxInFlight ${PREFETCH}, so prefetch ${PREFETCH}) on a classic queue (it cannot declare a quorum one); it publishes without confirms, ` +
      'and throws "Write buffer is full" instead of waiting for drain, so the bench retries those after 1 ms. Compare it with the classic-queue rows. ' +
      `Its default publishes transient messages (never written to disk, lost when the broker restarts); "${MOLECULER_PERSISTENT}" sets its messageOptions.persistent, the durability ${OURS} and ${RAW} always have.`,
    `latency: one event every ${1000 / rate} ms, 1 consumer, time from publish() call to handler; p50/p99 over ${latencyCount} events, median of ${latencyRepeats} run(s). ` +
      'On a quorum queue a message is delivered only once it is committed (fsynced), so its latency is that of a confirm; a classic queue delivers before its fsync.',
    `Goals (ratios to ${RAW} on the same queue type): throughput >= 0.90×, p99 <= 1.5×; and ahead of ${MOLECULER}. ` +
      `${MOLECULER} acknowledges no publish and, by default, keeps messages in memory only; neither can be turned off in ${OURS}, whose awaited publish() means "the broker has it durably".`,
  ];
  return {
    measurements,
    tables: [
      resultsTable('RabbitMQ: end to end and latency', measurements),
      comparisonTable(`RabbitMQ, quorum queues: ${OURS} relative to each baseline`, measurements, OURS, [RAW, MOLECULER_PERSISTENT, MOLECULER]),
      comparisonTable(`RabbitMQ, classic queues: ${OURS} relative to each baseline`, measurements, `${OURS}, classic queue`, [`${RAW}, classic queue`, MOLECULER_PERSISTENT, MOLECULER]),
    ],
    notes,
  };
}

export const rabbitmqScenario: Scenario = {
  name: 'rabbitmq',
  description: `RabbitMQ end to end (RabbitMQEventBus vs raw amqplib vs ${MOLECULER}) at ${AMQP_URL.replace(/\/\/[^@/]*@/, '//***@')}`,
  async checkAvailable() {
    try {
      const probe = await connect(AMQP_URL);
      await probe.close();
      return true;
    } catch (error) {
      return `no RabbitMQ answers at AMQP_URL (${(error as Error).message}); start one or set AMQP_URL`;
    }
  },
  run,
};

/** Deletes the bus's exchange and group queue (and DLQ) left by one run. */
async function deleteOurTopology(exchange: string): Promise<void> {
  const admin = await connect(AMQP_URL);
  try {
    for (const queue of [`${exchange}.bench`, `${exchange}.bench.dlq`]) {
      const channel = await admin.createChannel();
      channel.on('error', () => {});
      await channel.deleteQueue(queue).catch(() => undefined);
      await channel.close().catch(() => undefined);
    }
    const channel = await admin.createChannel();
    channel.on('error', () => {});
    await channel.deleteExchange(exchange).catch(() => undefined);
    await channel.close().catch(() => undefined);
  } finally {
    await admin.close().catch(() => undefined);
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
