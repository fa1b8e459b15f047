/**
 * Small statistics for benchmarks: percentiles of latency samples, medians of rounds, the
 * rotating order of interleaved modes, and "how much better" ratios that respect the unit.
 * Pure; unit-tested.
 */

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

/** Median, min and max of per-round values (e.g. paired ratios), rounded to 3 places. */
export function spread(xs: readonly number[]): { median: number; min: number; max: number } {
  return { median: round3(median(xs)), min: round3(Math.min(...xs)), max: round3(Math.max(...xs)) };
}

/** Units where a smaller value is better (times); everything else is a throughput. */
const TIME_UNITS = new Set(['s', 'ms', 'us', 'ns']);

/**
 * How many times better `a` is than `b`: a/b for throughputs, b/a for times (above 1: `a` is
 * better). NaN when either side is missing or zero.
 */
export function betterBy(unit: string, a: number, b: number): number {
  const [num, den] = TIME_UNITS.has(unit) ? [b, a] : [a, b];
  if (!Number.isFinite(num) || !Number.isFinite(den) || den === 0 || num === 0) return NaN;
  return num / den;
}

/**
 * The order of the modes in round `round` (1-based): the list rotated by one more each round,
 * so every mode runs first, middle and last equally often and drift hits all alike.
 */
export function rotation<T>(modes: readonly T[], round: number): T[] {
  const n = modes.length;
  if (n === 0) return [];
  const k = (((round - 1) % n) + n) % n;
  return [...modes.slice(k), ...modes.slice(0, k)];
}
