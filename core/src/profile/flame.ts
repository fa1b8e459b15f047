/**
 * Stacks → flame graph: the compact, transferable form of a profile's stacks (FlameData: frame
 * names once, then flat typed arrays) and the call tree built from it (FlameTree), which every
 * flame view draws (flame, sandwich, differential). Pure: no Node, no DOM, no vscode; the
 * extension host builds FlameData, the webview builds the tree.
 *
 * The tree is built fast because 100,000 stacks of depth 8–40 must become a tree in about
 * 100 ms in the webview. It is an MSD radix sort of the stacks that makes the nodes in their
 * final preorder as it goes: a node's stacks (a range of one index array) are grouped by their
 * next frame (counting sort, or insertion sort for a few), the groups are its children, ordered
 * heaviest first ("left heavy") or by name, and each is made, depth first, before the next. So
 * there is no hash table, no per-node object and no reordering pass, and the stacks being
 * grouped stay in cache while their subtree is made (a trie with hashed child lookups was 3–4×
 * slower here, bound by cache misses). In preorder a subtree is the index range [i, end[i]),
 * so a renderer skips a subtree it culls in O(1). Weights are nanoseconds of latency (time-weighted,
 * never sample counts); `count` says how many samples or events a node stands for.
 */

import { STACK_KIND_CODES, type FlameWire, type Profile, type ProfileStack, type StackKind } from '@dfs/protocol';

/** STACK_KIND_CODES index per kind. */
export const KIND_CODE: Record<StackKind, number> = { oncpu: 0, offcpu: 1, slow: 2 };
export const KIND_COUNT = STACK_KIND_CODES.length;

/** A profile's stacks, compact: frame names once, stacks as frame indices, root first. */
export interface FlameData {
  /** Unique frame names. */
  frames: string[];
  /** Per stack + 1: stack i is stackFrames[offsets[i] .. offsets[i+1]). */
  offsets: Int32Array;
  stackFrames: Int32Array;
  /** Per stack: weight, ns. */
  weights: Float64Array;
  /** Per stack: samples or events. */
  counts: Float64Array;
  /** Per stack: KIND_CODE of its kind. */
  kinds: Uint8Array;
  /** A second weight per stack that the tree sums beside the first (diff.ts: B's share). */
  alt?: Float64Array;
}

/** Interns frame names into indices (one per distinct name). */
export class FrameTable {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.ids.set(name, id);
    }
    return id;
  }
}

/** Stacks of one or more profiles as one FlameData (frames interned across all of them). */
export function stacksToFlame(stacks: readonly ProfileStack[], table = new FrameTable()): FlameData {
  let frameCount = 0;
  for (const s of stacks) frameCount += s.frames.length;
  const offsets = new Int32Array(stacks.length + 1);
  const stackFrames = new Int32Array(frameCount);
  const weights = new Float64Array(stacks.length);
  const counts = new Float64Array(stacks.length);
  const kinds = new Uint8Array(stacks.length);
  let at = 0;
  stacks.forEach((s, i) => {
    for (const f of s.frames) stackFrames[at++] = table.id(f);
    offsets[i + 1] = at;
    weights[i] = s.total_ns;
    counts[i] = s.count;
    kinds[i] = KIND_CODE[s.kind] ?? 0;
  });
  return { frames: table.names, offsets, stackFrames, weights, counts, kinds };
}

export function profilesToFlame(profiles: readonly Profile[]): FlameData {
  return stacksToFlame(profiles.flatMap((p) => p.stacks));
}

/** FlameData → ProfileStack[] (export, tests). */
export function flameToStacks(d: FlameData): ProfileStack[] {
  const out: ProfileStack[] = [];
  for (let i = 0; i + 1 < d.offsets.length; i++) {
    const frames: string[] = [];
    for (let j = d.offsets[i]!; j < d.offsets[i + 1]!; j++) frames.push(d.frames[d.stackFrames[j]!]!);
    out.push({ frames, total_ns: d.weights[i]!, count: d.counts[i]!, kind: STACK_KIND_CODES[d.kinds[i]!] ?? 'oncpu' });
  }
  return out;
}

export function stackCount(d: FlameData): number {
  return d.offsets.length - 1;
}

// ---------------------------------------------------------------------------------------------
// The wire form (protocol FlameWire): typed arrays as little-endian bytes.

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function bytesOf(a: Int32Array | Float64Array): Uint8Array {
  if (littleEndian) return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  const out = new Uint8Array(a.byteLength);
  const v = new DataView(out.buffer);
  if (a instanceof Int32Array) a.forEach((x, i) => v.setInt32(i * 4, x, true));
  else a.forEach((x, i) => v.setFloat64(i * 8, x, true));
  return out;
}

