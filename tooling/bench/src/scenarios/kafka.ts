import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import Kafka from '@confluentinc/kafka-javascript';
import { KafkaEventBus } from '@eventsource/bus-kafka';
import { EnvelopeCodec, silentLogger } from '@eventsource/core';
import { comparisonTable, resultsTable } from '../harness/compare.js';
import { median, percentile } from '../harness/stats.js';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from '../harness/scenario.js';
import { OrderCreated, benchRegistry, makeOrders, type OrderCreated as Order } from '../fixtures/order-events.js';

const OURS = 'eventsource';
const RAW = 'raw confluent';
const MOLECULER = '@moleculer/channels';
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const PUBLISH_BATCH = 100;
const PARTITIONS = 6;

/**
 * Client settings every subject shares where it can: the bus's defaults (acks all, idempotent,
 * gzip, linger 5 ms) and a short heartbeat, so three consumers join in about half a second.
 */
const PRODUCER = { acks: -1, 'enable.idempotence': true, 'compression.type': 'gzip', 'linger.ms': 5 } as const;
const GROUP = { 'heartbeat.interval.ms': 500, 'session.timeout.ms': 6000, 'fetch.wait.max.ms': 100 } as const;

interface RunningSubject {
  publishBatch(events: readonly Order[]): Promise<void>;
  publishOne(event: Order): Promise<void>;
  close(): Promise<void>;
}

interface SubjectFactory {
  readonly name: string;
  /** `onHandled(eventId)` once per handled event; resolves once every consumer holds its partitions. */
  start(topic: string, consumers: number, onHandled: (eventId: string) => void): Promise<RunningSubject>;
}

// ── ours ─────────────────────────────────────────────────────────────────────

const ours: SubjectFactory = {
  name: OURS,
  async start(topic, consumers, onHandled) {
    const options = {
      bootstrapServers: BROKERS,
      topicPrefix: topic,
      consumerGroup: 'bench',
      registry: benchRegistry,
      logger: silentLogger,
      partitions: PARTITIONS,
      heartbeatIntervalMs: GROUP['heartbeat.interval.ms'],
      sessionTimeoutMs: GROUP['session.timeout.ms'],
    };
    const publisher = new KafkaEventBus(options);
    await publisher.connect();
    const buses: KafkaEventBus[] = [];
    for (let i = 0; i < consumers; i++) {
      const bus = new KafkaEventBus({ ...options, consumerName: `c${i}` });
      await bus.connect();
      bus.subscribe(OrderCreated, (event) => onHandled(event.eventId));
      bus.startConsumingInBackground();
      buses.push(bus);
    }
    // Main and retry topic: 2 × PARTITIONS partitions in all, every member holding some.
    while (buses.reduce((n, bus) => n + bus.getStats().assignedPartitions, 0) !== 2 * PARTITIONS || buses.some((bus) => bus.getStats().assignedPartitions === 0)) await sleep(20);
    return {
      publishBatch: (events) => publisher.publish(events),
      publishOne: (event) => publisher.publish([event]),
      async close() {
        await Promise.all([publisher, ...buses].map((bus) => bus.shutdown(10_000)));
      },
    };
  },
};

// ── the raw Confluent client: the same records, the same work, no library ────────

