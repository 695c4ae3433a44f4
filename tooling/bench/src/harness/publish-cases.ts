import { makeOrders, type OrderCreated as Order } from '../fixtures/order-events.js';
import { measureLatency, measureThroughput, type Subject } from './measure.js';
import type { Measurement, ScenarioContext } from './scenario.js';

/**
 * The in-process publish cases (the in-memory and otel scenarios): buses compared on one event
 * per call (throughput and latency) and on BATCH_SIZE events per call (throughput), with 1 and
 * then 10 handlers each.
 */

/** Handlers subscribed to the event, one measurement round each. */
export const HANDLER_COUNTS = [1, 10] as const;
export const BATCH_SIZE = 100;
/** Inputs handed out in a ring of this size. A power of two: the ring index wraps with a mask. */
export const RING = 1024;
const BATCHES = 16; // power of two, as RING

/** Inputs built before the clock starts and handed out in turn, so building them costs no subject. */
export function publishInputs(): { nextSingle(): readonly [Order]; nextBatch(): readonly Order[] } {
  const singles = makeOrders(RING).map((event) => [event] as const);
  const batches = Array.from({ length: BATCHES }, () => makeOrders(BATCH_SIZE));
  let s = 0;
  let b = 0;
  return {
    nextSingle: () => singles[(s = (s + 1) & (RING - 1))]!,
    nextBatch: () => batches[(b = (b + 1) & (BATCHES - 1))]!,
  };
}

/** Every subject of one handler count, its handlers subscribed. */
export interface PublishSubjects {
  /** One event per call. */
  readonly single: readonly Subject[];
  /** BATCH_SIZE events per call (`unitsPerCall: BATCH_SIZE`). */
  readonly batch: readonly Subject[];
  /** Handler calls the subject of this name has made so far. */
  delivered(subject: string): number;
  close(): Promise<unknown>;
}

/** Fails loudly if a subject is not really delivering, which would make its numbers meaningless. */
async function checkDelivery(subjects: PublishSubjects, handlerCount: number): Promise<void> {
  for (const subject of [...subjects.single, ...subjects.batch]) {
    const before = subjects.delivered(subject.name);
    await subject.op();
    const delivered = subjects.delivered(subject.name) - before;
    const expected = handlerCount * (subject.unitsPerCall ?? 1);
    if (delivered !== expected) throw new Error(`${subject.name} delivered ${delivered} handler calls, expected ${expected}`);
  }
}

export interface PublishCasesOptions {
  /** Put before each progress label, e.g. "otel · ". */
  readonly labelPrefix?: string;
  makeSubjects(handlerCount: number): PublishSubjects;
}

/**
 * For each of HANDLER_COUNTS: checks delivery, then measures `publish 1 event/call` (throughput and
 * latency) and `publish BATCH_SIZE events/call` (throughput). One row per case, count and subject.
 */
export async function measurePublishCases(ctx: ScenarioContext, options: PublishCasesOptions): Promise<Measurement[]> {
  const prefix = options.labelPrefix ?? '';
  const rows: Measurement[] = [];
  for (const handlers of HANDLER_COUNTS) {
    const subjects = options.makeSubjects(handlers);
    await checkDelivery(subjects, handlers);
    const label = `${handlers} handler${handlers === 1 ? '' : 's'}`;

    const throughput = await measureThroughput(ctx, `${prefix}publish 1 event/call · ${label}`, subjects.single);
    const latency = await measureLatency(ctx, `${prefix}publish 1 event/call · ${label}`, subjects.single);
    for (const subject of subjects.single) {
      const t = throughput.get(subject.name)!;
      const l = latency.get(subject.name)!;
      rows.push({
        case: 'publish 1 event/call',
        subject: subject.name,
        handlers,
        unit: 'events',
        opsPerSec: t.opsPerSec,
        opsPerSecRuns: t.runs,
        p50Us: l.p50Us,
        p99Us: l.p99Us,
        latencyRuns: l.runs,
      });
    }

    const batched = await measureThroughput(ctx, `${prefix}publish ${BATCH_SIZE} events/call · ${label}`, subjects.batch);
    for (const subject of subjects.batch) {
      const t = batched.get(subject.name)!;
      rows.push({
        case: `publish ${BATCH_SIZE} events/call`,
        subject: subject.name,
        handlers,
        unit: 'events',
        opsPerSec: t.opsPerSec,
        opsPerSecRuns: t.runs,
      });
    }
    await subjects.close();
  }
  return rows;
}
