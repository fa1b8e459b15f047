/**
 * speedscope's file format (https://www.speedscope.app/file-format-schema.json): export of a
 * Profile's stacks, and a strict import of sampled and evented profiles. Pure: no Node, no DOM,
 * no vscode.
 *
 * Export writes one `sampled` profile per stack kind present (on-CPU, off-CPU, slow-request
 * stacks), each named "<node> <kind>", unit nanoseconds, one sample per stack weighted by its
 * total_ns. Why not one overall profile: the kinds measure different things (CPU time, blocked
 * time, the latency of slow requests), so one flame graph adding them up has widths that mean
 * nothing; speedscope's profile picker switches between them, and the profile names carry the
 * kind back on re-import. Frames are shared (`shared.frames`), with file and line when the
 * profile knows the function's source. The sum of all weights equals the sum of total_ns, so a
 * re-import gives the same totals.
 *
 * Import is for untrusted files: any fault is a SpeedscopeImportError saying where
 * ("profiles[2].samples[17][3]: frame index 9000 is out of range"); sizes are bounded; an
 * evented profile is replayed with its open/close events checked for nesting and order. A
 * profile's kind is read from its name's last word (oncpu, offcpu, slow), else 'oncpu'.
 */

import type { FrameSource, ProfileStack, StackKind } from '@dfs/protocol';

export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

export const SPEEDSCOPE_LIMITS = {
  frames: 1_000_000,
  profiles: 256,
  /** Samples or events over all profiles. */
  items: 10_000_000,
  depth: 2048,
  nameLength: 4096,
} as const;

export interface SpeedscopeFrame {
  name: string;
  file?: string;
  line?: number;
  col?: number;
}

export interface SpeedscopeSampled {
  type: 'sampled';
  name: string;
  unit: SpeedscopeUnit;
  startValue: number;
  endValue: number;
  samples: number[][];
  weights: number[];
}

export interface SpeedscopeEvent {
  type: 'O' | 'C';
  frame: number;
  at: number;
}

export interface SpeedscopeEvented {
  type: 'evented';
  name: string;
  unit: SpeedscopeUnit;
  startValue: number;
  endValue: number;
  events: SpeedscopeEvent[];
}

export type SpeedscopeUnit = 'none' | 'nanoseconds' | 'microseconds' | 'milliseconds' | 'seconds' | 'bytes';

export interface SpeedscopeFile {
  $schema: typeof SPEEDSCOPE_SCHEMA;
  shared: { frames: SpeedscopeFrame[] };
  profiles: (SpeedscopeSampled | SpeedscopeEvented)[];
  name?: string;
  activeProfileIndex?: number;
  exporter?: string;
}

const KINDS: readonly StackKind[] = ['oncpu', 'offcpu', 'slow'];

export interface SpeedscopeExportOptions {
  /** The file's name and each profile's name prefix (e.g. the node). */
  name: string;
  sources?: Record<string, FrameSource>;
  /** `exporter` field, e.g. "dfs-ebpf 0.1.0". */
  exporter?: string;
}

export function toSpeedscope(stacks: readonly ProfileStack[], options: SpeedscopeExportOptions): SpeedscopeFile {
  const frames: SpeedscopeFrame[] = [];
  const ids = new Map<string, number>();
  const id = (name: string): number => {
    let i = ids.get(name);
    if (i === undefined) {
      i = frames.length;
      ids.set(name, i);
      const f: SpeedscopeFrame = { name };
      const src = options.sources?.[name];
      if (src) {
        f.file = src.file;
        f.line = src.line;
      }
      frames.push(f);
    }
    return i;
  };
  const profiles: SpeedscopeSampled[] = [];
  for (const kind of KINDS) {
    const mine = stacks.filter((s) => s.kind === kind && s.frames.length > 0);
    if (mine.length === 0) continue;
    let total = 0;
    const samples: number[][] = [];
    const weights: number[] = [];
    for (const s of mine) {
      samples.push(s.frames.map(id));
      weights.push(s.total_ns);
      total += s.total_ns;
    }
    profiles.push({
      type: 'sampled',
      name: `${options.name} ${kind}`,
      unit: 'nanoseconds',
      startValue: 0,
      endValue: total,
      samples,
      weights,
    });
  }
  const file: SpeedscopeFile = {
    $schema: SPEEDSCOPE_SCHEMA,
    shared: { frames },
    profiles,
    name: options.name,
    activeProfileIndex: 0,
  };
  if (options.exporter) file.exporter = options.exporter;
  return file;
}

