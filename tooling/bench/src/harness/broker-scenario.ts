import { randomBytes } from 'node:crypto';
import type { BrokerEventBus } from '@eventsource/core';
import { OrderCreated, makeOrders, type OrderCreated as Order } from '../fixtures/order-events.js';
import type { Measurement, ScenarioContext } from './scenario.js';
import { median, percentile } from './stats.js';
import { sleep, withTimeout } from './wait.js';

/**
 * The driver every broker scenario shares: each subject (ours, the raw client, a peer library)
 * is started fresh for every run, in a namespace of its own, publishes the same events, and
 * reports each event its consumers handle. Scenarios bring the subjects and the broker's cleanup.
 */

/** Events per end-to-end publish call, for every subject. */
export const PUBLISH_BATCH = 100;

/** One subject, started for one run. */
export interface RunningSubject {
  /** Publishes one batch of an end-to-end run; resolves once the subject considers it published. */
  publishBatch(events: readonly Order[]): Promise<void>;
  /** Publishes one event of a latency run; the driver does not wait for it before the next. */
  publishOne(event: Order): Promise<void>;
  /** Stops the publisher and every consumer. */
  close(): Promise<void>;
}

export interface SubjectFactory<R extends RunningSubject = RunningSubject> {
  /** The subject's name in the tables. */
  readonly name: string;
  /**
   * Starts a publisher and `consumers` consumers in one group, under `namespace` (a stream
   * prefix, exchange or topic no other run uses). Calls `onHandled(eventId)` once per handled
   * event, and resolves once every consumer is ready to receive.
   */
  start(namespace: string, consumers: number, onHandled: (eventId: string) => void): Promise<R>;
}

/** Where the runs of one scenario live on its broker. */
export interface BrokerNamespaces {
  /** Between `esbench` and the random part of a run's namespace, e.g. ':' for Redis keys. */
  readonly separator: string;
  /** Deletes whatever the run under `namespace` left on the broker, whatever its subject cleaned up itself. */
  cleanUp(namespace: string): Promise<void>;
}

export interface EndToEndCase<R extends RunningSubject = RunningSubject> {
  /** The measurement's case, e.g. "end to end, 3 consumers". */
  readonly name: string;
  readonly consumers: number;
  /** How each batch is published; `publishBatch` when omitted. */
  readonly publish?: (running: R, batch: readonly Order[]) => Promise<void>;
}

/** One and three consumers, each batch published with `publishBatch`. */
export const CONSUMER_CASES: readonly EndToEndCase[] = [
  { name: 'end to end, 1 consumer', consumers: 1 },
  { name: 'end to end, 3 consumers', consumers: 3 },
];

export interface BrokerScenarioSpec<R extends RunningSubject> {
  readonly namespaces: BrokerNamespaces;
  /** Every subject, in the order they take their turns and appear in the tables. */
  readonly subjects: readonly SubjectFactory<R>[];
  readonly cases: readonly EndToEndCase<R>[];
  /** Events of each subject's unmeasured warm-up run. Default 5000, 20 000 in a full run. */
  readonly warmupEvents?: number;
  /** Latency runs per subject; the median of their p50s and p99s is reported. Default 1. */
  readonly latencyRepeats?: number;
  /** Events each latency run publishes and sees handled, at the same rate, before it samples any. Default 0. */
  readonly latencyWarmupEvents?: number;
}

/** The sizes a run used, for the scenario's notes. */
export interface BrokerRunSizes {
  /** Events of every end-to-end run. */
  readonly total: number;
  /** Bytes of one event's JSON body. */
  readonly bodyBytes: number;
  /** End-to-end runs per subject and case; the median is reported. */
  readonly repeats: number;
  /** Sampled events of one latency run. */
  readonly latencyCount: number;
  /** Events per second of a latency run. */
  readonly rate: number;
  readonly latencyRepeats: number;
  readonly latencyWarmupEvents: number;
}

export interface LatencyRun {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly samples: number;
  /** Publish→handle time of the run's first event, when it had warm-up events: the subject's start-up. */
  readonly firstUs?: number;
}

export interface OursOptions<B extends BrokerEventBus> {
  readonly consumers: number;
  onHandled(eventId: string): void;
  /** A new bus: the publisher for `consumer` undefined, else consumer number `consumer`. */
  create(consumer?: number): B;
  /** Whether the consumers are ready to receive (polled every `pollMs`). */
  ready(consumers: readonly B[]): boolean;
  readonly pollMs: number;
}

