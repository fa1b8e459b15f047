/**
 * Checks an untrusted JSON Profile (the inputs of `profile --compare`, imported files) field by
 * field and returns a clean Profile, or a ProfileValidationError listing the faults by path
 * ("stacks[3].total_ns: expected a finite number ≥ 0, got -1"). Pure: no Node, no DOM, no vscode.
 *
 * Required: `version` 1 (or absent), `duration_s`, `histograms`, `stacks` (the DESIGN.md §7
 * keys); every other field of protocol/src/profile.ts is optional and defaults to empty. A
 * stack without `kind` is 'oncpu'. Unknown fields are dropped and reported in `warnings` (a
 * later version may add fields; their meaning is not guessed). Sizes are bounded, and at most
 * MAX_FAULTS faults are listed, so a hostile document costs one bounded pass.
 */

import {
  SLOW_REQUESTS_KEPT,
  type FrameSource,
  type HistogramBucket,
  type LatencyHistogram,
  type Profile,
  type ProfileLayer,
  type ProfilePhase,
  type ProfileStack,
  type ProgramCost,
  type SlowRequest,
  type StackKind,
} from '@dfs/protocol';

export const PROFILE_LIMITS_IN = {
  stacks: 2_000_000,
  frames: 2048,
  nameLength: 4096,
  histograms: 100_000,
  buckets: 128,
  sources: 2_000_000,
  cost: 10_000,
} as const;

const MAX_FAULTS = 20;

export class ProfileValidationError extends Error {
  constructor(readonly faults: string[]) {
    super(
      `not a valid profile: ${faults.slice(0, 5).join('; ')}${faults.length > 5 ? ` (+${faults.length - 5} more)` : ''}`,
    );
    this.name = 'ProfileValidationError';
  }
}

const LAYERS: readonly ProfileLayer[] = ['fuse', 'syscall', 'meta', 'object', 'block'];
const PHASES: readonly ProfilePhase[] = ['total', 'queue', 'daemon'];
const KINDS: readonly StackKind[] = ['oncpu', 'offcpu', 'slow'];

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

class Checker {
  faults: string[] = [];
  warnings: string[] = [];
  fault(path: string, msg: string): void {
    if (this.faults.length < MAX_FAULTS) this.faults.push(`${path}: ${msg}`);
    else if (this.faults.length === MAX_FAULTS) this.faults.push('… (more faults not listed)');
  }
  full(): boolean {
    return this.faults.length > MAX_FAULTS;
  }
  unknown(o: Record<string, unknown>, known: readonly string[], path: string): void {
    for (const k of Object.keys(o)) {
      if (!known.includes(k) && this.warnings.length < MAX_FAULTS) {
        this.warnings.push(`${path ? path + '.' : ''}${JSON.stringify(k).slice(1, -1)}: unknown field, ignored`);
      }
    }
  }
  num(v: unknown, path: string, min = 0): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
      this.fault(path, `expected a finite number ≥ ${min}, got ${describe(v)}`);
      return 0;
    }
    return v;
  }
  str(v: unknown, path: string, fallback?: string): string {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || v.length > PROFILE_LIMITS_IN.nameLength) {
      this.fault(path, `expected a string of at most ${PROFILE_LIMITS_IN.nameLength} characters, got ${describe(v)}`);
      return '';
    }
    return v;
  }
  arr(v: unknown, path: string, max: number): unknown[] {
    if (!Array.isArray(v)) {
      this.fault(path, `expected an array, got ${describe(v)}`);
      return [];
    }
    if (v.length > max) {
      this.fault(path, `more than ${max} entries`);
      return [];
    }
    return v;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.slice(0, 30)}${v.length > 30 ? '…' : ''}"`;
  if (typeof v === 'number') return String(v);
  return typeof v;
}

export interface ValidatedProfile {
  profile: Profile;
  warnings: string[];
}

