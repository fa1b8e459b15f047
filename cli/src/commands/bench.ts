/**
 * `dfs-ebpf bench [--node NAME] [--rounds N] [--quick] [--json]`: the interleaved A/B
 * benchmark of the bypass (core/src/bench). Prints figures and ratios; asserts nothing.
 */

import { ErrorCode } from '@dfs/protocol';
import { join, resolve } from 'node:path';
import { machine, runAbBench, standardWorkloads } from '@dfs/core/bench/ab';
import { runVerifyBench } from '@dfs/core/bench/verifyLoop';
import { DfsError } from '@dfs/core/errors';
import { readLocalNode } from '@dfs/core/testnode';
import { numberValue, type Parsed } from '../args';
import { printJson, printLines, stderrLogger, stderrProgress, type Io } from '../output';
import { openSession } from './bypass';
import { repoRootOfCli } from '../paths';

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

export async function benchCommand(p: Parsed, io: Io): Promise<number> {
  if (p.positionals[1] === 'verify') return benchVerify(p, io);
  const rounds = numberValue(p, 'rounds', 1, 50) ?? 5;
  const session = await openSession(p, io);
  try {
    const local = session.target.localNode ? readLocalNode(session.target.localNode) : null;
    if (!local) {
      throw new DfsError(
        ErrorCode.BadRequest,
        `bench runs its load generators beside the node, so it needs a local test node; ${session.target.label} is remote`,
      );
    }
    const node = { name: local.name, cgroup: local.cgroup, mountpoint: local.mountpoint };
    const report = await runAbBench(
      session,
      standardWorkloads(node, p.flags.has('quick')),
      rounds,
      stderrLogger(io),
      stderrProgress(io),
    );
    if (io.json) printJson(report);
    else {
      printLines([
        `A/B benchmark on ${session.target.label}: ${report.runs} interleaved rounds, medians (${report.machine.cpus} CPUs, kernel ${report.machine.kernel})`,
        ...report.workloads.map(
          (w) =>
            `  ${w.name.padEnd(18)} off ${w.off.value.toFixed(0).padStart(8)} ${w.unit} p50 ${w.off.p50_ms} ms p99 ${w.off.p99_ms} ms | on ${w.on.value.toFixed(0).padStart(8)} ${w.unit} p50 ${w.on.p50_ms} ms p99 ${w.on.p99_ms} ms | ratio ${w.ratio.toFixed(2)}x`,
        ),
      ]);
    }
    return 0;
  } finally {
    session.close();
  }
}