function int32s(b: Uint8Array, what: string): Int32Array {
  if (b.byteLength % 4 !== 0)
    throw new RangeError(`flame ${what}: ${b.byteLength} bytes is not a whole number of int32`);
  const out = new Int32Array(b.byteLength / 4);
  if (littleEndian) new Uint8Array(out.buffer).set(b);
  else {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = v.getInt32(i * 4, true);
  }
  return out;
}

function float64s(b: Uint8Array, what: string): Float64Array {
  if (b.byteLength % 8 !== 0)
    throw new RangeError(`flame ${what}: ${b.byteLength} bytes is not a whole number of float64`);
  const out = new Float64Array(b.byteLength / 8);
  if (littleEndian) new Uint8Array(out.buffer).set(b);
  else {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = v.getFloat64(i * 8, true);
  }
  return out;
}

export function flameToWire(d: FlameData): FlameWire {
  return {
    frames: d.frames,
    offsets: bytesOf(d.offsets),
    stackFrames: bytesOf(d.stackFrames),
    weights: bytesOf(d.weights),
    counts: bytesOf(d.counts),
    kinds: d.kinds.slice(),
  };
}

/** The inverse of flameToWire; checks every length and index (a RangeError names the first fault). */
export function flameFromWire(w: FlameWire): FlameData {
  const offsets = int32s(w.offsets, 'offsets');
  const stackFrames = int32s(w.stackFrames, 'stackFrames');
  const weights = float64s(w.weights, 'weights');
  const counts = float64s(w.counts, 'counts');
  const kinds = new Uint8Array(w.kinds);
  const n = offsets.length - 1;
  if (n < 0 || offsets[0] !== 0 || offsets[n] !== stackFrames.length)
    throw new RangeError('flame offsets do not span the frames');
  if (weights.length !== n || counts.length !== n || kinds.length !== n)
    throw new RangeError('flame arrays differ in length');
  for (let i = 0; i < n; i++) {
    if (offsets[i + 1]! < offsets[i]!) throw new RangeError(`flame offsets decrease at stack ${i}`);
    if (!(weights[i]! >= 0) || !(counts[i]! >= 0) || kinds[i]! >= KIND_COUNT)
      throw new RangeError(`flame stack ${i} is malformed`);
  }
  const frameCount = w.frames.length;
  for (let i = 0; i < stackFrames.length; i++) {
    const f = stackFrames[i]!;
    if (f < 0 || f >= frameCount) throw new RangeError(`flame frame index ${f} out of range`);
  }
  return { frames: w.frames, offsets, stackFrames, weights, counts, kinds };
}

// ---------------------------------------------------------------------------------------------
// The call tree

export type ChildOrder = 'weight' | 'name';

/**
 * A call tree in preorder: node 0 is the root ("all"), the subtree of node i is [i, end[i]),
 * its first child (if any) is i + 1 and the next sibling of a child c is end[c]. Every array has
 * `size` entries; kindTotal has KIND_COUNT per node.
 */
export interface FlameTree {
  names: string[];
  size: number;
  /** Frame index per node; -1 for the root. */
  frame: Int32Array;
  depth: Int32Array;
  parent: Int32Array;
  end: Int32Array;
  /** Inclusive weight, ns. */
  total: Float64Array;
  /** Weight of stacks that end here, ns. */
  self: Float64Array;
  /** Inclusive samples or events. */
  count: Float64Array;
  /** Inclusive weight per kind: kindTotal[node * KIND_COUNT + KIND_CODE[kind]]. */
  kindTotal: Float64Array;
  /** FlameData.alt summed like total (inclusive), when the data had it. */
  alt: Float64Array | null;
  /** Left edge of each node in weight units (root at 0); its right edge is x + total. */
  x: Float64Array;
  maxDepth: number;
  order: ChildOrder;
  /** False when built with minShare and some nodes were left unexpanded. */
  complete: boolean;
}

export const ROOT_NAME = 'all';

export function nodeName(t: FlameTree, i: number): string {
  const f = t.frame[i]!;
  return f < 0 ? ROOT_NAME : (t.names[f] ?? '?');
}

export interface BuildOptions {
  order?: ChildOrder;
  /** Bit mask of kinds to include (1 << KIND_CODE[kind]); default all. */
  kinds?: number;
  /**
   * Do not make the children of nodes lighter than this share of the root (e.g. half a pixel
   * of the widest view): a first picture, drawn exactly the same, for a fraction of the work.
   * The tree says `complete: false`; those nodes' self and children are then missing.
   */
  minShare?: number;
}

