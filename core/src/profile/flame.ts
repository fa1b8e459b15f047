/**
 * Stacks → flame graph: the compact, transferable form of a profile's stacks (FlameData: frame
 * names once, then flat typed arrays) and the call tree built from it (FlameTree), which every
 * flame view draws (flame, sandwich, differential). Pure: no Node, no DOM, no vscode; the
 * extension host builds FlameData, the webview builds the tree.
 *
 * The tree is built fast because 100,000 stacks of depth 8–40 must become a tree in well under
 * 100 ms in the webview: one pass inserts every stack into a trie whose (parent, frame) → child
 * lookups go through an open-addressing hash table over typed arrays (no Map, no objects per
 * node), a second orders each node's children (heaviest first, "left heavy", or by name), and a
 * third lays the nodes out in preorder, so a subtree is the index range [i, end[i]) and a
 * renderer skips a subtree it culls in O(1). Weights are nanoseconds of latency (time-weighted,
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
}

/** Growable typed arrays of the trie under construction. */
class Trie {
  cap: number;
  size = 1;
  frame: Int32Array;
  parent: Int32Array;
  /** Per node, the child it was last entered through (0: none). */
  hint: Int32Array;
  total: Float64Array;
  self: Float64Array;
  count: Float64Array;
  kindTotal: Float64Array;
  alt: Float64Array | null;
  private table: Int32Array;
  private slots: number;
  private mask: number;

  constructor(expected: number, withAlt: boolean) {
    this.cap = Math.max(16, expected);
    this.frame = new Int32Array(this.cap);
    this.parent = new Int32Array(this.cap);
    this.hint = new Int32Array(this.cap);
    this.total = new Float64Array(this.cap);
    this.self = new Float64Array(this.cap);
    this.count = new Float64Array(this.cap);
    this.kindTotal = new Float64Array(this.cap * KIND_COUNT);
    this.alt = withAlt ? new Float64Array(this.cap) : null;
    this.frame[0] = -1;
    this.parent[0] = -1;
    let slots = 1024;
    while (slots < this.cap * 2) slots *= 2;
    this.table = new Int32Array(slots * 3);
    this.slots = slots;
    this.mask = slots - 1;
  }

  private static hash(p: number, f: number): number {
    let h = Math.imul(p, 0x9e3779b1) ^ Math.imul(f + 1, 0x85ebca77);
    h ^= h >>> 15;
    return Math.imul(h, 0x2c1b3c6d) ^ (h >>> 12);
  }

  /** The child of `p` for frame `f`, made if missing. */
  child(p: number, f: number): number {
    // Most nodes have one child, or are entered again through the same one: try the child
    // used last before hashing (node arrays are far smaller than the table, so mostly cached).
    const h = this.hint[p]!;
    if (h > 0 && this.frame[h] === f) return h;
    const n = this.lookup(p, f);
    this.hint[p] = n;
    return n;
  }

  private lookup(p: number, f: number): number {
    const mask = this.mask;
    const table = this.table;
    for (let slot = Trie.hash(p, f) & mask; ; slot = (slot + 1) & mask) {
      // A slot is (parent, frame, node + 1) side by side: one cache line per probe.
      const at = slot * 3;
      const n = table[at + 2]!;
      if (n === 0) {
        if (this.size >= this.cap) this.grow();
        const id = this.size++;
        this.frame[id] = f;
        this.parent[id] = p;
        table[at] = p;
        table[at + 1] = f;
        table[at + 2] = id + 1;
        if (this.size * 2 > this.slots) this.rehash();
        return id;
      }
      if (table[at] === p && table[at + 1] === f) return n - 1;
    }
  }

  private grow(): void {
    const cap = this.cap * 2;
    const g = <T extends Int32Array | Float64Array>(a: T, n = cap): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.frame = g(this.frame);
    this.parent = g(this.parent);
    this.hint = g(this.hint);
    this.total = g(this.total);
    this.self = g(this.self);
    this.count = g(this.count);
    this.kindTotal = g(this.kindTotal, cap * KIND_COUNT);
    if (this.alt) this.alt = g(this.alt);
    this.cap = cap;
  }

  /** Doubles the table and re-inserts every node. */
  private rehash(): void {
    const slots = this.slots * 2;
    const table = new Int32Array(slots * 3);
    const mask = slots - 1;
    for (let n = 1; n < this.size; n++) {
      let slot = Trie.hash(this.parent[n]!, this.frame[n]!) & mask;
      while (table[slot * 3 + 2] !== 0) slot = (slot + 1) & mask;
      table[slot * 3] = this.parent[n]!;
      table[slot * 3 + 1] = this.frame[n]!;
      table[slot * 3 + 2] = n + 1;
    }
    this.table = table;
    this.slots = slots;
    this.mask = mask;
  }
}

