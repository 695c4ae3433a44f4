import { InMemoryEventBus, silentLogger } from '@eventsource/core';
import { otel } from '@eventsource/otel';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { resultsTable } from '../harness/compare.js';
import type { Subject } from '../harness/measure.js';
import { BATCH_SIZE, measurePublishCases, publishInputs, type PublishSubjects } from '../harness/publish-cases.js';
import type { Measurement, Scenario, ScenarioResult } from '../harness/scenario.js';
import { ratio } from '../harness/stats.js';
import { fmt, type Table } from '../harness/table.js';
import { OrderCreated, type OrderCreated as Order } from '../fixtures/order-events.js';

const NOOP = 'no-op ports';
const SDK = 'otel, SDK without exporter';
const API_ONLY = 'otel, API without SDK';

const GOAL = 1.3;

/**
 * The same in-memory bus three times: core's no-op tracer and metrics (tracing costs nothing,
 * the dispatcher takes its untraced path); @eventsource/otel on an SDK that samples and ends
 * every span but exports none, the cost an application pays before its exporter; and
 * @eventsource/otel on the bare API (no SDK registered: non-recording spans), the cost of the
 * traced path itself.
 */
function makeSubjects(handlerCount: number): PublishSubjects {
  const counters: Record<string, number> = { [NOOP]: 0, [SDK]: 0, [API_ONLY]: 0 };
  const buses = {
    [NOOP]: new InMemoryEventBus({ logger: silentLogger }),
    [SDK]: new InMemoryEventBus({
      logger: silentLogger,
      ...otel({ tracerProvider: new BasicTracerProvider(), meterProvider: new MeterProvider() }),
    }),
    // The global providers, never set in this process: the API's no-op implementations.
    [API_ONLY]: new InMemoryEventBus({ logger: silentLogger, ...otel() }),
  };
  for (const [name, bus] of Object.entries(buses)) {
    for (let i = 0; i < handlerCount; i++) {
      bus.subscribe(
        OrderCreated,
        async (_event: Order): Promise<void> => {
          await Promise.resolve();
          counters[name]!++;
        },
        { name: `handler${i}` },
      );
    }
  }

  const { nextSingle, nextBatch } = publishInputs();

  const single: Subject[] = Object.entries(buses).map(([name, bus]) => ({ name, kind: 'async', op: () => bus.publish(nextSingle()) }));
  const batch: Subject[] = Object.entries(buses).map(([name, bus]) => ({
    name,
    kind: 'async',
    unitsPerCall: BATCH_SIZE,
    op: () => bus.publish(nextBatch()),
  }));

  return {
    single,
    batch,
    delivered: (name) => counters[name]!,
    close: () => Promise.all(Object.values(buses).map((bus) => bus.shutdown(1000))),
  };
}

/** Cost per event with OpenTelemetry over the cost with the no-op ports: the overhead ratio. */
function overheadTable(rows: readonly Measurement[]): Table {
  const key = (m: Measurement): string => `${m.case}\u0000${m.handlers ?? ''}`;
  const noop = new Map(rows.filter((m) => m.subject === NOOP).map((m) => [key(m), m]));
  const cost = (m: Measurement | undefined): number | undefined => (m?.opsPerSec ? 1e6 / m.opsPerSec : undefined);
  return {
    title: `otel: tracing overhead on the in-memory bus (goal ≤ ${GOAL.toFixed(1)}× the no-op cost)`,
    columns: [
      { header: 'case' },
      { header: 'handlers', align: 'right' },
      { header: 'subject' },
      { header: 'µs/event', align: 'right' },
      { header: 'no-op µs/event', align: 'right' },
      { header: 'overhead', align: 'right' },
      { header: 'p50 vs no-op', align: 'right' },
    ],
    rows: rows
      .filter((m) => m.subject !== NOOP)
      .map((m) => {
        const base = noop.get(key(m));
        return [
          m.case,
          String(m.handlers ?? '–'),
          m.subject,
          fmt.us(cost(m)),
          fmt.us(cost(base)),
          fmt.ratio(ratio(cost(m), cost(base))),
          fmt.ratio(ratio(m.p50Us, base?.p50Us)),
        ];
      }),
    legend: [
      'overhead = time per event with @eventsource/otel ÷ time per event with the no-op ports (from the median ops/s); 1.00× = free.',
      'Each event makes one dispatch span and one handle span per handler, plus one publish span per call.',
    ],
  };
}

export const otelScenario: Scenario = {
  name: 'otel',
  description: 'InMemoryEventBus with no-op tracer/metrics against @eventsource/otel on an SDK with no exporter (and on the bare API).',
  async run(ctx): Promise<ScenarioResult> {
    const rows = await measurePublishCases(ctx, { labelPrefix: 'otel · ', makeSubjects });
    return {
      measurements: rows,
      tables: [resultsTable('otel: in-memory publish → all handlers done', rows), overheadTable(rows)],
      notes: [
        'SDK without exporter: BasicTracerProvider with no span processor and a MeterProvider with no reader; spans are sampled (always on) and ended, then dropped.',
        'The in-memory bus is the worst case for relative overhead: its untraced publish costs well under a microsecond, a broker hop costs hundreds.',
      ],
    };
  },
};