/** Growable typed arrays (node arrays, the work stack, child descriptors). */
function grown<T extends Int32Array | Float64Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

/**
 * Builds the call tree of `d`, already in preorder and in `order` (see the header for how, and
 * FlameTree for the layout).
 */
export function buildTree(d: FlameData, options: BuildOptions = {}): FlameTree {
  const order = options.order ?? 'weight';
  const kindMask = options.kinds ?? (1 << KIND_COUNT) - 1;
  const { offsets, stackFrames, weights, counts, kinds, frames: names } = d;
  const alt = d.alt ?? null;
  const nStacks = offsets.length - 1;
  // The stacks taken, as indices that the grouping permutes in place.
  let m = 0;
  const members = new Int32Array(nStacks);
  for (let s = 0; s < nStacks; s++) if (((kindMask >> kinds[s]!) & 1) === 1) members[m++] = s;
  const scratch = new Int32Array(m);
  const keys = new Int32Array(m);
  const bucketOf = new Int32Array(names.length).fill(-1);

  // Nodes, grown as they are made; sized for about five new nodes per stack (I/O-path profiles
  // make 4–5), so growing (a copy of every array) is rare.
  let cap = Math.max(1024, Math.min(stackFrames.length + 1, m * 5 + 1024));
  let frame = new Int32Array(cap);
  let depth = new Int32Array(cap);
  let parent = new Int32Array(cap);
  let total = new Float64Array(cap);
  let self = new Float64Array(cap);
  let count = new Float64Array(cap);
  let kindTotal = new Float64Array(cap * KIND_COUNT);
  let altSum = alt ? new Float64Array(cap) : null;
  let x = new Float64Array(cap);
  let size = 0;
  let maxDepth = 0;

  // Work stack: one entry per node still to make (its members' range, depth, parent, frame, x).
  let wStart = new Int32Array(256);
  let wEnd = new Int32Array(256);
  let wDepth = new Int32Array(256);
  let wParent = new Int32Array(256);
  let wFrame = new Int32Array(256);
  let wX = new Float64Array(256);
  let top = 0;
  const push = (s0: number, s1: number, dep: number, par: number, f: number, at: number): void => {
    if (top === wStart.length) {
      wStart = grown(wStart, top + 1);
      wEnd = grown(wEnd, top + 1);
      wDepth = grown(wDepth, top + 1);
      wParent = grown(wParent, top + 1);
      wFrame = grown(wFrame, top + 1);
      wX = grown(wX, top + 1);
    }
    wStart[top] = s0;
    wEnd[top] = s1;
    wDepth[top] = dep;
    wParent[top] = par;
    wFrame[top] = f;
    wX[top] = at;
    top++;
  };
  // Children of the node being made: key, member range, weight; `rank` orders them.
  let cKey = new Int32Array(64);
  let cStart = new Int32Array(64);
  let cEnd = new Int32Array(64);
  let cTotal = new Float64Array(64);
  let rank = new Int32Array(64);
  const byWeight = (a: number, b: number): number =>
    cTotal[b]! - cTotal[a]! || (names[cKey[a]!]! < names[cKey[b]!]! ? -1 : 1);
  const byName = (a: number, b: number): number => {
    const na = names[cKey[a]!]!;
    const nb = names[cKey[b]!]!;
    return na < nb ? -1 : na > nb ? 1 : cTotal[b]! - cTotal[a]!;
  };
  const cmp = order === 'weight' ? byWeight : byName;
  let nc = 0;
  const addChild = (key: number, from: number, to: number, weight: number): void => {
    if (nc === cKey.length) {
      cKey = grown(cKey, nc + 1);
      cStart = grown(cStart, nc + 1);
      cEnd = grown(cEnd, nc + 1);
      cTotal = grown(cTotal, nc + 1);
      rank = grown(rank, nc + 1);
    }
    cKey[nc] = key;
    cStart[nc] = from;
    cEnd[nc] = to;
    cTotal[nc] = weight;
    rank[nc] = nc;
    nc++;
  };

  let minWeight = 0;
  if (options.minShare) {
    let all = 0;
    for (let i = 0; i < m; i++) all += weights[members[i]!]!;
    minWeight = all * options.minShare;
  }
  let complete = true;
  push(0, m, 0, -1, -1, 0);
  while (top > 0) {
    top--;
    const s0 = wStart[top]!;
    const s1 = wEnd[top]!;
    const dep = wDepth[top]!;
    const id = size++;
    if (id === cap) {
      cap *= 2;
      frame = grown(frame, cap);
      depth = grown(depth, cap);
      parent = grown(parent, cap);
      total = grown(total, cap);
      self = grown(self, cap);
      count = grown(count, cap);
      kindTotal = grown(kindTotal, cap * KIND_COUNT);
      if (altSum) altSum = grown(altSum, cap);
      x = grown(x, cap);
    }
    frame[id] = wFrame[top]!;
    parent[id] = wParent[top]!;
    depth[id] = dep;
    x[id] = wX[top]!;
    if (dep > maxDepth) maxDepth = dep;
    // Sums over the members; the stacks that end here move to the front (self).
    let tot = 0;
    let cnt = 0;
    let own = 0;
    let a = 0;
    let k0 = 0;
    let k1 = 0;
    let k2 = 0;
    let w = s0;
    for (let i = s0; i < s1; i++) {
      const s = members[i]!;
      const wt = weights[s]!;
      tot += wt;
      cnt += counts[s]!;
      const k = kinds[s]!;
      if (k === 0) k0 += wt;
      else if (k === 1) k1 += wt;
      else k2 += wt;
      if (alt) a += alt[s]!;
      const at = offsets[s]!;
      if (offsets[s + 1]! - at === dep) {
        own += wt;
        members[i] = members[w]!;
        keys[i] = keys[w]!;
        members[w++] = s;
      } else {
        // Each member's next frame is read once: reading it is the cache miss that costs
        // most here.
        keys[i] = stackFrames[at + dep]!;
      }
    }
    total[id] = tot;
    self[id] = own;
    count[id] = cnt;
    kindTotal[id * KIND_COUNT] = k0;
    kindTotal[id * KIND_COUNT + 1] = k1;
    kindTotal[id * KIND_COUNT + 2] = k2;
    if (altSum) altSum[id] = a;
    if (w === s1) continue;
    if (tot < minWeight) {
      complete = false;
      continue;
    }
    // Group the others by their next frame: insertion sort for a few, counting sort for more.
    nc = 0;
    if (s1 - w <= 24) {
      for (let i = w + 1; i < s1; i++) {
        const s = members[i]!;
        const key = keys[i]!;
        let j = i - 1;
        while (j >= w && keys[j]! > key) {
          members[j + 1] = members[j]!;
          keys[j + 1] = keys[j]!;
          j--;
        }
        members[j + 1] = s;
        keys[j + 1] = key;
      }
      let from = w;
      let key = keys[w]!;
      let weight = 0;
      for (let i = w; i < s1; i++) {
        const k = keys[i]!;
        if (k !== key) {
          addChild(key, from, i, weight);
          from = i;
          key = k;
          weight = 0;
        }
        weight += weights[members[i]!]!;
      }
      addChild(key, from, s1, weight);
    } else {
      for (let i = w; i < s1; i++) {
        const key = keys[i]!;
        let b = bucketOf[key]!;
        if (b < 0) {
          b = nc;
          bucketOf[key] = b;
          addChild(key, 0, 0, 0);
        }
        cEnd[b] = cEnd[b]! + 1;
        cTotal[b] = cTotal[b]! + weights[members[i]!]!;
      }
      let at = w;
      for (let c = 0; c < nc; c++) {
        const n = cEnd[c]!;
        cStart[c] = at;
        cEnd[c] = at;
        at += n;
      }
      for (let i = w; i < s1; i++) {
        const b = bucketOf[keys[i]!]!;
        scratch[cEnd[b]!] = members[i]!;
        cEnd[b] = cEnd[b]! + 1;
      }
      members.set(scratch.subarray(w, s1), w);
      for (let c = 0; c < nc; c++) bucketOf[cKey[c]!] = -1;
    }
    // Children in drawing order; pushed last first so the first is made next (preorder).
    // (Most nodes have a few children: an insertion sort of the ranks, which allocates
    // nothing, unlike a typed array's sort with a comparator.)
    if (nc > 32) rank.set(Array.from(rank.subarray(0, nc)).sort(cmp));
    else
      for (let i = 1; i < nc; i++) {
        const r = rank[i]!;
        let j = i - 1;
        while (j >= 0 && cmp(rank[j]!, r) > 0) {
          rank[j + 1] = rank[j]!;
          j--;
        }
        rank[j + 1] = r;
      }
    // The last child starts where the others end (they all start at the parent's left edge).
    let cx = x[id];
    for (let r = 0; r < nc - 1; r++) cx += cTotal[rank[r]!]!;
    for (let r = nc - 1; r >= 0; r--) {
      const c = rank[r]!;
      push(cStart[c]!, cEnd[c]!, dep + 1, id, cKey[c]!, cx);
      if (r > 0) cx -= cTotal[rank[r - 1]!]!;
    }
  }
  // Subtree ends: a child always comes after its parent.
  const end = new Int32Array(size);
  for (let i = 0; i < size; i++) end[i] = i + 1;
  for (let i = size - 1; i > 0; i--) {
    const p = parent[i]!;
    if (end[i]! > end[p]!) end[p] = end[i]!;
  }
  // Views, not copies: the spare capacity is not worth a second copy of every array.
  const cut = <T extends Int32Array | Float64Array>(arr: T, n: number): T => arr.subarray(0, n) as T;
  return {
    names,
    size,
    frame: cut(frame, size),
    depth: cut(depth, size),
    parent: cut(parent, size),
    end,
    total: cut(total, size),
    self: cut(self, size),
    count: cut(count, size),
    kindTotal: cut(kindTotal, size * KIND_COUNT),
    alt: altSum ? cut(altSum, size) : null,
    x: cut(x, size),
    maxDepth,
    order,
    complete,
  };
}

