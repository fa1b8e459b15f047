/**
 * `dfs-ebpf bench [--node NAME] [--rounds N] [--quick] [--json]`: the interleaved benchmark of
 * the bypass (core/src/bench): bypass off, on, and the local-IPC limit (Unix socket), rounds
 * rotating their order. Prints figures and ratios; asserts nothing. What the bench adds to
 * the node (a Redis user for redis-benchmark, a second mount over the Unix socket) is removed
 * when it ends, also on failure, Ctrl-C or SIGTERM. `bench verify`, `bench profile` and
 * `bench maps` measure the editor's loop, the profiler's cost and the map inspector's reads.
 */

import { execFile } from 'node:child_process';
import { ErrorCode } from '@dfs/protocol';
import { join, resolve } from 'node:path';
import { type BenchReport, machine, runAbBench, sessionSwitch, type WorkloadResult } from '@dfs/core/bench/ab';
import { runProfileOverhead, type OverheadReport } from '@dfs/core/bench/profileOverhead';
import { benchPinDir, loadBenchMap, removeBenchMap, runMapsBench } from '@dfs/core/bench/maps';
import { runFleetBench, type FleetBenchReport } from '@dfs/core/bench/fleet';
import { runVerifyBench } from '@dfs/core/bench/verifyLoop';
import { standardWorkloads } from '@dfs/core/bench/workloads';
import { DfsError } from '@dfs/core/errors';
import { readLocalNode } from '@dfs/core/testnode';
import { mountUnixMeta, openBenchRedisAccess } from '@dfs/core/testnode/benchAccess';
import { kernelIsLocal, nodeSpecList } from '@dfs/core/ssh/target';
import { numberValue, value, type Parsed } from '../args';
import { printJson, printLines, stderrLogger, stderrProgress, type Io } from '../output';
import { openSession } from '../session';
import { agentBundleDir, repoRootOfCli } from '../paths';

/** `dfs-ebpf bench verify [FILE.bpf.c] [--rounds N]`: the save-to-diagnostic loop, A/B. */
async function benchVerify(p: Parsed, io: Io): Promise<number> {
  const rounds = numberValue(p, 'rounds', 1, 200) ?? 20;
  const source = resolve(p.positionals[2] ?? join(repoRootOfCli(), 'bpf', 'bypass.bpf.c'));
  const session = await openSession(p, io);
  try {
    const r = await runVerifyBench(session, source, rounds, stderrProgress(io));
    if (io.json) printJson({ machine: machine(), ...r });
    else
      printLines([
        `save-to-diagnostic for ${r.source} on ${session.target.label}: ${r.runs} interleaved rounds`,
        `  dfs-ebpf (build + remote verify + parse)  median ${r.dfs_ebpf.median_ms.toFixed(0)} ms, p90 ${r.dfs_ebpf.p90_ms.toFixed(0)} ms`,
        `  clang + bpftool prog loadall             median ${r.clang_bpftool.median_ms.toFixed(0)} ms, p90 ${r.clang_bpftool.p90_ms.toFixed(0)} ms`,
        `  ratio (plain / dfs-ebpf) ${r.ratio.toFixed(2)}`,
      ]);
    return 0;
  } finally {
    session.close();
  }
}

const pct = (x: number): string => `${(x * 100).toFixed(0)}%`;

function workloadLines(w: WorkloadResult): string[] {
  const fig = (v: number): string => v.toFixed(0).padStart(8);
  return [
    `  ${w.name}`,
    `    off   ${fig(w.off.value)} ${w.unit}  p50 ${w.off.p50_ms} ms  p99 ${w.off.p99_ms} ms`,
    `    on    ${fig(w.on.value)} ${w.unit}  p50 ${w.on.p50_ms} ms  p99 ${w.on.p99_ms} ms`,
    `    limit ${fig(w.limit_value)} ${w.unit}  p50 ${w.limit.p50_ms} ms  p99 ${w.limit.p99_ms} ms  (${w.limit_kind})`,
    `    ratio on/off ${w.ratio.toFixed(2)}x, on reaches ${pct(w.of_limit)} of the limit`,
    `    within rounds: on/off ${w.paired.ratio.median.toFixed(2)}x (${w.paired.ratio.min.toFixed(2)}-${w.paired.ratio.max.toFixed(2)}), on/limit ${pct(w.paired.of_limit.median)} (${pct(w.paired.of_limit.min)}-${pct(w.paired.of_limit.max)})`,
  ];
}

