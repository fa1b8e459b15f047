/** Small statistics for benchmarks: percentiles of latency samples and medians of rounds. */

/** Percentile (0..100) by nearest rank over a sorted copy; NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? NaN;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
