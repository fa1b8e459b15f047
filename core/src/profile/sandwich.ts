/**
 * The sandwich view of one function: who calls it (its callers, as an inverted tree rooted at
 * the function) and what it calls (its callees, a tree rooted at the function), both built from
 * every stack that contains it. Pure: no Node, no DOM, no vscode.
 *
 * Recursion: each stack counts once, cut at the function's OUTERMOST occurrence, so both trees
 * have the function's true inclusive time at their root (a recursive function is not counted
 * twice). The callers tree is the stack above that occurrence, reversed (there is no other
 * occurrence above it). In the callees tree direct recursion (f → f → f) is folded into one f,
 * while indirect recursion (f → g → f) stays visible as it happened.
 */

import { buildTree, KIND_COUNT, type ChildOrder, type FlameData, type FlameTree } from './flame';

export interface Sandwich {
  frame: string;
  /** Inclusive weight of the function (each stack once), ns. */
  total: number;
  /** Weight of stacks that end in the function, ns. */
  self: number;
  /** Root → the function (depth 1) → its callers, the nearest first. */
  callers: FlameTree;
  /** Root → the function (depth 1) → its callees. */
  callees: FlameTree;
}

/** The sandwich of `frame` in `d`, or null when no stack contains it. */
export function sandwich(
  d: FlameData,
  frame: string,
  order: ChildOrder = 'weight',
  kinds = (1 << KIND_COUNT) - 1,
): Sandwich | null {
  const fi = d.frames.indexOf(frame);
  if (fi < 0) return null;
  const n = d.offsets.length - 1;
  const callerFrames: number[] = [];
  const calleeFrames: number[] = [];
  const callerOffsets = [0];
  const calleeOffsets = [0];
  const weights: number[] = [];
  const counts: number[] = [];
  const kindsOut: number[] = [];
  let total = 0;
  let self = 0;
  for (let s = 0; s < n; s++) {
    if (((kinds >> d.kinds[s]!) & 1) === 0) continue;
    const a = d.offsets[s]!;
    const e = d.offsets[s + 1]!;
    let first = -1;
    for (let j = a; j < e; j++) {
      if (d.stackFrames[j] === fi) {
        first = j;
        break;
      }
    }
    if (first < 0) continue;
    for (let j = first; j >= a; j--) callerFrames.push(d.stackFrames[j]!);
    for (let j = first; j < e; j++) {
      const f = d.stackFrames[j]!;
      if (f === fi && j > first && d.stackFrames[j - 1] === fi) continue;
      calleeFrames.push(f);
    }
    callerOffsets.push(callerFrames.length);
    calleeOffsets.push(calleeFrames.length);
    const w = d.weights[s]!;
    weights.push(w);
    counts.push(d.counts[s]!);
    kindsOut.push(d.kinds[s]!);
    total += w;
    if (d.stackFrames[e - 1] === fi) self += w;
  }
  if (weights.length === 0) return null;
  const common = {
    frames: d.frames,
    weights: Float64Array.from(weights),
    counts: Float64Array.from(counts),
    kinds: Uint8Array.from(kindsOut),
  };
  return {
    frame,
    total,
    self,
    callers: buildTree(
      { ...common, offsets: Int32Array.from(callerOffsets), stackFrames: Int32Array.from(callerFrames) },
      { order },
    ),
    callees: buildTree(
      { ...common, offsets: Int32Array.from(calleeOffsets), stackFrames: Int32Array.from(calleeFrames) },
      { order },
    ),
  };
}
