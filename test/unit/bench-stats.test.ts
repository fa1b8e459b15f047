// Benchmark arithmetic (core/src/bench): percentiles, medians, and redis-benchmark CSV parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, percentile } from '../../core/src/bench/stats';
import { inNode, parseRedisBenchmarkCsv } from '../../core/src/bench/workloads';

test('nearest-rank percentiles and medians', () => {
  const xs = [5, 1, 4, 2, 3];
  assert.equal(median(xs), 3);
  assert.equal(percentile(xs, 100), 5);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(
    percentile(
      Array.from({ length: 100 }, (_, i) => i + 1),
      99,
    ),
    99,
  );
  assert.ok(Number.isNaN(median([])));
});

test('redis-benchmark 7 CSV output', () => {
  const csv = [
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"',
    '"SET","88573.96","0.349","0.080","0.343","0.500","0.631","7.671"',
    '"GET","88339.23","0.346","0.080","0.319","0.480","0.967","6.743"',
  ].join('\n');
  assert.deepEqual(parseRedisBenchmarkCsv(csv), [
    { test: 'SET', rps: 88573.96, p50: 0.343, p99: 0.631 },
    { test: 'GET', rps: 88339.23, p50: 0.319, p99: 0.967 },
  ]);
});

test('load generators run inside the node netns and cgroup, argv passed through untouched', () => {
  const [file, args] = inNode(
    { name: 'dfsnode0', cgroup: '/sys/fs/cgroup/unified/dfs-ebpf/dfsnode0', mountpoint: '/m' },
    ['redis-benchmark', '-t', 'set; rm -rf /'],
  );
  assert.equal(file, 'nsenter');
  assert.equal(args[0], '--net=/run/netns/dfsnode0');
  assert.deepEqual(args.slice(-3), ['redis-benchmark', '-t', 'set; rm -rf /']);
});