/**
 * Our subject on any broker: one publishing bus, and `consumers` buses subscribed to
 * OrderCreated and consuming in the background. Resolves once `ready`.
 */
export async function startOurs<B extends BrokerEventBus>(options: OursOptions<B>): Promise<RunningSubject & { readonly publisher: B }> {
  const publisher = options.create();
  await publisher.connect();
  const buses: B[] = [];
  for (let i = 0; i < options.consumers; i++) {
    const bus = options.create(i);
    await bus.connect();
    bus.subscribe(OrderCreated, (event) => options.onHandled(event.eventId));
    bus.startConsumingInBackground();
    buses.push(bus);
  }
  while (!options.ready(buses)) await sleep(options.pollMs);
  return {
    publisher,
    publishBatch: (events) => publisher.publish(events),
    publishOne: (event) => publisher.publish([event]),
    async close() {
      await Promise.all([publisher, ...buses].map((bus) => bus.shutdown(10_000)));
    },
  };
}

function newNamespace(namespaces: BrokerNamespaces): string {
  return `esbench${namespaces.separator}${randomBytes(4).toString('hex')}`;
}

async function closeAndCleanUp(running: RunningSubject, namespaces: BrokerNamespaces, namespace: string): Promise<void> {
  try {
    await running.close();
  } finally {
    await namespaces.cleanUp(namespace);
  }
}

/**
 * Publishes `events` in batches of PUBLISH_BATCH, each batch awaited, and waits until every
 * event id was handled (once is enough: redeliveries are not counted twice). Returns events per
 * second from the first publish to the last first-time handling.
 */
export async function endToEnd<R extends RunningSubject>(
  namespaces: BrokerNamespaces,
  subject: SubjectFactory<R>,
  consumers: number,
  events: readonly Order[],
  publish: (running: R, batch: readonly Order[]) => Promise<void> = (running, batch) => running.publishBatch(batch),
): Promise<number> {
  const namespace = newNamespace(namespaces);
  const seen = new Set<string>();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const running = await subject.start(namespace, consumers, (id) => {
    if (!seen.has(id)) {
      seen.add(id);
      if (seen.size === events.length) finish();
    }
  });
  try {
    const start = performance.now();
    for (let i = 0; i < events.length; i += PUBLISH_BATCH) await publish(running, events.slice(i, i + PUBLISH_BATCH));
    await withTimeout(finished, 300_000, () => `${subject.name}: ${seen.size}/${events.length} handled`);
    return events.length / ((performance.now() - start) / 1000);
  } finally {
    await closeAndCleanUp(running, namespaces, namespace);
  }
}

/**
 * Publish→handle latency at a fixed rate, one consumer: one event every 1000/perSecond ms, not
 * waiting for the previous publish (the rate is fixed, whatever confirms take), each sample the
 * time from the publish() call to its handler. `warmupEvents` are published and handled first,
 * unsampled, so a subject's start-up (first fetch, producer id) is not in p99; the first of
 * them is returned as `firstUs`.
 */
export async function latencyAtRate(
  namespaces: BrokerNamespaces,
  subject: SubjectFactory,
  count: number,
  perSecond: number,
  warmupEvents = 0,
): Promise<LatencyRun> {
  const namespace = newNamespace(namespaces);
  const sentAt = new Map<string, number>();
  let samples: number[] = [];
  let target = 0;
  let finish: () => void = () => {};
  const running = await subject.start(namespace, 1, (id) => {
    const at = sentAt.get(id);
    if (at === undefined) return;
    sentAt.delete(id);
    samples.push((performance.now() - at) * 1000);
    if (samples.length === target) finish();
  });
  const publishes: Array<Promise<void>> = [];
  let failed: unknown;
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
      // Not awaited: a failure ends the run below, once the samples are in.
      publishes.push(running.publishOne(event).catch((error: unknown) => void (failed ??= error)));
    }
    await withTimeout(finished, 60_000, () => `${subject.name}: ${samples.length}/${n} ${what}`);
    return samples;
  };
  try {
    const warmup = warmupEvents > 0 ? await series(warmupEvents, 'warm-up latency samples') : [];
    const measured = await series(count, 'latency samples');
    // A handler can run before its publish is confirmed: wait for every confirm before closing.
    await withTimeout(Promise.all(publishes), 30_000, `${subject.name}: confirms of the latency run`);
    if (failed !== undefined) throw new Error(`${subject.name}: a publish of the latency run failed`, { cause: failed });
    return {
      p50Us: percentile(measured, 50),
      p99Us: percentile(measured, 99),
      samples: measured.length,
      ...(warmup.length > 0 ? { firstUs: warmup[0]! } : {}),
    };
  } finally {
    await closeAndCleanUp(running, namespaces, namespace);
  }
}

