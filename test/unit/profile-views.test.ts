// Derived views of profiles on small hand-made stacks with exact expected trees: the
// differential tree (core/src/profile/diff.ts), the sandwich of one function with recursion
// (sandwich.ts) and the --compare data and table (compare.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Profile, ProfileStack } from '../../protocol/src';
import { childrenOf, nodeName, stacksToFlame, type FlameTree } from '../../core/src/profile/flame';
import { diffIntensity, diffOf, diffTree } from '../../core/src/profile/diff';
import { sandwich } from '../../core/src/profile/sandwich';
import { compareProfiles, comparisonTable } from '../../core/src/profile/compare';

const st = (path: string, total_ns: number, kind: ProfileStack['kind'] = 'oncpu'): ProfileStack => ({
  frames: path.split(';'),
  total_ns,
  count: 1,
  kind,
});

function dump(t: FlameTree, show: (i: number) => string, i = 0, indent = ''): string[] {
  const lines = [`${indent}${nodeName(t, i)} ${show(i)}`];
  for (const c of childrenOf(t, i)) lines.push(...dump(t, show, c, indent + '  '));
  return lines;
}

test('diff tree: a, b and change per path, paths of one side only', () => {
  const a = stacksToFlame([st('m;read;redis', 10), st('m;read;disk', 4), st('m;gone', 2)]);
  const b = stacksToFlame([st('m;read;redis', 5), st('m;read;disk', 8), st('m;new', 3)]);
  const t = diffTree(a, b);
  const show = (i: number): string => {
    const d = diffOf(t, i);
    return `${d.a}→${d.b}`;
  };
  assert.deepEqual(dump(t, show), [
    'all 16→16',
    '  m 16→16',
    '    read 14→13',
    '      redis 10→5',
    '      disk 4→8',
    '    new 0→3',
    '    gone 2→0',
  ]);
  const scaled = diffTree(a, b, { scaleA: 0.5 });
  assert.equal(diffOf(scaled, 0).a, 8);
  assert.equal(diffIntensity(10, 5), -1);
  assert.equal(diffIntensity(4, 8), 1);
  assert.equal(diffIntensity(0, 3), 1);
  assert.equal(diffIntensity(2, 0), -1);
  assert.ok(Math.abs(diffIntensity(100, 105) - Math.log2(1.05)) < 1e-12);
  assert.equal(
    diffOf(
      t,
      childrenOf(t, 1).find((i) => nodeName(t, i) === 'new')!,
    ).change,
    Number.POSITIVE_INFINITY,
  );
});

test('sandwich: callers inverted, callees below, recursion counted once', () => {
  const d = stacksToFlame([
    st('main;serve;read;read;io', 10), // direct recursion: folded in the callees tree
    st('main;read;parse;read', 6), // indirect recursion: kept
    st('main;serve;write', 5), // no read
    st('other;read', 2, 'offcpu'),
  ]);
  const s = sandwich(d, 'read')!;
  assert.equal(s.total, 18);
  assert.equal(s.self, 8);
  const show = (t: FlameTree) => (i: number) => `${t.total[i]}/${t.self[i]}`;
  assert.deepEqual(dump(s.callers, show(s.callers)), [
    'all 18/0',
    '  read 18/0',
    '    serve 10/0',
    '      main 10/10',
    '    main 6/6',
    '    other 2/2',
  ]);
  assert.deepEqual(dump(s.callees, show(s.callees)), [
    'all 18/0',
    '  read 18/2',
    '    io 10/10',
    '    parse 6/0',
    '      read 6/6',
  ]);
  assert.equal(sandwich(d, 'nothing'), null);
  assert.equal(sandwich(d, 'read', 'weight', 1 << 1)!.total, 2);
});

const prof = (stacks: ProfileStack[], duration_s: number, p50le: number): Profile => ({
  version: 1,
  node: 'n',
  mountpoint: '/m',
  juicefs: '1.4',
  started_at: '',
  duration_s,
  histograms: [
    { layer: 'fuse', op: 'READ', count: 4, sum_ns: 1, buckets: [{ le_us: p50le, count: 4 }] },
    { layer: 'meta', op: 'redis', count: 1, sum_ns: 1, buckets: [{ le_us: 8, count: 1 }] },
  ],
  stacks,
  sources: {},
  drops: { events: 0, stacks: 0, inflight: 0 },
  cost: [],
  config: { stacks: true, slow_request_us: 0 },
});

test('compare: per-layer percentiles and per-frame self/total (each stack once)', () => {
  const a = prof([st('m;f;f', 10e6), st('m;g', 2e6)], 10, 1024);
  const b = prof([st('m;f', 4e6), st('m;g', 6e6)], 10, 512);
  b.histograms.pop();
  const c = compareProfiles(a, b);
  assert.equal(c.scale, 1);
  assert.deepEqual(c.layers[0], {
    layer: 'fuse',
    op: 'READ',
    phase: 'total',
    a: { count: 4, p50Us: 768, p99Us: 1024 },
    b: { count: 4, p50Us: 384, p99Us: 512 },
  });
  assert.equal(c.layers[1]!.b, null);
  assert.deepEqual(
    c.frames.map((f) => [f.frame, f.selfA, f.selfB, f.totalA, f.totalB]),
    [
      ['f', 10e6, 4e6, 10e6, 4e6],
      ['g', 2e6, 6e6, 2e6, 6e6],
      ['m', 0, 0, 12e6, 10e6],
    ],
  );
  const text = comparisonTable(c);
  assert.match(text, /fuse\s+READ\s+total\s+4\s+4\s+768 µs\s+384 µs\s+-50%/);
  assert.match(text, /\nf\s+10\.00\s+4\.00\s+-60%/);
  assert.match(text, /meta\s+redis\s+total\s+1\s+–/);
  const d = compareProfiles(a, prof([st('m;g', 6e6)], 20, 512));
  assert.equal(d.scale, 0.5);
  assert.match(comparisonTable(d), /Durations differ/);
});
