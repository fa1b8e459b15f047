// Benchmark arithmetic and shape (core/src/bench): percentiles, medians, redis-benchmark CSV
// parsing and argv, the rotating off/on/limit order, the ratios against off and against the
// limit, and the JSON of a run (driven through fake workloads and a fake bypass switch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type BypassSwitch, MODES, type Mode, runAbBench, summarize, type Workload } from '../../core/src/bench/ab';
import { betterBy, median, percentile, rotation } from '../../core/src/bench/stats';
import { inNode, parseRedisBenchmarkCsv, redisSmallArgv, type Sample } from '../../core/src/bench/workloads';
import { nullLogger } from '../../core/src/log';

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

// ---------------------------------------------------------------------------------------------
// Off / on / limit, interleaved (core/src/bench/ab.ts)

test('modes rotate: every mode runs first, middle and last once every three rounds', () => {
  const orders = [1, 2, 3, 4].map((r) => rotation(MODES, r));
  assert.deepEqual(orders, [
    ['off', 'on', 'limit'],
    ['on', 'limit', 'off'],
    ['limit', 'off', 'on'],
    ['off', 'on', 'limit'],
  ]);
  for (const pos of [0, 1, 2]) assert.deepEqual(new Set(orders.slice(0, 3).map((o) => o[pos])), new Set(MODES));
});

test('betterBy is a/b for throughput and b/a for times; NaN without data', () => {
  assert.equal(betterBy('ops/s', 150, 100), 1.5);
  assert.equal(betterBy('ms', 2, 4), 2);
  assert.ok(Number.isNaN(betterBy('ops/s', 1, 0)));
  assert.ok(Number.isNaN(betterBy('ops/s', NaN, 1)));
});

const s = (value: number, p50 = 1, p99 = 2): Sample => ({ value, p50_ms: p50, p99_ms: p99 });

test('summary: medians per mode, ratio = on/off, limit_value, of_limit = on/limit, rounds kept', () => {
  const rounds = [
    { round: 1, order: rotation(MODES, 1), samples: { off: s(100, 0.5), on: s(130, 0.3), limit: s(140, 0.25) } },
    { round: 2, order: rotation(MODES, 2), samples: { off: s(90, 0.6), on: s(120, 0.35), limit: s(150, 0.2) } },
    { round: 3, order: rotation(MODES, 3), samples: { off: s(110, 0.4), on: s(125, 0.3), limit: s(130, 0.3) } },
  ];
  const w = summarize({ name: 'redis-small', unit: 'ops/s', limit: 'unix' }, rounds, 4242);
  assert.deepEqual(w.off, { value: 100, p50_ms: 0.5, p99_ms: 2 });
  assert.deepEqual(w.on, { value: 125, p50_ms: 0.3, p99_ms: 2 });
  assert.deepEqual(w.limit, { value: 140, p50_ms: 0.25, p99_ms: 2 });
  assert.equal(w.ratio, 1.25);
  assert.equal(w.limit_value, 140);
  assert.equal(w.of_limit, 0.893);
  assert.equal(w.redirected_msgs, 4242);
  // Within rounds: on/off 1.3, 1.333, 1.136; on/limit 0.929, 0.8, 0.962.
  assert.deepEqual(w.paired, {
    ratio: { median: 1.3, min: 1.136, max: 1.333 },
    of_limit: { median: 0.929, min: 0.8, max: 0.962 },
  });
  assert.deepEqual(
    w.rounds.map((r) => [r.ratio, r.of_limit]),
    [
      [1.3, 0.929],
      [1.333, 0.8],
      [1.136, 0.962],
    ],
  );
  assert.deepEqual(
    w.rounds.map((r) => [r.round, r.order.join(','), r.off.value, r.on.value, r.limit.value]),
    [
      [1, 'off,on,limit', 100, 130, 140],
      [2, 'on,limit,off', 90, 120, 150],
      [3, 'limit,off,on', 110, 125, 130],
    ],
  );
});