function reportLines(label: string, r: BenchReport): string[] {
  return [
    `benchmark on ${label}: ${r.runs} interleaved rounds (off, on, limit; order rotating), medians (${r.machine.cpus} CPUs, kernel ${r.machine.kernel})`,
    ...r.workloads.flatMap(workloadLines),
  ];
}

/** `dfs-ebpf bench profile [--rounds N] [--quick]`: JuiceFS throughput without and with a profile running. */
async function benchProfile(p: Parsed, io: Io): Promise<number> {
  const rounds = numberValue(p, 'rounds', 1, 50) ?? 5;
  const session = await openSession(p, io);
  try {
    const local = session.target.localNode ? readLocalNode(session.target.localNode) : null;
    if (!local) {
      throw new DfsError(
        ErrorCode.BadRequest,
        `bench profile runs its workloads on the mount from this machine, so it needs a local test node; ${session.target.label} is remote`,
      );
    }
    const r: OverheadReport = await runProfileOverhead(
      session,
      local.mountpoint,
      rounds,
      p.flags.has('quick'),
      stderrProgress(io),
    );
    if (io.json) printJson({ machine: machine(), ...r });
    else
      printLines([
        `profiler overhead on ${session.target.label}: ${r.runs} interleaved rounds (no profile, latency-only profile, profile with stacks; order rotating), medians`,
        ...r.workloads.map(
          (w) =>
            `  ${w.name.padEnd(18)} off ${w.off.toFixed(1).padStart(8)} ${w.unit}  latency only ${w.latency.toFixed(1).padStart(8)} (${(w.latency_overhead * 100).toFixed(1)}%, paired ${w.paired_latency.median.toFixed(3)})  with stacks ${w.on.toFixed(1).padStart(8)} (${(w.overhead * 100).toFixed(1)}%, paired ${w.paired.median.toFixed(3)}, ${w.paired.min.toFixed(3)}–${w.paired.max.toFixed(3)})`,
        ),
        `  the profile programs ran ${r.bpf_run_cnt} times for ${(r.bpf_run_time_ns / 1e6).toFixed(1)} ms in all "on" runs`,
      ]);
    return 0;
  } finally {
    session.close();
  }
}

/**
 * `dfs-ebpf bench maps [--rounds N]`: a 100,000-entry map read whole, dfs-ebpf vs bpftool
 * (core/src/bench/maps.ts). The map is loaded with bpftool on this machine, so the node must be
 * a local test node (same kernel) and the CLI root; its pins go when the bench ends, also on
 * failure, Ctrl-C or SIGTERM.
 */
