/**
 * `dfs-ebpf bench maps`: how long a user waits for every entry of a 100,000-entry map,
 * decoded, through dfs-ebpf and through `bpftool map dump -j`, in the same rounds, the order
 * rotating each round (one warm-up round first, not counted). Prints figures; asserts nothing.
 *
 * The map is bpf/maps_bench.bpf.c (8-byte key, 16-byte struct value, BTF), which this module
 * loads with `bpftool prog loadall … pinmaps` on this machine, fills by running its fill
 * program once in the kernel (bpftool prog run), and always removes again (unpinning frees
 * the map: nothing else holds it). So it needs root and a local test node, whose agent runs
 * on this same kernel and sees the map by its id.
 *
 * What each side times:
 * - dfs-ebpf (ours_ms): dumpEntries over an open session, every page read through the agent
 *   and decoded through BTF into JSON objects, the count checked: what the map inspector waits
 *   for on each refresh. The session is opened before and not timed (the extension keeps one
 *   open), nor are resolveMap and openCodecs (maps/list, maps/btf, the BTF parse), which the
 *   inspector runs once per panel; they are timed on their own each round (lookup_ms), and
 *   ours_with_lookup_ms is the whole `maps dump` path of the CLI.
 * - bpftool: `bpftool map dump id N -j` into a buffer, then JSON.parse of its output, the
 *   count checked: a program needs the entries parsed to use them, as ours are. It opens the
 *   map and reads its BTF on every dump; that is part of its time.
 */

import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { ErrorCode, MAP_PAGE_MAX } from '@dfs/protocol';
import type { NodeSession } from '../agent/session';
import { DfsError } from '../errors';
import { dumpEntries, openCodecs, resolveMap } from '../inspect/onNode';
import type { Progress } from '../log';
import { median, round3, rotation, spread } from './stats';

export const BENCH_MAP_ENTRIES = 100_000;
/** The map's name in bpf/maps_bench.bpf.c, as `maps list` shows it. */
export const BENCH_MAP_NAME = 'maps_bench';
const FILL_PROGRAM = 'maps_bench_fill';

/**
 * Entries per agent request: the largest page, which is also dumpEntries' default (what `maps
 * dump` and the inspector use). Measured for this map (2 busy CPUs, kernel 6.18, medians of 5
 * interleaved rounds): 4096 1495 ms, 16384 621 ms, 32768 376 ms, 65536 381 ms. Each request costs
 * a round trip (about 45 ms while the client's socket waits on Nagle's algorithm), whatever
 * its size; the kernel's batch read costs the same per entry at any page size.
 */
export const BENCH_PAGE_SIZE = MAP_PAGE_MAX;

/** bpftool's JSON of 100,000 entries is about 26 MB; four times that leaves room for wider types. */
const BPFTOOL_MAX_BUFFER = 256 << 20;

const execFileP = promisify(execFile);

/** The pin directory of this process's bench map (a name that says whose it is). */
export function benchPinDir(pid: number = process.pid): string {
  return `/sys/fs/bpf/dfs-ebpf-bench-maps-${pid}`;
}

export interface BenchMap {
  id: number;
  dir: string;
  /** `bpftool prog loadall` (and finding the map's id), ms. */
  load_ms: number;
  /** Writing all its entries (one run of the fill program), ms. */
  fill_ms: number;
}

/**
 * Unpin the bench's programs and map (which frees them), synchronously so that a signal
 * handler can call it too. Idempotent.
 */
