import { EventEmitter } from 'node:events';
import { EnvelopeCodec, InMemoryEventBus, silentLogger, type Envelope } from '@eventsource/core';
import Emittery from 'emittery';
import { comparisonTable, resultsTable } from '../harness/compare.js';
import { measureThroughput, type Subject } from '../harness/measure.js';
import { BATCH_SIZE, RING, measurePublishCases, publishInputs, type PublishSubjects } from '../harness/publish-cases.js';
import type { Measurement, Scenario, ScenarioContext, ScenarioResult } from '../harness/scenario.js';
import { OrderCreated, benchRegistry, makeOrder, makeOrders, type OrderCreated as Order } from '../fixtures/order-events.js';

const OURS = 'eventsource';
const NODE_EVENTS = 'node:events';
const EMITTERY = 'emittery';
const BASELINES = [NODE_EVENTS, EMITTERY] as const;

/**
 * Three buses with the same handlers: each handler does one trivial async step and counts, so
 * the numbers are the bus's cost, not the handler's.
 */
function makeSubjects(handlerCount: number): PublishSubjects {
  const counters = { [OURS]: 0, [NODE_EVENTS]: 0, [EMITTERY]: 0 };
  const handler = (name: keyof typeof counters) => async (_event: Order): Promise<void> => {
    await Promise.resolve();
    counters[name]++;
  };

  const bus = new InMemoryEventBus({ logger: silentLogger });
  const emitter = new EventEmitter();
  emitter.setMaxListeners(handlerCount + 1);
  const emittery = new Emittery<{ OrderCreated: Order }>();
  for (let i = 0; i < handlerCount; i++) {
    bus.subscribe(OrderCreated, handler(OURS), { name: `handler${i}` });
    // The peer is driven through listeners() and Promise.all, never emit(), so no promise is dropped.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    emitter.on('OrderCreated', handler(NODE_EVENTS));
    emittery.on('OrderCreated', handler(EMITTERY));
  }

  // The fair node:events equivalent of an awaited publish: run every listener, wait for all.
  const emitAwaited = (event: Order): Promise<unknown> =>
    Promise.all(emitter.listeners('OrderCreated').map((listener) => (listener as (e: Order) => Promise<void>)(event)));

  const { nextSingle, nextBatch } = publishInputs();

  const single: Subject[] = [
    { name: OURS, kind: 'async', op: () => bus.publish(nextSingle()) },
    { name: NODE_EVENTS, kind: 'async', op: () => emitAwaited(nextSingle()[0]) },
    { name: EMITTERY, kind: 'async', op: () => emittery.emit('OrderCreated', nextSingle()[0]) },
  ];
  // Every bus handles a batch's events one after another, each event's handlers all done
  // before the next starts: the in-memory bus's ordering guarantee.
  const batch: Subject[] = [
    { name: OURS, kind: 'async', unitsPerCall: BATCH_SIZE, op: () => bus.publish(nextBatch()) },
    {
      name: NODE_EVENTS,
      kind: 'async',
      unitsPerCall: BATCH_SIZE,
      op: async () => {
        for (const event of nextBatch()) await emitAwaited(event);
      },
    },
    {
      name: EMITTERY,
      kind: 'async',
      unitsPerCall: BATCH_SIZE,
      op: async () => {
        for (const event of nextBatch()) await emittery.emit('OrderCreated', event);
      },
    },
  ];

  return { single, batch, delivered: (name) => counters[name as keyof typeof counters], close: () => bus.shutdown(1000) };
}

/** Costs every transport pays per event before any broker is involved. */
async function measureEventBaselines(ctx: ScenarioContext): Promise<Measurement[]> {
  const codec = new EnvelopeCodec({ registry: benchRegistry });
  const events = makeOrders(RING);
  const envelopes: Envelope[] = events.map((e) => codec.encode(e));
  let i = 0;
  let j = 0;
  let k = 0;
  const subjects: Array<Subject & { unit: string }> = [
    { name: 'new OrderCreated(…)', unit: 'events', kind: 'sync', op: makeOrder },
    { name: 'EnvelopeCodec.encode', unit: 'encodes', kind: 'sync', op: () => codec.encode(events[(i = (i + 1) & (RING - 1))]!) },
    {
      name: 'EnvelopeCodec.decode',
      unit: 'decodes',
      kind: 'async',
      op: () => codec.decode(envelopes[(j = (j + 1) & (RING - 1))]!),
    },
    {
      name: 'encode+decode round trip',
      unit: 'round trips',
      kind: 'async',
      op: () => codec.decode(codec.encode(events[(k = (k + 1) & (RING - 1))]!)),
    },
  ];
  const rows: Measurement[] = [];
  for (const subject of subjects) {
    const result = (await measureThroughput(ctx, subject.name, [subject])).get(subject.name)!;
    rows.push({ case: subject.name, subject: OURS, unit: subject.unit, opsPerSec: result.opsPerSec, opsPerSecRuns: result.runs });
  }
  return rows;
}

export const inMemoryScenario: Scenario = {
  name: 'in-memory',
  description: 'InMemoryEventBus publish→handle against node:events (+Promise.all) and emittery; event and codec baselines.',
  async run(ctx): Promise<ScenarioResult> {
    const buses = await measurePublishCases(ctx, { makeSubjects });
    const baselines = await measureEventBaselines(ctx);
    return {
      measurements: [...buses, ...baselines],
      tables: [
        resultsTable('in-memory: publish → all handlers done', buses),
        comparisonTable('in-memory: eventsource compared with the baselines', buses, OURS, BASELINES),
        resultsTable('events and envelope codec (baselines for the broker scenarios)', baselines),
      ],
      notes: [
        'Handlers: `await Promise.resolve(); counter++` — the bus cost, not the handler, dominates.',
        'node:events is awaited as `Promise.all(emitter.listeners(type).map(l => l(event)))`; emittery as `await emitter.emit(type, event)`.',
        `Batched: one call publishes ${BATCH_SIZE} events, each event's handlers finish before the next (all three subjects).`,
      ],
    };
  },
};
