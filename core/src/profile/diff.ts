/**
 * The differential flame graph of profiles A (before) and B (after): one tree over the union of
 * their paths, where each node knows its weight in A, in B and the change, and a colour scale
 * by relative change (red: slower / grew, blue: faster / shrank). Pure: no Node, no DOM, no
 * vscode.
 *
 * A node's width is a + b, so that children always fit inside their parent (max(a, b) would
 * not: two children could each be as wide as the parent) and a path present in only one
 * profile still shows. A is first scaled by `scaleA` (the viewer passes B's duration over A's,
 * so two profiles of different lengths compare as rates). The colour's intensity is
 * |log2(b / a)| capped at 1: twice as slow is full red, twice as fast full blue, ±5% nearly
 * neutral; a path only in B is full red, only in A full blue.
 */

import { buildTree, FrameTable, type ChildOrder, type FlameData, type FlameTree } from './flame';

export interface DiffOptions {
  /** Multiplies A's weights (default 1). */
  scaleA?: number;
  order?: ChildOrder;
  kinds?: number;
}

/** The tree of A ∪ B: `total` is a + b, `alt` is b (diffOf reads a node). */
export function diffTree(a: FlameData, b: FlameData, options: DiffOptions = {}): FlameTree {
  const scaleA = options.scaleA ?? 1;
  const table = new FrameTable();
  const mapA = Int32Array.from(a.frames, (n) => table.id(n));
  const mapB = Int32Array.from(b.frames, (n) => table.id(n));
  const na = a.offsets.length - 1;
  const nb = b.offsets.length - 1;
  const offsets = new Int32Array(na + nb + 1);
  const stackFrames = new Int32Array(a.stackFrames.length + b.stackFrames.length);
  for (let j = 0; j < a.stackFrames.length; j++) stackFrames[j] = mapA[a.stackFrames[j]!]!;
  for (let j = 0; j < b.stackFrames.length; j++) stackFrames[a.stackFrames.length + j] = mapB[b.stackFrames[j]!]!;
  offsets.set(a.offsets.subarray(1), 1);
  for (let i = 1; i <= nb; i++) offsets[na + i] = a.stackFrames.length + b.offsets[i]!;
  const weights = new Float64Array(na + nb);
  const alt = new Float64Array(na + nb);
  for (let i = 0; i < na; i++) weights[i] = a.weights[i]! * scaleA;
  for (let i = 0; i < nb; i++) {
    weights[na + i] = b.weights[i]!;
    alt[na + i] = b.weights[i]!;
  }
  const counts = new Float64Array(na + nb);
  counts.set(a.counts);
  counts.set(b.counts, na);
  const kinds = new Uint8Array(na + nb);
  kinds.set(a.kinds);
  kinds.set(b.kinds, na);
  return buildTree(
    { frames: table.names, offsets, stackFrames, weights, counts, kinds, alt },
    { order: options.order ?? 'weight', kinds: options.kinds },
  );
}

export interface NodeDiff {
  /** Weight in A (scaled), ns. */
  a: number;
  /** Weight in B, ns. */
  b: number;
  /** b − a, ns. */
  delta: number;
  /** (b − a) / a; +Infinity when only in B, −1 when only in A. */
  change: number;
}

export function diffOf(t: FlameTree, i: number): NodeDiff {
  const total = t.total[i]!;
  const b = t.alt ? t.alt[i]! : total;
  let a = total - b;
  // total − b of floats: a path only in B must not read as a few attoseconds of A.
  if (Math.abs(a) <= total * 1e-9) a = 0;
  const delta = b - a;
  return { a, b, delta, change: a > 0 ? delta / a : b > 0 ? Number.POSITIVE_INFINITY : 0 };
}

/** Signed colour intensity in [-1, 1]: + grew (red), − shrank (blue); see the header. */
export function diffIntensity(a: number, b: number): number {
  if (a <= 0 && b <= 0) return 0;
  if (a <= 0) return 1;
  if (b <= 0) return -1;
  const l = Math.log2(b / a);
  return Math.max(-1, Math.min(1, l));
}