export function removeBenchMap(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The bench was stopped (Ctrl-C): the caller unpins and leaves. */
function checkStopped(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new DfsError(ErrorCode.Cancelled, 'bench maps was interrupted');
}

/**
 * bpftool's stdout. An abort kills it, and this settles only once it has exited, so a caller's
 * finally never unpins while a bpftool still runs (and could pin after it).
 */
async function bpftool(args: string[], signal?: AbortSignal): Promise<string> {
  checkStopped(signal);
  try {
    const opts = { encoding: 'utf8' as const, maxBuffer: BPFTOOL_MAX_BUFFER, ...(signal ? { signal } : {}) };
    return (await execFileP('bpftool', args, opts)).stdout;
  } catch (err) {
    checkStopped(signal);
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new DfsError(ErrorCode.ToolMissing, 'bench maps needs bpftool on this machine');
    const why = (e.stderr ?? '').trim().split('\n').pop() || e.message;
    throw new DfsError(ErrorCode.Internal, `bpftool ${args.join(' ')} failed: ${why}`, e.stderr);
  }
}

/**
 * Load `object` (bpf/maps_bench.bpf.o of the agent bundle) pinned under `dir` and fill all its
 * entries. The caller removes `dir` with removeBenchMap in a finally, also when this throws.
 */
export async function loadBenchMap(object: string, dir: string, signal?: AbortSignal): Promise<BenchMap> {
  if (!existsSync(object)) {
    throw new DfsError(ErrorCode.NotFound, `${object} is missing: the agent bundle has no bench map (npm run build)`);
  }
  const t0 = performance.now();
  await bpftool(['prog', 'loadall', object, dir, 'pinmaps', `${dir}/maps`], signal);
  const pinned = `${dir}/maps/${BENCH_MAP_NAME}`;
  const shown = JSON.parse(await bpftool(['-j', 'map', 'show', 'pinned', pinned], signal)) as {
    id?: unknown;
  };
  if (typeof shown.id !== 'number') throw new DfsError(ErrorCode.Internal, 'bpftool showed no id for the bench map');
  const t1 = performance.now();
  // BPF_PROG_TEST_RUN of a syscall program takes no repeat count (bpftool's default of 1 is EINVAL).
  const ran = await bpftool(['prog', 'run', 'pinned', `${dir}/${FILL_PROGRAM}`, 'repeat', '0'], signal);
  const fill_ms = performance.now() - t1;
  const written = /Return value: (\d+)/.exec(ran)?.[1];
  if (Number(written) !== BENCH_MAP_ENTRIES) {
    throw new DfsError(
      ErrorCode.Internal,
      `the bench map's fill wrote ${written ?? 'no'} entries, not ${BENCH_MAP_ENTRIES}: ${ran.trim()}`,
    );
  }
  return { id: shown.id, dir, load_ms: round3(t1 - t0), fill_ms: round3(fill_ms) };
}

type Side = 'ours' | 'bpftool';
const SIDES: readonly Side[] = ['ours', 'bpftool'];

export interface MapsBenchRound {
  round: number;
  order: Side[];
  ours_ms: number;
  /** resolveMap + openCodecs before the dump (maps/list, maps/btf, the BTF parse). */
  lookup_ms: number;
  bpftool_ms: number;
}

export interface MapsBenchReport {
  entries: number;
  /** Medians over the counted rounds, ms. */
  ours_ms: number;
  bpftool_ms: number;
  /** bpftool_ms / ours_ms: above 1, dfs-ebpf is faster. */
  ratio: number;
  runs: number;
  page_size: number;
  /** Median of resolveMap + openCodecs, and of the whole `maps dump` path (lookup + dump). */
  lookup_ms: number;
  ours_with_lookup_ms: number;
  /** bpftool_ms / ours_with_lookup_ms. */
  ratio_with_lookup: number;
  map_id: number;
  /** Where the map was pinned while the bench ran (removed at its end). */
  pin_dir: string;
  load_ms: number;
  fill_ms: number;
  /** bpftool's output, bytes. */
  bpftool_output_bytes: number;
  /** bpftool/ours within each round. */
  paired: { median: number; min: number; max: number };
  rounds: MapsBenchRound[];
}

export interface MapsBenchOptions {
  rounds: number;
  /** Entries per agent request (default BENCH_PAGE_SIZE). */
  pageSize?: number;
  progress: Progress;
  /** Stops the bench (Ctrl-C) between steps and kills a running bpftool. */
  signal?: AbortSignal;
}

function checkCount(side: string, got: number): void {
  if (got !== BENCH_MAP_ENTRIES) {
    throw new DfsError(ErrorCode.Internal, `${side} read ${got} entries of the bench map, not ${BENCH_MAP_ENTRIES}`);
  }
}

/** The map's codecs (untimed by ours_ms), then one full read through dfs-ebpf. */
async function oursOnce(session: NodeSession, id: number, pageSize: number): Promise<{ ms: number; lookup: number }> {
  const t0 = performance.now();
  const codecs = await openCodecs(session, (await resolveMap(session, String(id))).id);
  const t1 = performance.now();
  const entries = await dumpEntries(session, codecs, { pageSize });
  const ms = performance.now() - t1;
  checkCount('dfs-ebpf', entries.length);
  return { ms, lookup: t1 - t0 };
}

/** One full read through bpftool, parsed. */
async function bpftoolOnce(id: number, signal: AbortSignal | undefined): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const out = await bpftool(['map', 'dump', 'id', String(id), '-j'], signal);
  const parsed = JSON.parse(out) as unknown;
  const ms = performance.now() - t0;
  checkCount('bpftool', Array.isArray(parsed) ? parsed.length : 0);
  return { ms, bytes: Buffer.byteLength(out) };
}