const raw: SubjectFactory = {
  name: RAW,
  async start(topic, consumers, onHandled) {
    await createTopic(topic, PARTITIONS);
    // Same wire form as ours: the envelope's key, headers and body.
    const codec = new EnvelopeCodec({ registry: benchRegistry });
    const producer = new Kafka.Producer({ 'bootstrap.servers': BROKERS, 'allow.auto.create.topics': false, dr_cb: true, ...PRODUCER } as never);
    await new Promise<void>((resolve, reject) => producer.connect({}, (error) => (error ? reject(error) : resolve())));
    producer.setPollInBackground(true);
    producer.on('delivery-report', (error, report) => (report.opaque as (e: unknown) => void)(error));
    const produce = (event: Order): Promise<void> => {
      const { key, headers, body } = codec.encode(event);
      return new Promise<void>((resolve, reject) => {
        const headerList = Object.keys(headers).map((name) => ({ [name]: headers[name]! }));
        producer.produce(topic, null, Buffer.from(body), key, Date.now(), (error: unknown) => (error ? reject(error) : resolve()), headerList);
      });
    };

    let stopping = false;
    const commits = new Set<Promise<void>>();
    const commitErrors: unknown[] = [];
    const members: Kafka.KafkaConsumer[] = [];
    const loops: Array<Promise<void>> = [];
    for (let c = 0; c < consumers; c++) {
      const consumer = new Kafka.KafkaConsumer(
        {
          'bootstrap.servers': BROKERS,
          'group.id': 'bench',
          'allow.auto.create.topics': false,
          'enable.auto.commit': false,
          'auto.offset.reset': 'earliest',
          'partition.assignment.strategy': 'cooperative-sticky',
          ...GROUP,
        } as never,
        // No topic config argument: an explicit one (even {}) replaces the default topic config,
        // dropping the global auto.offset.reset above, and the consumer would start at the end,
        // skipping whatever was produced before its first offset query.
      );
      await new Promise<void>((resolve, reject) => consumer.connect({}, (error) => (error ? reject(error) : resolve())));
      consumer.setDefaultConsumeTimeout(100);
      (consumer as unknown as { setDefaultIsTimeoutOnlyForFirstMessage(v: boolean): void }).setDefaultIsTimeoutOnlyForFirstMessage(true);
      consumer.subscribe([topic]);
      members.push(consumer);
      loops.push(
        (async () => {
          while (!stopping) {
            const messages = await new Promise<Kafka.Message[]>((resolve) => consumer.consume(500, (error, batch) => resolve(error ? [] : batch)));
            if (messages.length === 0) continue;
            const next = new Map<string, { topic: string; partition: number; offset: number }>();
            for (const message of messages) {
              // Decode like a consumer must, with the codec ours uses: headers and body to a checked event.
              const headers: Record<string, string> = {};
              for (const header of message.headers ?? []) for (const name in header) headers[name] = header[name]!.toString();
              const event = codec.decodeNow({ headers, body: message.value ?? undefined });
              onHandled((event instanceof Promise ? await event : event).eventId);
              next.set(`${message.partition}`, { topic: message.topic, partition: message.partition, offset: message.offset + 1 });
            }
            // Commit after handling. Not awaited before the next poll, as ours does not: librdkafka
            // sends a consumer's commits in order, and close() waits for the last ones.
            const committed = new Promise<void>((resolve) =>
              (consumer as unknown as { commitCb(t: unknown[], cb: (error: unknown) => void): void }).commitCb([...next.values()], (error) => {
                if (error) commitErrors.push(error);
                resolve();
              }),
            );
            commits.add(committed);
            void committed.then(() => commits.delete(committed));
          }
        })(),
      );
    }
    while (members.some((m) => m.assignments().length === 0) || members.reduce((n, m) => n + m.assignments().length, 0) !== PARTITIONS) await sleep(20);
    return {
      async publishBatch(events) {
        await Promise.all(events.map(produce));
      },
      publishOne: produce,
      async close() {
        stopping = true;
        await Promise.all(loops);
        await Promise.all(commits);
        await Promise.all(members.map((m) => new Promise<void>((resolve) => m.disconnect(() => resolve()))));
        await new Promise<void>((resolve) => producer.disconnect(() => resolve()));
        // A failed commit would mean records read again: the baseline would not be doing the same work.
        if (commitErrors.length > 0) throw new Error(`${RAW}: ${commitErrors.length} commit(s) failed, first: ${String(commitErrors[0])}`);
      },
    };
  },
};

// ── @moleculer/channels, Kafka adapter (KafkaJS) ─────────────────────────────

interface MoleculerBroker {
  createService(schema: object): unknown;
  start(): Promise<void>;
  stop(): Promise<void>;
  sendToChannel(name: string, payload: unknown): Promise<void>;
}