test('a run: the bypass is attached only around "on", in the rotating order; the JSON has the contract keys', async () => {
  const events: string[] = [];
  let attached = false;
  const bypass: BypassSwitch = {
    attach: () => {
      events.push('attach');
      attached = true;
      return Promise.resolve();
    },
    detach: () => {
      events.push('detach');
      attached = false;
      return Promise.resolve(1000);
    },
  };
  const value: Record<Mode, number> = { off: 100, on: 120, limit: 150 };
  const workloads: Workload[] = ['redis-small', 'juicefs-metadata'].map((name) => ({
    name,
    unit: 'ops/s',
    limit: 'unix',
    run: (mode: Mode) => {
      events.push(`${name}:${mode}`);
      assert.equal(attached, mode === 'on', `bypass attached during ${mode}`);
      return Promise.resolve(s(value[mode]));
    },
  }));
  const report = await runAbBench(bypass, workloads, 2, nullLogger, () => undefined);
  assert.deepEqual(events, [
    'redis-small:off',
    'attach',
    'redis-small:on',
    'detach',
    'redis-small:limit',
    'juicefs-metadata:off',
    'attach',
    'juicefs-metadata:on',
    'detach',
    'juicefs-metadata:limit',
    'attach',
    'redis-small:on',
    'detach',
    'redis-small:limit',
    'redis-small:off',
    'attach',
    'juicefs-metadata:on',
    'detach',
    'juicefs-metadata:limit',
    'juicefs-metadata:off',
  ]);
  const doc = JSON.parse(JSON.stringify(report)) as Record<string, unknown> & { workloads: Record<string, unknown>[] };
  assert.deepEqual(Object.keys(doc).sort(), ['machine', 'runs', 'workloads']);
  assert.equal(doc.runs, 2);
  for (const w of doc.workloads) {
    for (const k of ['name', 'unit', 'off', 'on', 'limit', 'ratio', 'limit_value', 'of_limit', 'paired', 'rounds'])
      assert.ok(k in w, `workload key ${k}`);
    for (const side of ['off', 'on', 'limit'])
      assert.deepEqual(Object.keys(w[side] as object).sort(), ['p50_ms', 'p99_ms', 'value']);
    assert.equal(w.ratio, 1.2);
    assert.equal(w.limit_value, 150);
    assert.equal(w.of_limit, 0.8);
    assert.equal(w.redirected_msgs, 2000);
    assert.equal((w.rounds as unknown[]).length, 2);
  }
});

test('a run is refused when the bypass redirected nothing during "on"', async () => {
  const bypass: BypassSwitch = { attach: () => Promise.resolve(), detach: () => Promise.resolve(0) };
  const w: Workload = { name: 'redis-small', unit: 'ops/s', limit: 'unix', run: () => Promise.resolve(s(1)) };
  await assert.rejects(
    runAbBench(bypass, [w], 1, nullLogger, () => undefined),
    /redirected nothing during redis-small/,
  );
});

test('redis-benchmark logs in as the bench user, over TCP or the Unix socket', () => {
  const tcp = redisSmallArgv({ port: 6379, user: 'dfs-bench', password: 'tmp' }, 1000);
  assert.deepEqual(tcp.slice(0, 9), [
    'redis-benchmark',
    '-h',
    '127.0.0.1',
    '-p',
    '6379',
    '--user',
    'dfs-bench',
    '-a',
    'tmp',
  ]);
  const unix = redisSmallArgv({ socket: '/x/redis.sock', user: 'dfs-bench', password: 'tmp' }, 1000);
  assert.deepEqual(unix.slice(0, 7), ['redis-benchmark', '-s', '/x/redis.sock', '--user', 'dfs-bench', '-a', 'tmp']);
  // Everything after the target is the same workload.
  assert.deepEqual(tcp.slice(9), unix.slice(7));
  assert.ok(tcp.includes('set,get') && tcp.includes('50') && tcp.includes('16'));
});