/**
 * Runs a broker scenario's measurements: every subject's warm-up, then each end-to-end case
 * `repeats` times, then the latency runs. One row per case and subject (ops/s the median of the
 * repeats), then one `latency at <rate>/s` row per subject.
 */
export async function runBrokerScenario<R extends RunningSubject>(
  ctx: ScenarioContext,
  spec: BrokerScenarioSpec<R>,
): Promise<{ measurements: Measurement[]; sizes: BrokerRunSizes }> {
  const { quick } = ctx.settings;
  const { namespaces, subjects, cases } = spec;
  const events = makeOrders(quick ? 20_000 : 100_000);
  const sizes: BrokerRunSizes = {
    total: events.length,
    bodyBytes: Buffer.byteLength(JSON.stringify(events[0])),
    repeats: quick ? 1 : 3,
    latencyCount: quick ? 1000 : 3000,
    rate: 1000,
    latencyRepeats: spec.latencyRepeats ?? 1,
    latencyWarmupEvents: spec.latencyWarmupEvents ?? 0,
  };
  const measurements: Measurement[] = [];

  // Warm-up: every subject once, unmeasured, so none pays for the JIT inside its numbers.
  for (const subject of subjects) {
    ctx.progress(`${subject.name}: warm-up…`);
    await endToEnd(namespaces, subject, 1, makeOrders(spec.warmupEvents ?? (quick ? 5000 : 20_000)));
  }
  // Subjects take turns within each repeat, so a burst of load from elsewhere on the machine
  // lands on all of them rather than on one.
  for (const { name, consumers, publish } of cases) {
    const runs = new Map<string, number[]>(subjects.map((subject) => [subject.name, []]));
    for (let repeat = 1; repeat <= sizes.repeats; repeat++) {
      for (const subject of subjects) {
        ctx.progress(`${subject.name}: ${sizes.total} events, ${name}, run ${repeat}/${sizes.repeats}…`);
        const opsPerSec = await endToEnd(namespaces, subject, consumers, events, publish);
        runs.get(subject.name)!.push(opsPerSec);
        ctx.progress(`${subject.name}: ${Math.round(opsPerSec)} events/s`);
      }
    }
    for (const subject of subjects) {
      const opsPerSecRuns = runs.get(subject.name)!;
      measurements.push({ case: name, subject: subject.name, unit: 'events', opsPerSec: median(opsPerSecRuns), opsPerSecRuns });
    }
  }

  const { latencyCount, rate, latencyRepeats } = sizes;
  const latencyRuns = new Map<string, LatencyRun[]>(subjects.map((subject) => [subject.name, []]));
  for (let repeat = 1; repeat <= latencyRepeats; repeat++) {
    for (const subject of subjects) {
      ctx.progress(`${subject.name}: publish→handle latency at ${rate}/s, ${latencyCount} events, run ${repeat}/${latencyRepeats}…`);
      const run = await latencyAtRate(namespaces, subject, latencyCount, rate, sizes.latencyWarmupEvents);
      latencyRuns.get(subject.name)!.push(run);
      const startUp = run.firstUs === undefined ? '' : `first event after start handled in ${(run.firstUs / 1000).toFixed(0)} ms; then `;
      ctx.progress(`${subject.name}: ${startUp}p50 ${(run.p50Us / 1000).toFixed(1)} ms, p99 ${(run.p99Us / 1000).toFixed(1)} ms`);
    }
  }
  for (const subject of subjects) {
    const runs = latencyRuns.get(subject.name)!;
    measurements.push({
      case: `latency at ${rate}/s`,
      subject: subject.name,
      unit: 'events',
      p50Us: median(runs.map((r) => r.p50Us)),
      p99Us: median(runs.map((r) => r.p99Us)),
      latencyRuns: runs.map(({ p50Us, p99Us, samples }) => ({ p50Us, p99Us, samples })),
    });
  }
  return { measurements, sizes };
}