export function validateProfile(input: unknown): ValidatedProfile {
  const c = new Checker();
  if (!isObj(input)) throw new ProfileValidationError([`(document): expected a JSON object, got ${describe(input)}`]);
  c.unknown(
    input,
    [
      'version',
      'node',
      'mountpoint',
      'juicefs',
      'started_at',
      'duration_s',
      'histograms',
      'stacks',
      'sources',
      'drops',
      'cost',
      'cost_sampled_s',
      'config',
      'slow_requests',
    ],
    '',
  );
  if (input.version !== undefined && input.version !== 1)
    c.fault('version', `expected 1, got ${describe(input.version)}`);
  const profile: Profile = {
    version: 1,
    node: c.str(input.node, 'node', ''),
    mountpoint: c.str(input.mountpoint, 'mountpoint', ''),
    juicefs: c.str(input.juicefs, 'juicefs', ''),
    started_at: c.str(input.started_at, 'started_at', ''),
    duration_s: c.num(input.duration_s, 'duration_s'),
    histograms: [],
    stacks: [],
    // No prototype: a frame named "__proto__" is a key like any other.
    sources: Object.create(null) as Record<string, FrameSource>,
    drops: { events: 0, stacks: 0, inflight: 0 },
    cost: [],
    config: { stacks: true, slow_request_us: 0 },
  };
  c.arr(input.histograms, 'histograms', PROFILE_LIMITS_IN.histograms).forEach((h, i) => {
    if (c.full()) return;
    const hist = histogram(c, h, `histograms[${i}]`);
    if (hist) profile.histograms.push(hist);
  });
  c.arr(input.stacks, 'stacks', PROFILE_LIMITS_IN.stacks).forEach((s, i) => {
    if (c.full()) return;
    const st = stack(c, s, `stacks[${i}]`);
    if (st) profile.stacks.push(st);
  });
  if (input.sources !== undefined) {
    if (!isObj(input.sources)) c.fault('sources', `expected an object, got ${describe(input.sources)}`);
    else {
      const entries = Object.entries(input.sources);
      if (entries.length > PROFILE_LIMITS_IN.sources)
        c.fault('sources', `more than ${PROFILE_LIMITS_IN.sources} entries`);
      else
        for (const [name, src] of entries) {
          const path = `sources[${JSON.stringify(name.slice(0, 60))}]`;
          if (!isObj(src)) {
            c.fault(path, 'expected {"file", "line"}');
            continue;
          }
          const s: FrameSource = { file: c.str(src.file, `${path}.file`), line: c.num(src.line, `${path}.line`, 1) };
          profile.sources[name] = s;
        }
    }
  }
  if (input.drops !== undefined) {
    if (!isObj(input.drops)) c.fault('drops', `expected an object, got ${describe(input.drops)}`);
    else {
      c.unknown(input.drops, ['events', 'stacks', 'inflight'], 'drops');
      profile.drops = {
        events: c.num(input.drops.events ?? 0, 'drops.events'),
        stacks: c.num(input.drops.stacks ?? 0, 'drops.stacks'),
        inflight: c.num(input.drops.inflight ?? 0, 'drops.inflight'),
      };
    }
  }
  if (input.cost !== undefined) {
    c.arr(input.cost, 'cost', PROFILE_LIMITS_IN.cost).forEach((p, i) => {
      const path = `cost[${i}]`;
      if (!isObj(p)) return c.fault(path, 'expected {"name","run_cnt","run_time_ns"}');
      const cost: ProgramCost = {
        name: c.str(p.name, `${path}.name`),
        run_cnt: c.num(p.run_cnt, `${path}.run_cnt`),
        run_time_ns: c.num(p.run_time_ns, `${path}.run_time_ns`),
      };
      profile.cost.push(cost);
    });
  }
  if (input.cost_sampled_s !== undefined) profile.cost_sampled_s = c.num(input.cost_sampled_s, 'cost_sampled_s');
  if (input.slow_requests !== undefined) {
    const slow: SlowRequest[] = [];
    c.arr(input.slow_requests, 'slow_requests', SLOW_REQUESTS_KEPT).forEach((r, i) => {
      const path = `slow_requests[${i}]`;
      if (!isObj(r)) return c.fault(path, 'expected {"op","unique","total_ns",…}');
      c.unknown(r, ['op', 'unique', 'total_ns', 'queue_ns', 'daemon_ns', 'requester_pid', 'reply_tid'], path);
      const req: SlowRequest = {
        op: c.str(r.op, `${path}.op`),
        unique: c.num(r.unique, `${path}.unique`),
        total_ns: c.num(r.total_ns, `${path}.total_ns`),
        requester_pid: c.num(r.requester_pid ?? 0, `${path}.requester_pid`),
        reply_tid: c.num(r.reply_tid ?? 0, `${path}.reply_tid`),
      };
      if (r.queue_ns !== undefined) req.queue_ns = c.num(r.queue_ns, `${path}.queue_ns`);
      if (r.daemon_ns !== undefined) req.daemon_ns = c.num(r.daemon_ns, `${path}.daemon_ns`);
      slow.push(req);
    });
    profile.slow_requests = slow;
  }
  if (input.config !== undefined) {
    if (!isObj(input.config)) c.fault('config', `expected an object, got ${describe(input.config)}`);
    else {
      if (input.config.stacks !== undefined && typeof input.config.stacks !== 'boolean') {
        c.fault('config.stacks', `expected a boolean, got ${describe(input.config.stacks)}`);
      }
      profile.config = {
        stacks: input.config.stacks !== false,
        slow_request_us: c.num(input.config.slow_request_us ?? 0, 'config.slow_request_us'),
      };
      if (input.config.stack_sample_every !== undefined)
        profile.config.stack_sample_every = c.num(input.config.stack_sample_every, 'config.stack_sample_every', 1);
    }
  }
  if (c.faults.length > 0) throw new ProfileValidationError(c.faults);
  return { profile, warnings: c.warnings };
}

