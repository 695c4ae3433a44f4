import Kafka from '@confluentinc/kafka-javascript';
import { KafkaEventBus } from '@eventsource/bus-kafka';
import { EnvelopeCodec, silentLogger } from '@eventsource/core';
import { CONSUMER_CASES, PUBLISH_BATCH, runBrokerScenario, startOurs, type SubjectFactory } from '../harness/broker-scenario.js';
import { comparisonTable, resultsTable } from '../harness/compare.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../harness/scenario.js';
import { sleep } from '../harness/wait.js';
import { benchRegistry, type OrderCreated as Order } from '../fixtures/order-events.js';
import { MOLECULER, startMoleculerGroup } from '../peers/moleculer.js';

const OURS = 'eventsource';
const RAW = 'raw confluent';
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
const PARTITIONS = 6;
/**
 * Unsampled events at the start of each latency run, so a subject's start-up (first fetch,
 * producer id) is not in p99: half a second at the latency run's rate.
 */
const LATENCY_WARMUP_EVENTS = 500;

/**
 * Client settings every subject shares where it can: the bus's defaults (acks all, idempotent,
 * gzip, linger 5 ms) and a short heartbeat, so three consumers join in about half a second.
 */
const PRODUCER = { acks: -1, 'enable.idempotence': true, 'compression.type': 'gzip', 'linger.ms': 5 } as const;
const GROUP = { 'heartbeat.interval.ms': 500, 'session.timeout.ms': 6000, 'fetch.wait.max.ms': 100 } as const;

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
    return startOurs({
      consumers,
      onHandled,
      create: (consumer) => new KafkaEventBus(consumer === undefined ? options : { ...options, consumerName: `c${consumer}` }),
      // Main and retry topic: 2 × PARTITIONS partitions in all, every member holding some.
      ready: (buses) =>
        buses.reduce((n, bus) => n + bus.getStats().assignedPartitions, 0) === 2 * PARTITIONS && buses.every((bus) => bus.getStats().assignedPartitions > 0),
      pollMs: 20,
    });
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

const moleculer: SubjectFactory = {
  name: MOLECULER,
  async start(topic, consumers, onHandled) {
    await createTopic(topic, PARTITIONS);
    const group = await startMoleculerGroup({
      nodePrefix: topic,
      channel: topic,
      consumers,
      adapter: () => ({ type: 'Kafka', options: { kafka: { brokers: BROKERS.split(',') }, maxInFlight: 100 } }),
      channelOptions: { kafka: { fromBeginning: true, partitionsConsumedConcurrently: PARTITIONS, heartbeatInterval: 500 } },
      onHandled,
    });
    // KafkaJS gives no join hook through the middleware: give the group time to form.
    await sleep(4000);
    return {
      async publishBatch(events) {
        await Promise.all(events.map((event) => group.send(event)));
      },
      publishOne: (event) => group.send(event),
      close: () => group.stop(),
    };
  },
};

/** BENCH_KAFKA_SUBJECTS=<name>,<name> runs only those subjects (e.g. to rerun one quickly). */
const only = process.env.BENCH_KAFKA_SUBJECTS ? process.env.BENCH_KAFKA_SUBJECTS.split(',') : undefined;
const SUBJECTS: readonly SubjectFactory[] = [ours, raw, moleculer].filter((subject) => !only || only.includes(subject.name));

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { measurements, sizes } = await runBrokerScenario(ctx, {
    namespaces: { separator: '.', cleanUp: deleteTopics },
    subjects: SUBJECTS,
    cases: CONSUMER_CASES,
    latencyWarmupEvents: LATENCY_WARMUP_EVENTS,
  });
  const { total, bodyBytes, repeats, latencyCount, rate, latencyWarmupEvents } = sizes;

  const notes = [
    `${total} events of ${bodyBytes} bytes of JSON body each (plus envelope headers), published in batches of ${PUBLISH_BATCH} (delivery reports awaited per batch), ` +
      `${PARTITIONS} partitions, consumed in the same process by a group of 1 or 3 consumers; ops/s = events / (first publish → last first-time handling), median of ${repeats} run(s).`,
    `Producers: acks all, idempotent, gzip, linger 5 ms (the bus's defaults) for ${OURS} and ${RAW}; ${MOLECULER} uses KafkaJS's defaults.`,
    `${RAW}: the native API, produce() per record with delivery reports, consume(500) per poll, each record decoded by the bus's EnvelopeCodec (headers and body), one commit per poll after handling it (not awaited before the next poll, like ours); no retries, DLQ, ordering keys or pauses.`,
    `${MOLECULER}: its Kafka adapter (KafkaJS, maxInFlight 100, ${PARTITIONS} partitions consumed concurrently, a commit per message); the group is given 4 s to form before the clock starts.`,
    `latency: one event every ${1000 / rate} ms, 1 consumer, from publish() call to handler; p50/p99 over ${latencyCount} events, after ${latencyWarmupEvents} unsampled warm-up events were all handled (start-up latency is printed in the progress lines, not in the table).`,
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