const moleculer: SubjectFactory = {
  name: MOLECULER,
  async start(topic, consumers, onHandled) {
    await createTopic(topic, PARTITIONS);
    const require = createRequire(import.meta.url);
    const { ServiceBroker } = require('moleculer') as { ServiceBroker: new (options: object) => MoleculerBroker };
    const { Middleware } = require('@moleculer/channels') as { Middleware: (options: object) => object };
    const adapter = () => ({ type: 'Kafka', options: { kafka: { brokers: BROKERS.split(',') }, maxInFlight: 100 } });
    const brokers: MoleculerBroker[] = [];
    const publisher = new ServiceBroker({ nodeID: `${topic}-pub`, logger: false, middlewares: [Middleware({ adapter: adapter() })] });
    await publisher.start();
    brokers.push(publisher);
    for (let i = 0; i < consumers; i++) {
      const broker = new ServiceBroker({ nodeID: `${topic}-c${i}`, logger: false, middlewares: [Middleware({ adapter: adapter() })] });
      broker.createService({
        name: `consumer${i}`,
        channels: {
          [topic]: {
            group: 'bench',
            kafka: { fromBeginning: true, partitionsConsumedConcurrently: PARTITIONS, heartbeatInterval: 500 },
            handler(payload: { eventId: string }) {
              onHandled(payload.eventId);
            },
          },
        },
      });
      await broker.start();
      brokers.push(broker);
    }
    // KafkaJS gives no join hook through the middleware: give the group time to form.
    await sleep(4000);
    return {
      async publishBatch(events) {
        await Promise.all(events.map((event) => publisher.sendToChannel(topic, event)));
      },
      publishOne: (event) => publisher.sendToChannel(topic, event),
      async close() {
        for (const broker of brokers.reverse()) await broker.stop();
      },
    };
  },
};

const SUBJECTS: readonly SubjectFactory[] = (process.env.BENCH_KAFKA_SUBJECTS ? [ours, raw, moleculer].filter((s) => process.env.BENCH_KAFKA_SUBJECTS!.split(",").includes(s.name)) : [ours, raw, moleculer]);

// ── measurements ─────────────────────────────────────────────────────────────

async function endToEnd(subject: SubjectFactory, consumers: number, events: readonly Order[]): Promise<number> {
  const topic = `esbench.${randomBytes(4).toString('hex')}`;
  const seen = new Set<string>();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const running = await subject.start(topic, consumers, (id) => {
    if (!seen.has(id)) {
      seen.add(id);
      if (seen.size === events.length) finish();
    }
  });
  try {
    const start = performance.now();
    for (let i = 0; i < events.length; i += PUBLISH_BATCH) await running.publishBatch(events.slice(i, i + PUBLISH_BATCH));
    await withTimeout(finished, 300_000, `${subject.name}: ${seen.size}/${events.length} handled`);
    return events.length / ((performance.now() - start) / 1000);
  } finally {
    await running.close();
    await deleteTopics(topic);
  }
}

