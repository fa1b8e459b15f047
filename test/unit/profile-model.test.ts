// The profile model (core/src/profile/flame.ts): stacks → FlameData → call tree, on small
// hand-made stacks with exact expected trees (totals, self, counts, kind split, preorder
// layout, left-heavy and by-name order), the wire round trip and its checks, and a printed
// (never asserted) build time for 100,000 synthetic stacks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ProfileStack } from '../../protocol/src';
import {
  buildTree,
  childrenOf,
  flameFromWire,
  flameToStacks,
  flameToWire,
  KIND_COUNT,
  matchedWeight,
  matchFrames,
  nodeName,
  pathTo,
  stacksToFlame,
  type FlameTree,
  warmUpTree,
} from '../../core/src/profile/flame';
import { syntheticProfile } from '../support/syntheticProfile';

const st = (path: string, total_ns: number, kind: ProfileStack['kind'] = 'oncpu', count = 1): ProfileStack => ({
  frames: path.split(';'),
  total_ns,
  count,
  kind,
});

/** The tree as indented lines "name total/self", children in drawing order. */
function dump(t: FlameTree, i = 0, indent = ''): string[] {
  const lines = [`${indent}${nodeName(t, i)} ${t.total[i]}/${t.self[i]}`];
  for (const c of childrenOf(t, i)) lines.push(...dump(t, c, indent + '  '));
  return lines;
}

const small = [
  st('a;b;c', 10),
  st('a;b', 5, 'offcpu', 2),
  st('a;d', 20),
  st('e', 1, 'slow'),
  st('a;b;c', 4, 'oncpu', 3),
];

test('tree of small stacks: totals, self, left-heavy order', () => {
  const t = buildTree(stacksToFlame(small));
  assert.deepEqual(dump(t), ['all 40/0', '  a 39/0', '    d 20/20', '    b 19/5', '      c 14/14', '  e 1/1']);
  const c = t.names.indexOf('c');
  const nc = [...t.frame].indexOf(c);
  assert.equal(t.count[nc], 4);
  assert.deepEqual(
    pathTo(t, nc).map((i) => nodeName(t, i)),
    ['all', 'a', 'b', 'c'],
  );
  const nb = t.parent[nc]!;
  // b: 14 on-CPU (through c) + 5 off-CPU.
  assert.deepEqual([...t.kindTotal.subarray(nb * KIND_COUNT, nb * KIND_COUNT + 3)], [14, 5, 0]);
  assert.equal(t.maxDepth, 3);
  // Preorder layout: subtree ranges and x offsets.
  assert.equal(t.end[0], t.size);
  for (let i = 1; i < t.size; i++) {
    const p = t.parent[i]!;
    assert.ok(p < i && t.end[i]! <= t.end[p]!, 'a subtree lies inside its parent');
    assert.equal(t.depth[i], t.depth[p]! + 1);
    assert.ok(t.x[i]! >= t.x[p]! && t.x[i]! + t.total[i]! <= t.x[p]! + t.total[p]! + 1e-9);
  }
  assert.deepEqual(
    childrenOf(t, 1).map((i) => [nodeName(t, i), t.x[i]]),
    [
      ['d', 0],
      ['b', 20],
    ],
  );
});

test('by-name order and kind filter', () => {
  const d = stacksToFlame(small);
  assert.deepEqual(dump(buildTree(d, { order: 'name' })), [
    'all 40/0',
    '  a 39/0',
    '    b 19/5',
    '      c 14/14',
    '    d 20/20',
    '  e 1/1',
  ]);
  assert.deepEqual(dump(buildTree(d, { kinds: 1 << 1 })), ['all 5/0', '  a 5/0', '    b 5/5']);
});

test('search: matched share counts each stack once', () => {
  const t = buildTree(stacksToFlame([st('a;b;a;c', 10), st('a;d', 5), st('x;y', 5)]));
  const m = matchFrames(t.names, 'a');
  assert.deepEqual(matchedWeight(t, m), { weight: 15, nodes: 2 });
  assert.deepEqual(matchedWeight(t, matchFrames(t.names, 'C')), { weight: 0, nodes: 0 });
  assert.deepEqual(matchedWeight(t, matchFrames(t.names, 'c')), { weight: 10, nodes: 1 });
});

test('FlameData round trips through the wire form and its checks refuse damage', () => {
  const d = stacksToFlame(small);
  const back = flameFromWire(flameToWire(d));
  assert.deepEqual(
    flameToStacks(back),
    small.map((s) => ({ ...s })),
  );
  const w = flameToWire(d);
  assert.throws(() => flameFromWire({ ...w, weights: w.weights.subarray(0, 7) }), RangeError);
  const bad = flameToWire(d);
  new DataView(bad.stackFrames.buffer).setInt32(0, 99, true);
  assert.throws(() => flameFromWire(bad), /out of range/);
  const neg = flameToWire(d);
  new DataView(neg.weights.buffer).setFloat64(0, -1, true);
  assert.throws(() => flameFromWire(neg), /malformed/);
});

test('a first-picture tree (minShare) has exactly the nodes wide enough to draw', () => {
  const d = stacksToFlame(syntheticProfile({ stacks: 3000, seed: 4 }).stacks);
  const full = buildTree(d);
  const share = 0.5 / 1400;
  const first = buildTree(d, { minShare: share });
  assert.equal(full.complete, true);
  assert.equal(first.complete, false);
  assert.ok(first.size < full.size);
  // Preorder rows (name, depth, x, total) of nodes at least `share` of the root wide.
  const rows = (t: FlameTree): string[] => {
    const out: string[] = [];
    for (let i = 0; i < t.size; i++) {
      if (t.total[i]! >= t.total[0]! * share) out.push(`${nodeName(t, i)} ${t.depth[i]} ${t.x[i]} ${t.total[i]}`);
    }
    return out;
  };
  assert.deepEqual(rows(first), rows(full));
});

test('100,000 stacks build a tree (time printed, not asserted)', () => {
  const p = syntheticProfile({ stacks: 100_000, seed: 7 });
  const d = stacksToFlame(p.stacks);
  warmUpTree();
  const times: number[] = [];
  let t!: FlameTree;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    t = buildTree(d);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const sum = p.stacks.reduce((s, x) => s + x.total_ns, 0);
  assert.equal(t.total[0], sum);
  assert.equal(d.offsets.length - 1, 100_000);
  console.log(
    `buildTree: 100,000 stacks (${d.stackFrames.length} frames) → ${t.size} nodes, median ${times[2]!.toFixed(1)} ms in Node`,
  );
});