/** The kind that holds most of the node's weight (KIND_CODE). */
export function dominantKind(t: FlameTree, i: number): number {
  let best = 0;
  let w = -1;
  for (let k = 0; k < KIND_COUNT; k++) {
    const v = t.kindTotal[i * KIND_COUNT + k]!;
    if (v > w) {
      w = v;
      best = k;
    }
  }
  return best;
}

/** The node and its ancestors, root first. */
export function pathTo(t: FlameTree, i: number): number[] {
  const path: number[] = [];
  for (let n = i; n >= 0; n = t.parent[n]!) path.push(n);
  return path.reverse();
}

/** The children of node i, in drawing order. */
export function childrenOf(t: FlameTree, i: number): number[] {
  const out: number[] = [];
  for (let c = i + 1; c < t.end[i]!; c = t.end[c]!) out.push(c);
  return out;
}

/**
 * Frames whose name contains `query` (case-insensitive when the query is lower case, like the
 * editor's search), as a per-frame mark.
 */
export function matchFrames(names: readonly string[], query: string): Uint8Array {
  const marks = new Uint8Array(names.length);
  if (!query) return marks;
  const fold = query === query.toLowerCase();
  names.forEach((n, i) => {
    if ((fold ? n.toLowerCase() : n).includes(query)) marks[i] = 1;
  });
  return marks;
}

