/**
 * Reads a running or stopped profile's maps into the Profile document's shapes: histograms
 * (per-CPU sums, named by layer: FUSE opcode, syscall, endpoint), stacks (ids → addresses →
 * frames through the Symbolizer, root first), drops and per-program cost. Pure reads: nothing
 * here changes a map, so a live profile/update and the final profile/stop share it.
 */

import type { HistogramBucket, LatencyHistogram, ProfileDrops, ProfileStack, ProgramCost } from '@dfs/protocol';
import { KERNEL_FRAME_SUFFIX, type FrameSource } from '@dfs/protocol';
import type { Addon, BpfObject } from '../native';
import type { Symbolizer } from '../symbols';
import {
  decodeHistKey,
  decodeStackKey,
  decodeStackTrace,
  decodeStackVal,
  ip4OfOp,
  PROF_AF_UNIX,
  PROF_DROPS_SIZE,
  PROF_KIND,
  PROF_LAYER,
  PROF_MAX_STACK_DEPTH,
  PROF_PHASE,
  PROF_SYSCALLS,
  slotLeUs,
  sumDrops,
  sumPerCpuHist,
} from './abi';
import { fuseOpName } from './opcodes';

/** A metadata or object-store endpoint the profile classifies (prof_endpoints). */
export interface ProfileEndpoint {
  /** null: a Unix socket. */
  ip4: string | null;
  port: number;
  layer: 'meta' | 'object';
  /** "redis 127.0.0.1:6379", "unix /run/redis.sock" */
  label: string;
}

const MAX_HISTS = 1024;
const MAX_STACKS = 16384;

function layerName(layer: number): LatencyHistogram['layer'] | null {
  switch (layer) {
    case PROF_LAYER.fuse:
      return 'fuse';
    case PROF_LAYER.syscall:
      return 'syscall';
    case PROF_LAYER.meta:
      return 'meta';
    case PROF_LAYER.object:
      return 'object';
    default:
      return null;
  }
}

function endpointLabel(endpoints: readonly ProfileEndpoint[], family: number, ip4: string, port: number): string {
  const unix = family === PROF_AF_UNIX;
  const found = endpoints.find((e) => (unix ? e.ip4 === null : e.ip4 === ip4 && e.port === port));
  return found?.label ?? (unix ? 'unix' : `${ip4}:${port}`);
}

/** Every histogram of the profile, cumulative since its start, sorted by layer, op, phase. */
export function readHistograms(
  addon: Addon,
  object: BpfObject,
  endpoints: readonly ProfileEndpoint[],
): LatencyHistogram[] {
  const out: LatencyHistogram[] = [];
  for (const { key, value } of addon.mapDump(object.mapFd('prof_hists'), MAX_HISTS)) {
    const k = decodeHistKey(key);
    const layer = layerName(k.layer);
    if (!layer) continue;
    const v = sumPerCpuHist(value);
    if (v.count === 0) continue;
    let op: string;
    if (layer === 'fuse') op = fuseOpName(k.op);
    else if (layer === 'syscall') op = PROF_SYSCALLS[k.op] ?? `sys_${k.op}`;
    else op = endpointLabel(endpoints, k.family, ip4OfOp(k.op), k.port);
    const buckets: HistogramBucket[] = [];
    v.slots.forEach((count, slot) => {
      if (count > 0) buckets.push({ le_us: slotLeUs(slot), count });
    });
    const h: LatencyHistogram = { layer, op, count: v.count, sum_ns: v.sumNs, buckets };
    if (layer === 'fuse' && k.phase === PROF_PHASE.queue) h.phase = 'queue';
    if (layer === 'fuse' && k.phase === PROF_PHASE.daemon) h.phase = 'daemon';
    out.push(h);
  }
  const order = ['fuse', 'syscall', 'meta', 'object', 'block'];
  return out.sort(
    (a, b) =>
      order.indexOf(a.layer) - order.indexOf(b.layer) ||
      a.op.localeCompare(b.op) ||
      (a.phase ?? '').localeCompare(b.phase ?? ''),
  );
}

/** What prof_drops counted, folded into the protocol's three kinds. */
export function readDrops(addon: Addon, object: BpfObject): ProfileDrops {
  const raw = addon.mapLookup(object.mapFd('prof_drops'), Buffer.alloc(4), PROF_DROPS_SIZE * addon.numPossibleCpus());
  const d = raw ? sumDrops(raw) : { events: 0, stacks: 0, aggs: 0, inflight: 0, calls: 0, hists: 0 };
  // stacks: ids that failed plus aggregates that did not fit; inflight: any start (request,
  // syscall, round trip, thread) or histogram that did not fit its map.
  return { events: d.events, stacks: d.stacks + d.aggs, inflight: d.inflight + d.calls + d.hists };
}