async function benchMaps(p: Parsed, io: Io): Promise<number> {
  const rounds = numberValue(p, 'rounds', 1, 50) ?? 5;
  const spec = value(p, 'node');
  if (!kernelIsLocal(spec)) {
    throw new DfsError(
      ErrorCode.BadRequest,
      `bench maps loads its map with bpftool on this machine, so it needs a local test node (same kernel); ${spec ?? ''} is not one`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new DfsError(
      ErrorCode.PermissionDenied,
      'bench maps loads a BPF map with bpftool on this machine (the local test node shares its kernel), so it must run as root',
    );
  }
  const session = await openSession(p, io);
  const progress = stderrProgress(io);
  const dir = benchPinDir();
  // Ctrl-C or SIGTERM: stop (a running bpftool is killed and waited for, so it cannot pin after
  // the unpinning), unpin in the finally below and exit 130/143. Should the stop hang (an
  // agent that does not answer), or on a second signal, unpin and exit at once.
  const stop = new AbortController();
  let stoppedBy: number | undefined;
  const unpinAndExit = (code: number): void => {
    removeBenchMap(dir);
    session.close();
    process.exit(code);
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stoppedBy !== undefined) return unpinAndExit(stoppedBy);
    stoppedBy = sig === 'SIGINT' ? 130 : 143;
    stop.abort();
    const code = stoppedBy;
    setTimeout(() => unpinAndExit(code), 3000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const map = await loadBenchMap(join(agentBundleDir(), 'bpf', 'maps_bench.bpf.o'), dir, stop.signal);
    progress(
      `bench map ${map.id} loaded in ${map.load_ms.toFixed(0)} ms, its entries filled in ${map.fill_ms.toFixed(0)} ms`,
    );
    const r = await runMapsBench(session, map, { rounds, progress, signal: stop.signal });
    if (io.json) printJson(r);
    else {
      const row = (label: string, ms: number): string => `  ${label.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms`;
      printLines([
        `reading a ${r.entries}-entry hash map (u64 key, 16-byte struct value) on ${session.target.label}: ${r.runs} interleaved rounds after a warm-up, medians`,
        row(`dfs-ebpf, decoded (pages of ${r.page_size})`, r.ours_ms),
        row('dfs-ebpf with maps/list + maps/btf', r.ours_with_lookup_ms),
        row('bpftool map dump -j + JSON.parse', r.bpftool_ms),
        `  ratio bpftool/dfs-ebpf ${r.ratio.toFixed(2)}x (within rounds ${r.paired.min.toFixed(2)}-${r.paired.max.toFixed(2)}), with the lookup ${r.ratio_with_lookup.toFixed(2)}x`,
        `  the map was filled in ${r.fill_ms.toFixed(0)} ms (loaded in ${r.load_ms.toFixed(0)} ms)`,
      ]);
    }
    return 0;
  } catch (err) {
    if (stoppedBy === undefined) throw err;
    process.stderr.write('dfs-ebpf: bench maps interrupted; its map was removed\n');
    return stoppedBy;
  } finally {
    removeBenchMap(dir);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    session.close();
  }
}

/** `dfs-ebpf bench fleet --node a,b,c [--rounds N]`: a fleet command vs the same node by node. */
async function benchFleet(p: Parsed, io: Io): Promise<number> {
  const rounds = numberValue(p, 'rounds', 1, 50) ?? 5;
  const nodes = nodeSpecList(value(p, 'node') ?? 'all');
  const cli = [process.execPath, process.argv[1] ?? ''];
  let report: FleetBenchReport;
  try {
    report = await runFleetBench(cli, nodes, rounds, stderrProgress(io));
  } finally {
    // A failure between attach and detach must not leave the fleet's bypass pinned.
    await new Promise((r) => execFile(cli[0]!, [...cli.slice(1), 'detach', 'bypass', '--node', nodes.join(',')], r));
  }
  if (io.json) printJson(report);
  else
    printLines([
      `fleet of ${nodes.length} (${nodes.join(', ')}), ${rounds} rounds, through the CLI: one command for all vs one per node`,
      ...report.steps.map(
        (s) =>
          `  ${s.step.padEnd(7)} all at once ${s.parallel_ms.median.toFixed(0)} ms (${s.parallel_ms.min.toFixed(0)}–${s.parallel_ms.max.toFixed(0)}), one after another ${s.sequential_ms.median.toFixed(0)} ms (${s.sequential_ms.min.toFixed(0)}–${s.sequential_ms.max.toFixed(0)}): ${s.ratio.toFixed(2)}x`,
      ),
    ]);
  return 0;
}

export async function benchCommand(p: Parsed, io: Io): Promise<number> {
  if (p.positionals[1] === 'fleet') return benchFleet(p, io);
  if (p.positionals[1] === 'verify') return benchVerify(p, io);
  if (p.positionals[1] === 'profile') return benchProfile(p, io);
  if (p.positionals[1] === 'maps') return benchMaps(p, io);
  const rounds = numberValue(p, 'rounds', 1, 50) ?? 5;
  const session = await openSession(p, io);
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        process.stderr.write(`dfs-ebpf: cleaning up after bench: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    }
  };
  // Ctrl-C or SIGTERM: take the second mount and the Redis user away before exiting.
  const onSignal = (sig: NodeJS.Signals): void => {
    void cleanup().finally(() => {
      session.close();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const local = session.target.localNode ? readLocalNode(session.target.localNode) : null;
    if (!local) {
      throw new DfsError(
        ErrorCode.BadRequest,
        `bench runs its load generators beside the node, so it needs a local test node; ${session.target.label} is remote`,
      );
    }
    const node = { name: local.name, cgroup: local.cgroup, mountpoint: local.mountpoint };
    const common = { name: local.name, log: stderrLogger(io), progress: stderrProgress(io) };
    const redis = await openBenchRedisAccess(common);
    cleanups.push(redis.close);
    const unix = await mountUnixMeta(common);
    cleanups.push(unix.close);
    const report = await runAbBench(
      sessionSwitch(session, local.mountpoint),
      standardWorkloads(node, { redis, unixMountpoint: unix.mountpoint }, p.flags.has('quick')),
      rounds,
      stderrLogger(io),
      stderrProgress(io),
    );
    await cleanup();
    if (io.json) printJson(report);
    else printLines(reportLines(session.target.label, report));
    return 0;
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    session.close();
  }
}
