/**
 * The save-to-diagnostic benchmark: how long from "file saved" to diagnostics for a BPF
 * source, through dfs-ebpf, beside the plain loop an engineer runs by hand on the node
 * (`clang` + `bpftool prog loadall`, then unpinning). Both run in the same rounds,
 * alternating which goes first. Prints figures; asserts nothing.
 *
 * The dfs-ebpf side times exactly what a save costs the editor before VS Code draws: core's
 * verifySourceOnNode, the function the extension's VerifierService calls (the node's vmlinux.h
 * as the session knows it, compile_commands.json, clang, reading the object, the agent's
 * verification over the open SSH session, gunzip, parse, diagnostics). Only the VS Code part
 * (publishing and drawing the diagnostics) is left out; scripts/bench-editor.mjs measures the
 * whole thing through code-server.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { NodeSession } from '../agent/session';
import { bpfCompileArgs } from '../build/clang';
import { nodeKernelHeaders } from '../build/vmlinux';
import type { Progress } from '../log';
import { exec } from '../util/exec';
import { verifySourceOnNode } from '../verifier/verify';
import { median, percentile, round3 } from './stats';

export interface LoopTimes {
  median_ms: number;
  p90_ms: number;
  rounds_ms: number[];
}

export interface VerifyBenchReport {
  source: string;
  runs: number;
  dfs_ebpf: LoopTimes;
  clang_bpftool: LoopTimes;
  /** clang_bpftool / dfs_ebpf medians: above 1 means dfs-ebpf's loop is faster. */
  ratio: number;
}

export function loopTimes(ms: number[]): LoopTimes {
  return { median_ms: round3(median(ms)), p90_ms: round3(percentile(ms, 90)), rounds_ms: ms.map(round3) };
}

/**
 * The floor: what an engineer runs by hand for a verdict, in ms. `clang` with our flags and
 * the same vmlinux.h, then `bpftool prog loadall` (the kernel verifies every program; a
 * rejection is a failed load, not an error here), then the pins are removed, untimed.
 */
export async function byHandMs(source: string, vmlinuxDir: string, work: string): Promise<number> {
  const object = join(work, 'plain.bpf.o');
  const pins = `/sys/fs/bpf/dfs-bench-${process.pid}`;
  const t0 = performance.now();
  await exec('clang', bpfCompileArgs(source, object, [vmlinuxDir, dirname(source)]));
  await exec('bpftool', ['prog', 'loadall', object, pins], { allowFailure: true });
  const ms = performance.now() - t0;
  rmSync(pins, { recursive: true, force: true });
  return ms;
}

export async function runVerifyBench(
  session: NodeSession,
  source: string,
  rounds: number,
  progress: Progress,
): Promise<VerifyBenchReport> {
  // The session's first build asks the node for its BTF digest once (as the editor's first
  // save after connecting does); every later save, timed here, asks nothing.
  const vmlinuxDir = (await nodeKernelHeaders(session)).dir;
  const work = mkdtempSync(join(tmpdir(), 'dfs-bench-verify-'));
  const ours: number[] = [];
  const plain: number[] = [];
  try {
    const runOurs = async (): Promise<void> => {
      const t0 = performance.now();
      // The editor's root is the workspace folder; a scratch root here keeps the user's tree clean.
      const { build, outcome } = await verifySourceOnNode(session, source, { root: join(work, 'ws') });
      if (!outcome) throw new Error(`${source} does not compile: ${build.results[0]?.stderr ?? ''}`);
      if (outcome.programs.length === 0) throw new Error('no programs verified');
      ours.push(performance.now() - t0);
    };
    const runPlain = async (): Promise<void> => {
      plain.push(await byHandMs(source, vmlinuxDir, work));
    };
    for (let r = 1; r <= rounds; r++) {
      progress(`round ${r}/${rounds}`);
      if (r % 2) {
        await runOurs();
        await runPlain();
      } else {
        await runPlain();
        await runOurs();
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const a = loopTimes(ours);
  const b = loopTimes(plain);
  return { source, runs: rounds, dfs_ebpf: a, clang_bpftool: b, ratio: round3(b.median_ms / a.median_ms) };
}
