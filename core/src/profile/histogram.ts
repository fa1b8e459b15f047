/**
 * Latency histograms of a Profile (log2 buckets, protocol/src/profile.ts): percentiles read off
 * the buckets, merging histograms, and the µs/ms/s formatting every profile view shares.
 * Pure: no Node, no DOM, no vscode (it also runs in the profile viewer).
 *
 * How a percentile is read: the q-quantile is the value of nearest rank k = ceil(q·N) (the
 * definition core/src/bench/stats.ts uses on raw samples). We find the bucket holding rank k and
 * interpolate linearly inside it, as if its values were spread evenly over (lower, le_us]:
 * value = lower + (le_us − lower) · (k − before) / bucket.count, where `before` counts the
 * values of the buckets below. A bucket's lower edge is half its le_us (log2 buckets; empty
 * buckets are omitted from the document, so the previous listed bucket is not the edge), and 0
 * for le_us ≤ 1. The answer is therefore always inside the bucket that holds the true value:
 * its error is at most the bucket's width (a factor of 2), which the unit test checks against a
 * brute-force percentile of the raw values.
 */

import type { HistogramBucket, LatencyHistogram, ProfileLayer, ProfilePhase } from '@dfs/protocol';

/** The lower edge of a log2 bucket whose upper edge is `le` (µs). */
export function bucketLower(le: number): number {
  return le <= 1 ? 0 : le / 2;
}

/** Total of the buckets' counts (the document's `count` may include values it did not bucket). */
export function bucketTotal(buckets: readonly HistogramBucket[]): number {
  let n = 0;
  for (const b of buckets) n += b.count;
  return n;
}

/**
 * The q-quantile (0 < q ≤ 1) in µs, interpolated inside its bucket (see the header); NaN for an
 * empty histogram. Buckets must be ascending by le_us (as in the document).
 */
export function percentileUs(buckets: readonly HistogramBucket[], q: number): number {
  const n = bucketTotal(buckets);
  if (n <= 0 || !(q > 0)) return Number.NaN;
  const k = Math.min(n, Math.max(1, Math.ceil(q * n)));
  let before = 0;
  for (const b of buckets) {
    if (b.count <= 0) continue;
    if (before + b.count >= k) {
      const lower = bucketLower(b.le_us);
      return lower + ((b.le_us - lower) * (k - before)) / b.count;
    }
    before += b.count;
  }
  const last = buckets[buckets.length - 1];
  return last ? last.le_us : Number.NaN;
}

export interface Percentiles {
  count: number;
  /** Mean from sum_ns / count, µs (exact, unlike the percentiles). */
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  /** Upper edge of the highest bucket with a count, µs. */
  maxUs: number;
}

export function percentiles(h: LatencyHistogram): Percentiles {
  let maxUs = Number.NaN;
  for (const b of h.buckets) if (b.count > 0) maxUs = b.le_us;
  return {
    count: h.count,
    meanUs: h.count > 0 ? h.sum_ns / h.count / 1000 : Number.NaN,
    p50Us: percentileUs(h.buckets, 0.5),
    p90Us: percentileUs(h.buckets, 0.9),
    p99Us: percentileUs(h.buckets, 0.99),
    maxUs,
  };
}

/** The log2 bucket (its le_us) a latency of `us` falls in: the smallest power of two ≥ us. */
export function bucketOf(us: number): number {
  if (us <= 1) return 1;
  return 2 ** Math.ceil(Math.log2(us));
}

/** Identity of a histogram: layer, op and phase (absent phase = total). */
export function histogramKey(h: { layer: ProfileLayer; op: string; phase?: ProfilePhase }): string {
  return `${h.layer}\u0000${h.op}\u0000${h.phase ?? 'total'}`;
}

