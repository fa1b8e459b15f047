// Histogram percentiles (core/src/profile/histogram.ts) against a brute-force nearest-rank
// percentile of the raw values: the estimate always lies in the bucket of the true value;
// merging and formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LatencyHistogram } from '../../protocol/src';
import {
  bucketLower,
  bucketOf,
  formatMs,
  formatUs,
  thousands,
  mergeHistograms,
  percentileUs,
  percentiles,
  sortHistograms,
} from '../../core/src/profile/histogram';
import { prng } from '../support/syntheticProfile';

function bucketize(values: number[]): { le_us: number; count: number }[] {
  const m = new Map<number, number>();
  for (const v of values) m.set(bucketOf(v), (m.get(bucketOf(v)) ?? 0) + 1);
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([le_us, count]) => ({ le_us, count }));
}

const nearestRank = (sorted: number[], q: number): number => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;

test('percentiles lie in the bucket of the brute-force value', () => {
  const rnd = prng(3);
  for (let trial = 0; trial < 200; trial++) {
    const n = 1 + Math.floor(rnd() * 2000);
    const values = Array.from({ length: n }, () => Math.exp(rnd() * 12 - 1));
    const sorted = [...values].sort((a, b) => a - b);
    const buckets = bucketize(values);
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = nearestRank(sorted, q);
      const est = percentileUs(buckets, q);
      const le = bucketOf(exact);
      assert.ok(
        est > bucketLower(le) - 1e-9 && est <= le + 1e-9,
        `q=${q} n=${n}: ${est} not in (${bucketLower(le)}, ${le}] of ${exact}`,
      );
    }
  }
});

test('interpolation inside a bucket is linear over (le/2, le]', () => {
  // 4 values in (512, 1024]: p50 is rank 2 of 4 → 512 + 512·2/4.
  assert.equal(percentileUs([{ le_us: 1024, count: 4 }], 0.5), 768);
  assert.equal(percentileUs([{ le_us: 1, count: 2 }], 0.5), 0.5);
  assert.equal(
    percentileUs(
      [
        { le_us: 8, count: 1 },
        { le_us: 64, count: 1 },
      ],
      1,
    ),
    64,
  );
  assert.ok(Number.isNaN(percentileUs([], 0.5)));
  const h: LatencyHistogram = { layer: 'fuse', op: 'READ', count: 2, sum_ns: 3000, buckets: [{ le_us: 2, count: 2 }] };
  assert.equal(percentiles(h).meanUs, 1.5);
});

test('merge sums by layer/op/phase; sort follows the I/O path', () => {
  const a: LatencyHistogram[] = [
    { layer: 'meta', op: 'x', count: 1, sum_ns: 10, buckets: [{ le_us: 4, count: 1 }] },
    { layer: 'fuse', op: 'READ', phase: 'queue', count: 2, sum_ns: 5, buckets: [{ le_us: 2, count: 2 }] },
  ];
  const b: LatencyHistogram[] = [
    {
      layer: 'meta',
      op: 'x',
      count: 3,
      sum_ns: 30,
      buckets: [
        { le_us: 2, count: 1 },
        { le_us: 4, count: 2 },
      ],
    },
    { layer: 'fuse', op: 'READ', phase: 'total', count: 1, sum_ns: 5, buckets: [{ le_us: 2, count: 1 }] },
  ];
  const m = sortHistograms(mergeHistograms([a, b]));
  assert.deepEqual(
    m.map((h) => [h.layer, h.op, h.phase ?? 'total', h.count, h.buckets.map((x) => `${x.le_us}:${x.count}`).join(' ')]),
    [
      ['fuse', 'READ', 'total', 1, '2:1'],
      ['fuse', 'READ', 'queue', 2, '2:2'],
      ['meta', 'x', 'total', 4, '2:1 4:3'],
    ],
  );
});

test('formatting', () => {
  assert.equal(formatUs(0.5), '500 ns');
  assert.equal(formatUs(12.34), '12.3 µs');
  assert.equal(formatUs(4560), '4.56 ms');
  assert.equal(formatUs(1_200_000), '1.20 s');
  assert.equal(formatUs(Number.NaN), '–');
  assert.equal(formatMs(1_234_567_890_123), '1,234,568 ms');
  assert.equal(formatMs(12_345_678), '12.3 ms');
  assert.equal(formatMs(0), '0 ms');
  assert.equal(thousands(-1234567.4), '-1,234,567');
  assert.equal(thousands('1234.50'), '1,234.50');
  assert.equal(thousands(999), '999');
});
