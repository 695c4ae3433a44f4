import { once } from 'node:events';
import { RabbitMQEventBus } from '@eventsource/bus-rabbitmq';
import { EnvelopeCodec, silentLogger } from '@eventsource/core';
import { connect, type ChannelModel } from 'amqplib';
import { CONSUMER_CASES, PUBLISH_BATCH, runBrokerScenario, startOurs, type RunningSubject, type SubjectFactory } from '../harness/broker-scenario.js';
import { comparisonTable, resultsTable } from '../harness/compare.js';
import type { Scenario, ScenarioContext, ScenarioResult } from '../harness/scenario.js';
import { sleep } from '../harness/wait.js';
import { benchRegistry, type OrderCreated as Order } from '../fixtures/order-events.js';
import { MOLECULER, loadChannels, startMoleculerGroup, type MoleculerGroup } from '../peers/moleculer.js';

const OURS = 'eventsource';
const RAW = 'raw amqplib';
const MOLECULER_PERSISTENT = '@moleculer/channels, persistent messages';
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** The same unacknowledged-message window for every subject. */
const PREFETCH = 100;

type QueueType = 'quorum' | 'classic';

/** `publishBatch` resolves once the broker confirmed every event (for @moleculer/channels, which has no confirms: once written). */
interface RabbitSubject extends RunningSubject {
  /** Resolves once handed off, without waiting for confirms (amqplib's backpressure still applies). */
  publishWithoutWaiting(events: readonly Order[]): Promise<void>;
}

// ── ours ─────────────────────────────────────────────────────────────────────

function ours(queueType: QueueType): SubjectFactory<RabbitSubject> {
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
      const running = await startOurs({
        consumers,
        onHandled,
        create: () => new RabbitMQEventBus(options),
        ready: (buses) => buses.every((bus) => bus.health().healthy && bus.health().consuming),
        pollMs: 5,
      });
      return {
        ...running,
        // Confirmed in the background, at most maxBackgroundTasks batches at once (then inline).
        publishWithoutWaiting: (events) => running.publisher.publish(events, { background: true }),
      };
    },
  };
}

// ── raw amqplib: confirm channel, the same envelope, the same decode and ack ──

function raw(queueType: QueueType): SubjectFactory<RabbitSubject> {
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

/**
 * `persistent: false` is its default (transient messages: lost when the broker restarts, never
 * written to disk); `true` gives its messages the durability ours always have.
 */
function moleculer(persistent: boolean): SubjectFactory<RabbitSubject> {
  return {
    name: persistent ? MOLECULER_PERSISTENT : MOLECULER,
    async start(exchange, consumers, onHandled) {
      // Its version check reads amqplib/package.json, which amqplib 2 no longer exports; the check
      // only logs a warning, so the bench skips it and runs the adapter on the amqplib we ship.
      class AmqpAdapter extends loadChannels().Adapters.AMQP {
        override checkClientLibVersion(): boolean {
          return true;
        }
      }
      const channel = `${exchange}.orders`;
      const group = await startMoleculerGroup({
        nodePrefix: exchange,
        channel,
        consumers,
        adapter: () => new AmqpAdapter({ amqp: { url: AMQP_URL, ...(persistent ? { messageOptions: { persistent: true } } : {}) }, maxInFlight: PREFETCH }),
        onHandled,
      });
      return {
        async publishBatch(events) {
          for (const event of events) await sendRetryingWhenFull(group, event);
        },
        async publishWithoutWaiting(events) {
          for (const event of events) await sendRetryingWhenFull(group, event);
        },
        publishOne: (event) => sendRetryingWhenFull(group, event),
        async close() {
          await group.stop();
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
async function sendRetryingWhenFull(group: MoleculerGroup, event: Order): Promise<void> {
  for (;;) {
    try {
      await group.send(event);
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
const SUBJECTS: readonly SubjectFactory<RabbitSubject>[] = [ours('quorum'), raw('quorum'), ours('classic'), raw('classic'), moleculer(false), moleculer(true)];

async function run(ctx: ScenarioContext): Promise<ScenarioResult> {
  const { measurements, sizes } = await runBrokerScenario(ctx, {
    namespaces: { separator: '.', cleanUp: deleteOurTopology },
    subjects: SUBJECTS,
    cases: [
      ...CONSUMER_CASES,
      {
        name: 'end to end, 1 consumer, publisher not waiting for confirms',
        consumers: 1,
        publish: (running, batch) => running.publishWithoutWaiting(batch),
      },
    ],
    warmupEvents: ctx.settings.quick ? 5000 : 10_000,
    // A latency run is short (3 s), and one burst of load elsewhere moves its p99: more repeats.
    latencyRepeats: ctx.settings.quick ? 1 : 5,
  });
  const { total, bodyBytes, repeats, latencyCount, rate, latencyRepeats } = sizes;

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