/** run_cnt / run_time_ns of each attached program (kernel run-time stats, on while profiling). */
export function readCost(addon: Addon, object: BpfObject, programs: readonly string[]): ProgramCost[] {
  return programs.map((name) => {
    const s = addon.programStats(object.programFd(name));
    return { name, run_cnt: s.runCnt, run_time_ns: s.runTimeNs };
  });
}

/** Distinct stacks aggregated so far. */
export function countStacks(addon: Addon, object: BpfObject): number {
  return addon.mapDump(object.mapFd('prof_stacks'), MAX_STACKS).length;
}

export interface StackContext {
  symbolizer: Symbolizer;
  daemonPid: number;
  /** Root frame: the daemon's thread name (its comm; Go threads keep the process's). */
  root: string;
}

/**
 * The stacks as the Profile holds them: root first (comm, then user frames outermost first,
 * then kernel frames down to the innermost), so that a flame graph reads "which Go code was
 * waiting in which kernel path". Frames are named once per address; sources gathers click-to-
 * source locations.
 */
export function readStacks(
  addon: Addon,
  object: BpfObject,
  ctx: StackContext,
  sources: Record<string, FrameSource>,
): ProfileStack[] {
  const stackFd = object.mapFd('prof_stackmap');
  const traces = new Map<number, bigint[]>();
  const trace = (id: number): bigint[] => {
    if (id < 0) return [];
    let t = traces.get(id);
    if (!t) {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(id, 0);
      const v = addon.mapLookup(stackFd, key, PROF_MAX_STACK_DEPTH * 8);
      t = v ? decodeStackTrace(v) : [];
      traces.set(id, t);
    }
    return t;
  };
  const kindName = (kind: number): ProfileStack['kind'] =>
    kind === PROF_KIND.oncpu ? 'oncpu' : kind === PROF_KIND.offcpu ? 'offcpu' : 'slow';
  // The innermost kernel frames of a stack taken inside a tracepoint are the tracing machinery
  // itself (bpf_prog_<tag>_<name>, bpf_trace_run<N>, __traceiter_<event>, __bpf_trace_<event>),
  // not the thread's path: dropped so that a stack ends where the thread was (schedule, ...).
  const machinery = /^(bpf_prog_[0-9a-f]+_\w+|bpf_trace_run\d+|__traceiter_\w+|__bpf_trace_\w+)_\[k\]$/;
  // A return address names its call site when one is subtracted (the Symbolizer's contract);
  // the innermost frame is an exact instruction pointer.
  const callSites = (ips: bigint[]): bigint[] => ips.map((ip, i) => (i === 0 ? ip : ip - 1n));

  const entries = addon.mapDump(object.mapFd('prof_stacks'), MAX_STACKS).map(({ key, value }) => ({
    k: decodeStackKey(key),
    v: decodeStackVal(value),
  }));
  // Different stack ids can name the same frames (two return addresses in one function): merged.
  const merged = new Map<string, ProfileStack>();
  for (const { k, v } of entries) {
    if (v.count === 0) continue;
    const kips = trace(k.kstack);
    const uips = trace(k.ustack);
    // Go inlines: a PC in an inlined body names the inlined function; the functions it was
    // inlined into follow it (leaf first), so that no logical frame is missing from the stack.
    const user = ctx.symbolizer.user(ctx.daemonPid, callSites(uips)).flatMap((f) => [f, ...(f.inlinedInto ?? [])]);
    const named = ctx.symbolizer.kernel(callSites(kips));
    let skip = 0;
    while (skip < named.length && machinery.test(named[skip]?.name ?? '')) skip++;
    const kernel = named.slice(skip);
    for (const f of [...user, ...kernel]) if (f.source) sources[f.name] = f.source;
    const frames = [ctx.root, ...user.map((f) => f.name).reverse(), ...kernel.map((f) => f.name).reverse()];
    if (k.ustack < 0) frames.splice(1, 0, '[user stack lost]');
    if (k.kstack < 0) frames.push(`[kernel stack lost]${KERNEL_FRAME_SUFFIX}`);
    const kind = kindName(k.kind);
    const id = `${kind}\n${frames.join('\n')}`;
    const same = merged.get(id);
    if (same) {
      same.total_ns += v.totalNs;
      same.count += v.count;
    } else {
      merged.set(id, { frames, total_ns: v.totalNs, count: v.count, kind });
    }
  }
  return [...merged.values()].sort((a, b) => b.total_ns - a.total_ns);
}
