import type { Measurement } from './scenario.js';
import { ratio, spreadPercent } from './stats.js';
import { fmt, type Column, type Table } from './table.js';

const key = (m: Measurement): string => `${m.case}\u0000${m.handlers ?? ''}`;

/** Every measurement, one row each: absolute numbers. Columns nobody filled are left out. */
export function resultsTable(title: string, measurements: readonly Measurement[]): Table {
  const hasHandlers = measurements.some((m) => m.handlers !== undefined);
  const hasLatency = measurements.some((m) => m.p50Us !== undefined);
  const columns: Array<Column & { cell: (m: Measurement) => string; show: boolean }> = [
    { header: 'case', show: true, cell: (m) => m.case },
    { header: 'subject', show: true, cell: (m) => m.subject },
    { header: 'handlers', align: 'right', show: hasHandlers, cell: (m) => (m.handlers === undefined ? '–' : String(m.handlers)) },
    { header: 'ops/s', align: 'right', show: true, cell: (m) => fmt.ops(m.opsPerSec) },
    {
      header: 'spread',
      align: 'right',
      show: true,
      cell: (m) => fmt.spread(m.opsPerSecRuns ? spreadPercent(m.opsPerSecRuns) : undefined),
    },
    { header: 'unit', show: true, cell: (m) => m.unit },
    { header: 'p50 µs', align: 'right', show: hasLatency, cell: (m) => fmt.us(m.p50Us) },
    { header: 'p99 µs', align: 'right', show: hasLatency, cell: (m) => fmt.us(m.p99Us) },
  ];
  const shown = columns.filter((c) => c.show);
  return {
    title,
    columns: shown.map(({ header, align }) => (align ? { header, align } : { header })),
    rows: measurements.map((m) => shown.map((c) => c.cell(m))),
    legend: [
      'ops/s: median of the repeats, counted in `unit` (a publish of 100 events counts 100).',
      'spread: half the range of the repeats over their median; above ±10% the row is noise-limited, rerun on a quiet machine.',
      ...(hasLatency ? ['p50/p99 µs: time of one awaited call, from call to settled promise; median of the repeats; – = not measured.'] : []),
    ],
  };
}

/**
 * Ours against each baseline, for every case both measured. Throughput ratio = ours / theirs
 * (>1: we are faster); latency ratio = ours / theirs (<1: we are faster).
 */
export function comparisonTable(
  title: string,
  measurements: readonly Measurement[],
  ours: string,
  baselines: readonly string[],
): Table {
  const bySubject = new Map<string, Map<string, Measurement>>();
  for (const m of measurements) {
    if (!bySubject.has(m.subject)) bySubject.set(m.subject, new Map());
    bySubject.get(m.subject)!.set(key(m), m);
  }
  const mine = [...(bySubject.get(ours)?.values() ?? [])];
  const rows = mine
    .filter((m) => baselines.some((b) => bySubject.get(b)?.has(key(m))))
    .map((m) => {
      const cells = [m.case, m.handlers === undefined ? '–' : String(m.handlers)];
      for (const b of baselines) {
        const theirs = bySubject.get(b)?.get(key(m));
        cells.push(
          fmt.ratio(ratio(m.opsPerSec, theirs?.opsPerSec)),
          fmt.ratio(ratio(m.p50Us, theirs?.p50Us)),
          fmt.ratio(ratio(m.p99Us, theirs?.p99Us)),
        );
      }
      return cells;
    });
  return {
    title,
    columns: [
      { header: 'case' },
      { header: 'handlers', align: 'right' },
      ...baselines.flatMap((b) => [
        { header: `ops/s vs ${b}`, align: 'right' as const },
        { header: `p50 vs ${b}`, align: 'right' as const },
        { header: `p99 vs ${b}`, align: 'right' as const },
      ]),
    ],
    rows,
    legend: [
      `ops/s vs X = ${ours} ops/s ÷ X ops/s: above 1.00× means ${ours} is FASTER.`,
      `p50/p99 vs X = ${ours} latency ÷ X latency: below 1.00× means ${ours} is FASTER.`,
    ],
  };
}