function histogram(c: Checker, h: unknown, path: string): LatencyHistogram | null {
  if (!isObj(h)) {
    c.fault(path, `expected an object, got ${describe(h)}`);
    return null;
  }
  c.unknown(h, ['layer', 'op', 'phase', 'count', 'sum_ns', 'buckets'], path);
  if (!LAYERS.includes(h.layer as ProfileLayer)) c.fault(`${path}.layer`, `expected one of ${LAYERS.join(', ')}`);
  if (h.phase !== undefined && !PHASES.includes(h.phase as ProfilePhase)) {
    c.fault(`${path}.phase`, `expected one of ${PHASES.join(', ')}`);
  }
  const buckets: HistogramBucket[] = [];
  let prev = 0;
  c.arr(h.buckets, `${path}.buckets`, PROFILE_LIMITS_IN.buckets).forEach((b, j) => {
    const bp = `${path}.buckets[${j}]`;
    if (!isObj(b)) return c.fault(bp, 'expected {"le_us", "count"}');
    const le = c.num(b.le_us, `${bp}.le_us`);
    if (le <= prev && j > 0) c.fault(`${bp}.le_us`, 'buckets must be in ascending le_us order');
    prev = le;
    buckets.push({ le_us: le, count: c.num(b.count, `${bp}.count`) });
  });
  const out: LatencyHistogram = {
    layer: h.layer as ProfileLayer,
    op: c.str(h.op, `${path}.op`),
    count: c.num(h.count, `${path}.count`),
    sum_ns: c.num(h.sum_ns ?? 0, `${path}.sum_ns`),
    buckets,
  };
  if (h.phase !== undefined && h.phase !== 'total') out.phase = h.phase as ProfilePhase;
  return out;
}

function stack(c: Checker, s: unknown, path: string): ProfileStack | null {
  if (!isObj(s)) {
    c.fault(path, `expected an object, got ${describe(s)}`);
    return null;
  }
  c.unknown(s, ['frames', 'total_ns', 'count', 'kind'], path);
  const frames = c.arr(s.frames, `${path}.frames`, PROFILE_LIMITS_IN.frames);
  if (Array.isArray(s.frames) && s.frames.length === 0) c.fault(`${path}.frames`, 'a stack has at least one frame');
  const names: string[] = [];
  for (let j = 0; j < frames.length; j++) {
    const f = frames[j];
    if (typeof f !== 'string' || f.length === 0 || f.length > PROFILE_LIMITS_IN.nameLength) {
      c.fault(`${path}.frames[${j}]`, `expected a non-empty frame name, got ${describe(f)}`);
      break;
    }
    names.push(f);
  }
  if (s.kind !== undefined && !KINDS.includes(s.kind as StackKind)) {
    c.fault(`${path}.kind`, `expected one of ${KINDS.join(', ')}, got ${describe(s.kind)}`);
  }
  return {
    frames: names,
    total_ns: c.num(s.total_ns, `${path}.total_ns`),
    count: c.num(s.count, `${path}.count`),
    kind: (s.kind as StackKind | undefined) ?? 'oncpu',
  };
}

/** JSON text → a validated Profile (JSON syntax errors become a ProfileValidationError too). */
export function parseProfile(text: string): ValidatedProfile {
  let doc: unknown;
  try {
    doc = JSON.parse(text) as unknown;
  } catch (err) {
    throw new ProfileValidationError([`(document): not JSON (${err instanceof Error ? err.message : String(err)})`]);
  }
  return validateProfile(doc);
}
