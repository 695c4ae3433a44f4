import { describe, expect, it } from 'vitest';
import { comparisonTable, resultsTable } from '../src/harness/compare.js';
import type { Measurement } from '../src/harness/scenario.js';
import { median, percentile, ratio, spreadPercent } from '../src/harness/stats.js';
import { formatTable } from '../src/harness/table.js';
import { scenarios } from '../src/scenarios/index.js';

describe('stats', () => {
  it('percentile uses nearest rank, so p99 is an observed value', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100..1, unsorted on purpose
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile(Float64Array.from([3, 1, 2]), 0)).toBe(1);
  });

  it('percentile rejects empty samples and out-of-range ranks', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('median of odd and even counts', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(RangeError);
  });

  it('ratio is ours over theirs, undefined when a side is missing', () => {
    expect(ratio(2, 4)).toBe(0.5);
    expect(ratio(undefined, 4)).toBeUndefined();
    expect(ratio(2, 0)).toBeUndefined();
  });

  it('spread is half the range over the median', () => {
    expect(spreadPercent([90, 100, 110])).toBeCloseTo(10);
    expect(spreadPercent([100])).toBeUndefined();
  });
});

describe('tables', () => {
  const rows: Measurement[] = [
    { case: 'publish', subject: 'ours', handlers: 1, unit: 'events', opsPerSec: 300, p50Us: 2, p99Us: 4 },
    { case: 'publish', subject: 'theirs', handlers: 1, unit: 'events', opsPerSec: 200, p50Us: 4, p99Us: 8 },
    { case: 'publish', subject: 'ours', handlers: 10, unit: 'events', opsPerSec: 100 },
  ];

  it('compares only cases the baseline measured, throughput and latency both as ours/theirs', () => {
    const table = comparisonTable('t', rows, 'ours', ['theirs']);
    expect(table.rows).toEqual([['publish', '1', '1.50×', '0.50×', '0.50×']]);
  });

  it('drops latency columns nobody measured', () => {
    const table = resultsTable('t', [rows[2]!]);
    expect(table.columns.map((c) => c.header)).not.toContain('p50 µs');
  });

  it('formats as a markdown table with aligned columns', () => {
    const text = formatTable(comparisonTable('title', rows, 'ours', ['theirs']));
    const lines = text.split('\n').filter((l) => l.startsWith('|'));
    expect(new Set(lines.map((l) => [...l].length)).size).toBe(1);
    expect(lines[1]).toMatch(/^\|-+\|-+:\|/);
  });
});

describe('scenario registry', () => {
  it('has unique names usable on the command line', () => {
    const names = scenarios.map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z0-9-]+$/);
  });
});