/** Builds the call tree of `d` (see the header for how, and FlameTree for the layout). */
export function buildTree(d: FlameData, options: BuildOptions = {}): FlameTree {
  const order = options.order ?? 'weight';
  const kindMask = options.kinds ?? (1 << KIND_COUNT) - 1;
  const nStacks = d.offsets.length - 1;
  const trie = new Trie(Math.min(d.stackFrames.length + 1, 1 << 16), d.alt !== undefined);
  const { offsets, stackFrames, weights, counts, kinds } = d;
  const alt = d.alt;
  // Only the leaf of each stack is touched while inserting (self, and its count, kind and alt
  // shares); inclusive sums are added up afterwards in one backward pass, since a child is
  // always numbered after its parent. A stack that starts like the previous one reuses its
  // nodes without hashing (profiles often list related stacks together).
  let prevStart = 0;
  let prevEnd = 0;
  let path = new Int32Array(64);
  for (let s = 0; s < nStacks; s++) {
    const k = kinds[s]!;
    if (((kindMask >> k) & 1) === 0) continue;
    const start = offsets[s]!;
    const e = offsets[s + 1]!;
    if (e - start > path.length) {
      const bigger = new Int32Array(Math.max(e - start, path.length * 2));
      bigger.set(path);
      path = bigger;
    }
    let j = start;
    let node = 0;
    // Shared prefix with the previous included stack.
    const same = Math.min(e - start, prevEnd - prevStart);
    let depth = 0;
    while (depth < same && stackFrames[j] === stackFrames[prevStart + depth]) {
      node = path[depth]!;
      depth++;
      j++;
    }
    for (; j < e; j++, depth++) {
      node = trie.child(node, stackFrames[j]!);
      path[depth] = node;
    }
    prevStart = start;
    prevEnd = e;
    const w = weights[s]!;
    trie.self[node] = trie.self[node]! + w;
    trie.count[node] = trie.count[node]! + counts[s]!;
    const kk = node * KIND_COUNT + k;
    trie.kindTotal[kk] = trie.kindTotal[kk]! + w;
    if (trie.alt && alt) trie.alt[node] = trie.alt[node]! + alt[s]!;
  }
  const { parent, self, count, kindTotal } = trie;
  const total = trie.total;
  const altSum = trie.alt;
  for (let i = trie.size - 1; i >= 0; i--) {
    total[i] = total[i]! + self[i]!;
    if (i === 0) break;
    const p = parent[i]!;
    total[p] = total[p]! + total[i]!;
    count[p] = count[p]! + count[i]!;
    for (let q = 0; q < KIND_COUNT; q++)
      kindTotal[p * KIND_COUNT + q] = kindTotal[p * KIND_COUNT + q]! + kindTotal[i * KIND_COUNT + q]!;
    if (altSum) altSum[p] = altSum[p]! + altSum[i]!;
  }
  return layOut(trie, d.frames, order);
}

/** Orders children and renumbers the trie's nodes in preorder (FlameTree). */
function layOut(trie: Trie, names: string[], order: ChildOrder): FlameTree {
  const n = trie.size;
  const { parent, total, frame } = trie;
  // Children in CSR form: kids[start[p] .. start[p + 1]).
  const start = new Int32Array(n + 1);
  for (let i = 1; i < n; i++) start[parent[i]! + 1] = start[parent[i]! + 1]! + 1;
  for (let i = 0; i < n; i++) start[i + 1] = start[i + 1]! + start[i]!;
  const fill = start.slice(0, n);
  const kids = new Int32Array(Math.max(0, n - 1));
  for (let i = 1; i < n; i++) {
    const p = parent[i]!;
    kids[fill[p]!] = i;
    fill[p] = fill[p]! + 1;
  }
  const byWeight = (a: number, b: number): number =>
    total[b]! - total[a]! || (names[frame[a]!]! < names[frame[b]!]! ? -1 : 1);
  const byName = (a: number, b: number): number => {
    const na = names[frame[a]!]!;
    const nb = names[frame[b]!]!;
    return na < nb ? -1 : na > nb ? 1 : total[b]! - total[a]!;
  };
  const cmp = order === 'weight' ? byWeight : byName;
  for (let p = 0; p < n; p++) {
    const s = start[p]!;
    const e = start[p + 1]!;
    if (e - s > 1) kids.subarray(s, e).sort(cmp);
  }
  // Subtree sizes: a child is always numbered after its parent.
  const sub = new Int32Array(n).fill(1);
  for (let i = n - 1; i > 0; i--) sub[parent[i]!] = sub[parent[i]!]! + sub[i]!;
  // Preorder numbering: the first child follows its parent, each next sibling follows the
  // previous sibling's subtree.
  const newId = new Int32Array(n);
  const xOld = new Float64Array(n);
  const depthOld = new Int32Array(n);
  newId[0] = 0;
  let maxDepth = 0;
  for (let p = 0; p < n; p++) {
    // Parents are numbered before their children in insertion order, so newId[p] is known.
    let next = newId[p]! + 1;
    let x = xOld[p]!;
    const d = depthOld[p]! + 1;
    for (let j = start[p]!, e = start[p + 1]!; j < e; j++) {
      const c = kids[j]!;
      newId[c] = next;
      next += sub[c]!;
      xOld[c] = x;
      x += total[c]!;
      depthOld[c] = d;
      if (d > maxDepth) maxDepth = d;
    }
  }
  const t: FlameTree = {
    names,
    size: n,
    frame: new Int32Array(n),
    depth: new Int32Array(n),
    parent: new Int32Array(n),
    end: new Int32Array(n),
    total: new Float64Array(n),
    self: new Float64Array(n),
    count: new Float64Array(n),
    kindTotal: new Float64Array(n * KIND_COUNT),
    alt: trie.alt ? new Float64Array(n) : null,
    x: new Float64Array(n),
    maxDepth,
    order,
  };
  for (let i = 0; i < n; i++) {
    const j = newId[i]!;
    t.frame[j] = frame[i]!;
    t.depth[j] = depthOld[i]!;
    t.parent[j] = i === 0 ? -1 : newId[parent[i]!]!;
    t.end[j] = j + sub[i]!;
    t.total[j] = total[i]!;
    t.self[j] = trie.self[i]!;
    t.count[j] = trie.count[i]!;
    for (let k = 0; k < KIND_COUNT; k++) t.kindTotal[j * KIND_COUNT + k] = trie.kindTotal[i * KIND_COUNT + k]!;
    if (t.alt && trie.alt) t.alt[j] = trie.alt[i]!;
    t.x[j] = xOld[i]!;
  }
  return t;
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