/** Steady-state publish→handle latency: a warm-up series first, unsampled, so a subject's start-up (first fetch, producer id) is not in p99. */
async function latencyAtRate(subject: SubjectFactory, count: number, perSecond: number): Promise<{ p50Us: number; p99Us: number; firstUs: number }> {
  const topic = `esbench.${randomBytes(4).toString('hex')}`;
  const sentAt = new Map<string, number>();
  let samples: number[] = [];
  let target = 0;
  let finish: () => void = () => {};
  const running = await subject.start(topic, 1, (id) => {
    const at = sentAt.get(id);
    if (at === undefined) return;
    sentAt.delete(id);
    samples.push((performance.now() - at) * 1000);
    if (samples.length === target) finish();
  });
  const series = async (n: number, what: string): Promise<number[]> => {
    samples = [];
    target = n;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const events = makeOrders(n);
    const interval = 1000 / perSecond;
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const wait = start + i * interval - performance.now();
      if (wait > 1) await sleep(wait);
      const event = events[i]!;
      sentAt.set(event.eventId, performance.now());
      void running.publishOne(event);
    }
    await withTimeout(finished, 60_000, `${subject.name}: ${samples.length}/${n} ${what}`);
    return samples;
  };
  try {
    const warmup = await series(Math.max(1, Math.round(perSecond / 2)), 'warm-up latency samples');
    const measured = await series(count, 'latency samples');
    return { p50Us: percentile(measured, 50), p99Us: percentile(measured, 99), firstUs: warmup[0]! };
  } finally {
    await running.close();
    await deleteTopics(topic);
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
    await endToEnd(subject, 1, makeOrders(ctx.settings.quick ? 5000 : 20_000));
  }
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
      measurements.push({ case: `end to end, ${consumers} consumer${consumers > 1 ? 's' : ''}`, subject: subject.name, unit: 'events', opsPerSec: median(opsPerSecRuns), opsPerSecRuns });
    }
  }
  for (const subject of SUBJECTS) {
    ctx.progress(`${subject.name}: publish→handle latency at ${rate}/s, ${latencyCount} events…`);
    const { p50Us, p99Us, firstUs } = await latencyAtRate(subject, latencyCount, rate);
    ctx.progress(`${subject.name}: first event after start handled in ${(firstUs / 1000).toFixed(0)} ms; then p50 ${(p50Us / 1000).toFixed(1)} ms, p99 ${(p99Us / 1000).toFixed(1)} ms`);
    measurements.push({ case: `latency at ${rate}/s`, subject: subject.name, unit: 'events', p50Us, p99Us });
  }

  const notes = [
    `${total} events of ${bodyBytes} bytes of JSON body each (plus envelope headers), published in batches of ${PUBLISH_BATCH} (delivery reports awaited per batch), ` +
      `${PARTITIONS} partitions, consumed in the same process by a group of 1 or 3 consumers; ops/s = events / (first publish → last first-time handling), median of ${repeats} run(s).`,
    `Producers: acks all, idempotent, gzip, linger 5 ms (the bus's defaults) for ${OURS} and ${RAW}; ${MOLECULER} uses KafkaJS's defaults.`,
    `${RAW}: the native API, produce() per record with delivery reports, consume(500) per poll, each record decoded by the bus's EnvelopeCodec (headers and body), one commit per poll after handling it (not awaited before the next poll, like ours); no retries, DLQ, ordering keys or pauses.`,
    `${MOLECULER}: its Kafka adapter (KafkaJS, maxInFlight 100, ${PARTITIONS} partitions consumed concurrently, a commit per message); the group is given 4 s to form before the clock starts.`,
    `latency: one event every ${1000 / rate} ms, 1 consumer, from publish() call to handler; p50/p99 over ${latencyCount} events, after ${rate / 2} unsampled warm-up events were all handled (start-up latency is printed in the progress lines, not in the table).`,
    `Goals (ratios to ${RAW}): throughput >= 0.90×, p99 <= 1.5×; and ahead of ${MOLECULER}.`,
  ];
  return {
    measurements,
    tables: [resultsTable('Kafka: end to end and latency', measurements), comparisonTable(`Kafka: ${OURS} relative to each baseline`, measurements, OURS, [RAW, MOLECULER])],
    notes,
  };
}

export const kafkaScenario: Scenario = {
  name: 'kafka',
  description: `Kafka end to end (KafkaEventBus vs the raw Confluent client vs ${MOLECULER}) at ${BROKERS}`,
  async checkAvailable() {
    const admin = Kafka.AdminClient.create({ 'bootstrap.servers': BROKERS, 'allow.auto.create.topics': false } as never);
    try {
      await new Promise<void>((resolve, reject) => admin.listTopics({ timeout: 3000 }, (error) => (error ? reject(error) : resolve())));
      return true;
    } catch (error) {
      return `no Kafka answers at KAFKA_BROKERS=${BROKERS} (${(error as Error).message}); run tooling/kafka/start-kafka.sh or set KAFKA_BROKERS`;
    } finally {
      admin.disconnect();
    }
  },
  run,
};

async function createTopic(topic: string, partitions: number): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': BROKERS, 'allow.auto.create.topics': false } as never);
  try {
    await new Promise<void>((resolve, reject) =>
      admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, 10_000, (error) => (error ? reject(error) : resolve())),
    );
  } finally {
    admin.disconnect();
  }
}

async function deleteTopics(prefix: string): Promise<void> {
  const admin = Kafka.AdminClient.create({ 'bootstrap.servers': BROKERS, 'allow.auto.create.topics': false } as never);
  try {
    const names = await new Promise<string[]>((resolve, reject) => admin.listTopics({ timeout: 10_000 }, (error, topics) => (error ? reject(error) : resolve(topics))));
    await Promise.all(
      names.filter((name) => name === prefix || name.startsWith(`${prefix}.`)).map((name) => new Promise<void>((resolve) => admin.deleteTopic(name, 10_000, () => resolve()))),
    );
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