/** Sums histograms of the same layer/op/phase (e.g. several nodes, or a fleet's profiles). */
export function mergeHistograms(lists: readonly (readonly LatencyHistogram[])[]): LatencyHistogram[] {
  const byKey = new Map<string, { h: LatencyHistogram; buckets: Map<number, number> }>();
  for (const list of lists) {
    for (const h of list) {
      const key = histogramKey(h);
      let acc = byKey.get(key);
      if (!acc) {
        const merged: LatencyHistogram = { layer: h.layer, op: h.op, count: 0, sum_ns: 0, buckets: [] };
        if (h.phase !== undefined && h.phase !== 'total') merged.phase = h.phase;
        acc = { h: merged, buckets: new Map() };
        byKey.set(key, acc);
      }
      acc.h.count += h.count;
      acc.h.sum_ns += h.sum_ns;
      for (const b of h.buckets) acc.buckets.set(b.le_us, (acc.buckets.get(b.le_us) ?? 0) + b.count);
    }
  }
  return [...byKey.values()].map(({ h, buckets }) => {
    h.buckets = [...buckets.entries()]
      .filter(([, c]) => c > 0)
      .sort((a, b) => a[0] - b[0])
      .map(([le_us, count]) => ({ le_us, count }));
    return h;
  });
}

const LAYER_ORDER: Record<ProfileLayer, number> = { fuse: 0, syscall: 1, meta: 2, object: 3, block: 4 };
const PHASE_ORDER: Record<ProfilePhase, number> = { total: 0, queue: 1, daemon: 2 };

/** Layer order (FUSE first, as the I/O path goes), then busiest op, then total/queue/daemon. */
export function sortHistograms(hs: readonly LatencyHistogram[]): LatencyHistogram[] {
  const opCount = new Map<string, number>();
  for (const h of hs) {
    if ((h.phase ?? 'total') !== 'total') continue;
    opCount.set(`${h.layer}\u0000${h.op}`, h.count);
  }
  return [...hs].sort(
    (a, b) =>
      LAYER_ORDER[a.layer] - LAYER_ORDER[b.layer] ||
      (opCount.get(`${b.layer}\u0000${b.op}`) ?? b.count) - (opCount.get(`${a.layer}\u0000${a.op}`) ?? a.count) ||
      a.op.localeCompare(b.op) ||
      PHASE_ORDER[a.phase ?? 'total'] - PHASE_ORDER[b.phase ?? 'total'],
  );
}

/** A duration given in µs, with 3 significant digits: "850 ns", "12.3 µs", "4.56 ms", "1.20 s". */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return '–';
  const a = Math.abs(us);
  if (a === 0) return '0';
  if (a < 1) return `${sig(us * 1000)} ns`;
  if (a < 1000) return `${sig(us)} µs`;
  if (a < 1_000_000) return `${sig(us / 1000)} ms`;
  return `${sig(us / 1_000_000)} s`;
}

/** A duration given in ns, as formatUs. */
export function formatNs(ns: number): string {
  return formatUs(ns / 1000);
}

/** A duration in ns as milliseconds with a fixed unit ("1,234.5 ms"): tooltips and tables. */
export function formatMs(ns: number): string {
  if (ns === 0) return '0 ms';
  const ms = ns / 1e6;
  const digits = Math.abs(ms) >= 100 ? 0 : Math.abs(ms) >= 1 ? 1 : 3;
  return `${thousands(ms.toFixed(digits))} ms`;
}

/**
 * A number with thousands separators ("12,345" or "1,234.5"), without Intl: hovering formats a
 * few numbers per mouse move, and toLocaleString costs about a millisecond each in a webview.
 */
export function thousands(x: number | string): string {
  const s = typeof x === 'number' ? String(Math.round(x)) : x;
  const dot = s.indexOf('.');
  const int = dot < 0 ? s : s.slice(0, dot);
  const sign = int.startsWith('-') ? '-' : '';
  const digits = sign ? int.slice(1) : int;
  let out = '';
  for (let i = digits.length; i > 0; i -= 3) out = digits.slice(Math.max(0, i - 3), i) + (out ? ',' + out : '');
  return sign + out + (dot < 0 ? '' : s.slice(dot));
}

function sig(x: number): string {
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
}
