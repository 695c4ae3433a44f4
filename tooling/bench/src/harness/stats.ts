/**
 * Nearest-rank percentile over a sorted copy. Nearest-rank (not interpolation) so a reported p99
 * is always a latency that was actually observed.
 */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) throw new RangeError('percentile() of an empty sample');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100; received ${p}`);
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Median of the repeats: one slow repeat (GC, a noisy neighbour) does not move the result. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median() of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** ours / theirs; undefined when either side is missing so the table shows a dash, not NaN. */
export function ratio(ours: number | undefined, theirs: number | undefined): number | undefined {
  if (ours === undefined || theirs === undefined || theirs === 0) return undefined;
  return ours / theirs;
}

/** Half the range of the repeats relative to their median, in percent: how far to trust a row. */
export function spreadPercent(runs: readonly number[]): number | undefined {
  if (runs.length < 2) return undefined;
  const mid = median(runs);
  if (mid === 0) return undefined;
  return ((Math.max(...runs) - Math.min(...runs)) / 2 / mid) * 100;
}