/** The interleaved rounds over a loaded bench map (see loadBenchMap); round 0 is the warm-up. */
export async function runMapsBench(
  session: NodeSession,
  map: BenchMap,
  opts: MapsBenchOptions,
): Promise<MapsBenchReport> {
  const pageSize = opts.pageSize ?? BENCH_PAGE_SIZE;
  const rounds: MapsBenchRound[] = [];
  let bytes = 0;
  for (let r = 0; r <= opts.rounds; r++) {
    const order = rotation(SIDES, r + 1);
    const got = { ours: NaN, lookup: NaN, bpftool: NaN };
    for (const side of order) {
      checkStopped(opts.signal);
      if (side === 'ours') {
        const o = await oursOnce(session, map.id, pageSize);
        got.ours = o.ms;
        got.lookup = o.lookup;
      } else {
        const b = await bpftoolOnce(map.id, opts.signal);
        got.bpftool = b.ms;
        bytes = b.bytes;
      }
    }
    const label = r === 0 ? 'warm-up' : `round ${r}/${opts.rounds}`;
    opts.progress(
      `${label} (${order.join(' then ')}): dfs-ebpf ${got.ours.toFixed(1)} ms (+ ${got.lookup.toFixed(1)} ms lookup), bpftool ${got.bpftool.toFixed(1)} ms, ratio ${(got.bpftool / got.ours).toFixed(2)}`,
    );
    if (r === 0) continue;
    rounds.push({
      round: r,
      order,
      ours_ms: round3(got.ours),
      lookup_ms: round3(got.lookup),
      bpftool_ms: round3(got.bpftool),
    });
  }
  const ours = median(rounds.map((x) => x.ours_ms));
  const theirs = median(rounds.map((x) => x.bpftool_ms));
  const withLookup = median(rounds.map((x) => x.ours_ms + x.lookup_ms));
  return {
    entries: BENCH_MAP_ENTRIES,
    ours_ms: round3(ours),
    bpftool_ms: round3(theirs),
    ratio: round3(theirs / ours),
    runs: opts.rounds,
    page_size: pageSize,
    lookup_ms: round3(median(rounds.map((x) => x.lookup_ms))),
    ours_with_lookup_ms: round3(withLookup),
    ratio_with_lookup: round3(theirs / withLookup),
    map_id: map.id,
    pin_dir: map.dir,
    load_ms: map.load_ms,
    fill_ms: map.fill_ms,
    bpftool_output_bytes: bytes,
    paired: spread(rounds.map((x) => x.bpftool_ms / x.ours_ms)),
    rounds,
  };
}