export class SpeedscopeImportError extends Error {
  constructor(
    /** Where in the document, as a JSON path ("profiles[0].weights[3]"). */
    readonly path: string,
    message: string,
  ) {
    super(path ? `${path}: ${message}` : message);
    this.name = 'SpeedscopeImportError';
  }
}

const NS_PER: Partial<Record<SpeedscopeUnit, number>> = {
  nanoseconds: 1,
  microseconds: 1e3,
  milliseconds: 1e6,
  seconds: 1e9,
};

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface SpeedscopeImport {
  name: string;
  stacks: ProfileStack[];
  sources: Record<string, FrameSource>;
}

/** Reads a speedscope document (already JSON-parsed, or the text). */
export function fromSpeedscope(input: unknown): SpeedscopeImport {
  let doc = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input) as unknown;
    } catch (err) {
      throw new SpeedscopeImportError('', `not JSON (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  if (!isObj(doc)) throw new SpeedscopeImportError('', 'not a speedscope file (expected a JSON object)');
  if (doc.$schema !== SPEEDSCOPE_SCHEMA) {
    throw new SpeedscopeImportError('$schema', `expected "${SPEEDSCOPE_SCHEMA}"`);
  }
  const L = SPEEDSCOPE_LIMITS;
  if (!isObj(doc.shared) || !Array.isArray(doc.shared.frames)) {
    throw new SpeedscopeImportError('shared.frames', 'expected an array of frames');
  }
  const rawFrames = doc.shared.frames as unknown[];
  if (rawFrames.length > L.frames) throw new SpeedscopeImportError('shared.frames', `more than ${L.frames} frames`);
  const names: string[] = [];
  // No prototype: a frame named "__proto__" is a key like any other.
  const sources = Object.create(null) as Record<string, FrameSource>;
  rawFrames.forEach((f, i) => {
    const at = `shared.frames[${i}]`;
    if (!isObj(f) || typeof f.name !== 'string') throw new SpeedscopeImportError(at, 'expected {"name": string}');
    if (f.name.length === 0 || f.name.length > L.nameLength) {
      throw new SpeedscopeImportError(`${at}.name`, `length must be 1..${L.nameLength}`);
    }
    names.push(f.name);
    if (typeof f.file === 'string' && typeof f.line === 'number' && Number.isInteger(f.line) && f.line >= 1) {
      sources[f.name] = { file: f.file, line: f.line };
    }
  });
  if (!Array.isArray(doc.profiles)) throw new SpeedscopeImportError('profiles', 'expected an array');
  if (doc.profiles.length > L.profiles) throw new SpeedscopeImportError('profiles', `more than ${L.profiles} profiles`);
  const budget = { items: L.items };
  const byKey = new Map<string, ProfileStack>();
  const add = (frames: number[], ns: number, count: number, kind: StackKind): void => {
    if (frames.length === 0 || (ns === 0 && count === 0)) return;
    const key = `${kind}:${frames.join(',')}`;
    const prev = byKey.get(key);
    if (prev) {
      prev.total_ns += ns;
      prev.count += count;
    } else {
      byKey.set(key, { frames: frames.map((f) => names[f]!), total_ns: ns, count, kind });
    }
  };
  (doc.profiles as unknown[]).forEach((p, pi) => {
    const at = `profiles[${pi}]`;
    if (!isObj(p)) throw new SpeedscopeImportError(at, 'expected an object');
    const unit = p.unit as SpeedscopeUnit;
    const scale = NS_PER[unit];
    if (scale === undefined) {
      throw new SpeedscopeImportError(
        `${at}.unit`,
        `${JSON.stringify(p.unit)} is not a unit of time (nanoseconds, microseconds, milliseconds, seconds): this viewer weighs stacks by time`,
      );
    }
    const name = typeof p.name === 'string' ? p.name : '';
    const last = name.trim().split(/\s+/).pop() ?? '';
    const kind: StackKind = (KINDS as readonly string[]).includes(last) ? (last as StackKind) : 'oncpu';
    if (p.type === 'sampled') readSampled(p, at, scale, names.length, kind, budget, add);
    else if (p.type === 'evented') readEvented(p, at, scale, names.length, kind, budget, add);
    else throw new SpeedscopeImportError(`${at}.type`, 'expected "sampled" or "evented"');
  });
  return { name: typeof doc.name === 'string' ? doc.name : '', stacks: [...byKey.values()], sources };
}

type Add = (frames: number[], ns: number, count: number, kind: StackKind) => void;

function checkNumber(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SpeedscopeImportError(at, 'expected a finite number');
  return v;
}

function frameIndex(v: unknown, at: string, frameCount: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= frameCount) {
    throw new SpeedscopeImportError(at, `frame index ${JSON.stringify(v)} is out of range (0..${frameCount - 1})`);
  }
  return v;
}

function readSampled(
  p: Record<string, unknown>,
  at: string,
  scale: number,
  frameCount: number,
  kind: StackKind,
  budget: { items: number },
  add: Add,
): void {
  if (!Array.isArray(p.samples)) throw new SpeedscopeImportError(`${at}.samples`, 'expected an array');
  if (!Array.isArray(p.weights)) throw new SpeedscopeImportError(`${at}.weights`, 'expected an array');
  const samples = p.samples as unknown[];
  const weights = p.weights as unknown[];
  if (samples.length !== weights.length) {
    throw new SpeedscopeImportError(at, `${samples.length} samples but ${weights.length} weights`);
  }
  budget.items -= samples.length;
  if (budget.items < 0) throw new SpeedscopeImportError(at, `more than ${SPEEDSCOPE_LIMITS.items} samples in all`);
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    if (!Array.isArray(s)) throw new SpeedscopeImportError(`${at}.samples[${i}]`, 'expected an array of frame indices');
    if (s.length > SPEEDSCOPE_LIMITS.depth) {
      throw new SpeedscopeImportError(`${at}.samples[${i}]`, `deeper than ${SPEEDSCOPE_LIMITS.depth} frames`);
    }
    const frames = (s as unknown[]).map((f, j) => frameIndex(f, `${at}.samples[${i}][${j}]`, frameCount));
    const w = checkNumber(weights[i], `${at}.weights[${i}]`);
    if (w < 0) throw new SpeedscopeImportError(`${at}.weights[${i}]`, 'a weight cannot be negative');
    add(frames, w * scale, 1, kind);
  }
}

function readEvented(
  p: Record<string, unknown>,
  at: string,
  scale: number,
  frameCount: number,
  kind: StackKind,
  budget: { items: number },
  add: Add,
): void {
  const startValue = checkNumber(p.startValue, `${at}.startValue`);
  const endValue = checkNumber(p.endValue, `${at}.endValue`);
  if (endValue < startValue) throw new SpeedscopeImportError(`${at}.endValue`, 'is before startValue');
  if (!Array.isArray(p.events)) throw new SpeedscopeImportError(`${at}.events`, 'expected an array');
  const events = p.events as unknown[];
  budget.items -= events.length;
  if (budget.items < 0) throw new SpeedscopeImportError(at, `more than ${SPEEDSCOPE_LIMITS.items} events in all`);
  const open: number[] = [];
  let last = startValue;
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const where = `${at}.events[${i}]`;
    if (!isObj(e)) throw new SpeedscopeImportError(where, 'expected {"type","frame","at"}');
    const t = checkNumber(e.at, `${where}.at`);
    if (t < last) throw new SpeedscopeImportError(`${where}.at`, `goes back in time (${t} < ${last})`);
    const f = frameIndex(e.frame, `${where}.frame`, frameCount);
    // Time since the previous event belongs to the stack that was open during it.
    if (open.length > 0 && t > last) add([...open], (t - last) * scale, 0, kind);
    last = t;
    if (e.type === 'O') {
      if (open.length >= SPEEDSCOPE_LIMITS.depth) {
        throw new SpeedscopeImportError(where, `stack deeper than ${SPEEDSCOPE_LIMITS.depth} frames`);
      }
      open.push(f);
      add([...open], 0, 1, kind);
    } else if (e.type === 'C') {
      const top = open[open.length - 1];
      if (top !== f) {
        throw new SpeedscopeImportError(where, `closes frame ${f} but the innermost open frame is ${top ?? 'none'}`);
      }
      open.pop();
    } else {
      throw new SpeedscopeImportError(`${where}.type`, 'expected "O" or "C"');
    }
  }
  if (open.length > 0) throw new SpeedscopeImportError(`${at}.events`, `${open.length} frames are never closed`);
}
