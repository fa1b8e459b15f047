/**
 * What the profiler costs JuiceFS (`dfs-ebpf bench profile`): the same workloads on a local
 * test node's mount with no profile and with a profile running (stacks on), interleaved, the
 * order rotating each round, medians and per-round paired ratios. Workloads: sequential write
 * and read of one file with O_DIRECT (every byte through FUSE, not the page cache), and bench's
 * metadata burst (create, stat, rename, unlink, 16 in flight); three modes: no profile, a
 * latency-only profile (no stacks) and the full one. The profile is started before
 * and stopped after the timed part, so only its cost while the workload runs is measured.
 * Prints figures; asserts nothing.
 */

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeSession } from '../agent/session';
import type { Progress } from '../log';
import { profileNode } from '../profile/onNode';
import { exec } from '../util/exec';
import { median, round3, rotation, spread } from './stats';
import { juicefsMetadata } from './workloads';

/** No profile; a profile of latencies only (stacks: false); the full profile with stacks. */
type Mode = 'off' | 'latency' | 'on';
const MODES: readonly Mode[] = ['off', 'latency', 'on'];

interface OverheadWorkload {
  name: string;
  unit: 'MiB/s' | 'ops/s';
  run: () => Promise<number>;
}

export interface OverheadResult {
  name: string;
  unit: string;
  off: number;
  /** With a latency-only profile (no stacks). */
  latency: number;
  on: number;
  /** 1 − on/off of the medians: the share of throughput the full profiler takes. */
  overhead: number;
  /** 1 − latency/off: the same without stacks. */
  latency_overhead: number;
  /** on/off and latency/off within each round. */
  paired: { median: number; min: number; max: number };
  paired_latency: { median: number; min: number; max: number };
  rounds: { round: number; order: Mode[]; off: number; latency: number; on: number }[];
}

export interface OverheadReport {
  runs: number;
  /** The programs' own time from the kernel's run-time statistics, over all "on" runs. */
  bpf_run_time_ns: number;
  bpf_run_cnt: number;
  workloads: OverheadResult[];
}

async function ddMiBs(args: string[], mib: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await exec('dd', [...args, 'bs=1M', `count=${mib}`, 'status=none']);
  return mib / (Number(process.hrtime.bigint() - t0) / 1e9);
}

export function overheadWorkloads(mountpoint: string, quick: boolean): OverheadWorkload[] {
  const mib = quick ? 64 : 256;
  const file = join(mountpoint, `.dfs-ebpf-bench-seq-${process.pid}`);
  return [
    {
      name: 'juicefs-seq-write',
      unit: 'MiB/s',
      run: () => ddMiBs(['if=/dev/zero', `of=${file}`, 'oflag=direct', 'conv=fsync'], mib),
    },
    {
      name: 'juicefs-seq-read',
      unit: 'MiB/s',
      // Reads the file the write left (the write workload runs first in every round).
      run: () => ddMiBs([`if=${file}`, 'of=/dev/null', 'iflag=direct'], mib),
    },
    {
      name: 'juicefs-metadata',
      unit: 'ops/s',
      run: async () => (await juicefsMetadata(mountpoint, quick ? 300 : 1500)).value,
    },
  ];
}

export async function runProfileOverhead(
  session: NodeSession,
  mountpoint: string,
  rounds: number,
  quick: boolean,
  progress: Progress,
): Promise<OverheadReport> {
  const workloads = overheadWorkloads(mountpoint, quick);
  const acc = workloads.map((w) => ({ w, rounds: [] as OverheadResult['rounds'] }));
  let runTime = 0;
  let runCnt = 0;
  try {
    for (let r = 1; r <= rounds; r++) {
      const order = rotation(MODES, r);
      for (const a of acc) {
        const got: Partial<Record<Mode, number>> = {};
        for (const mode of order) {
          progress(`round ${r}/${rounds}: ${a.w.name}, profiler ${mode}`);
          if (mode === 'off') {
            got.off = await a.w.run();
            continue;
          }
          let value = 0;
          const profile = await profileNode(session, {
            mountpoint,
            durationS: 600,
            stacks: mode === 'on',
            during: async () => {
              value = await a.w.run();
            },
          });
          for (const c of profile.cost) {
            runTime += c.run_time_ns;
            runCnt += c.run_cnt;
          }
          got[mode] = value;
        }
        a.rounds.push({
          round: r,
          order,
          off: round3(got.off ?? NaN),
          latency: round3(got.latency ?? NaN),
          on: round3(got.on ?? NaN),
        });
      }
    }
  } finally {
    await rm(join(mountpoint, `.dfs-ebpf-bench-seq-${process.pid}`), { force: true });
  }
  return {
    runs: rounds,
    bpf_run_time_ns: runTime,
    bpf_run_cnt: runCnt,
    workloads: acc.map(({ w, rounds: rs }) => {
      const off = median(rs.map((x) => x.off));
      const latency = median(rs.map((x) => x.latency));
      const on = median(rs.map((x) => x.on));
      return {
        name: w.name,
        unit: w.unit,
        off: round3(off),
        latency: round3(latency),
        on: round3(on),
        overhead: round3(1 - on / off),
        latency_overhead: round3(1 - latency / off),
        paired: spread(rs.map((x) => x.on / x.off)),
        paired_latency: spread(rs.map((x) => x.latency / x.off)),
        rounds: rs,
      };
    }),
  };
}