/**
 * The weight under frames marked in `marks`, each stack counted once (a match below a match is
 * not added again), and how many nodes matched.
 */
export function matchedWeight(t: FlameTree, marks: Uint8Array): { weight: number; nodes: number } {
  let weight = 0;
  let nodes = 0;
  let coveredUntil = 0;
  for (let i = 1; i < t.size; i++) {
    if (marks[t.frame[i]!] !== 1) continue;
    nodes++;
    if (i >= coveredUntil) {
      weight += t.total[i]!;
      coveredUntil = t.end[i]!;
    }
  }
  return { weight, nodes };
}

/** The first node (preorder) whose name is `name`, or -1. */
export function findNode(t: FlameTree, name: string): number {
  for (let i = 1; i < t.size; i++) if (t.names[t.frame[i]!] === name) return i;
  return -1;
}

/**
 * Runs buildTree once on a small made-up profile that takes every path (counting and insertion
 * grouping, many children, growing arrays, both orders, a second weight, pruning). Call it at
 * start-up, before a real profile arrives: V8 then has type feedback for every branch when it
 * optimizes the big build; without it, a first build of 100,000 stacks deoptimized about ten
 * times mid-call (each time back to the interpreter), which cost more than the build itself.
 */
export function warmUpTree(): void {
  const stacks: ProfileStack[] = [];
  const kinds: StackKind[] = ['oncpu', 'offcpu', 'slow'];
  for (let i = 0; i < 400; i++) {
    const frames = ['root', `c${i % 80}`];
    for (let d = 0; d < 4 + (i % 7); d++) frames.push(`f${(i * 7 + d) % 50}`);
    stacks.push({ frames, total_ns: 1 + (i % 13), count: 1, kind: kinds[i % 3]! });
  }
  for (let i = 0; i < 300; i++) stacks.push({ frames: [`top${i}`], total_ns: 1, count: 1, kind: 'oncpu' });
  const d = stacksToFlame(stacks);
  buildTree(d);
  buildTree({ ...d, alt: new Float64Array(d.weights.length) }, { order: 'name', minShare: 0.01 });
}
