/**
 * The A/B benchmark of the bypass: for each round, every workload runs with the bypass off
 * and on, the order alternating between rounds (off→on, then on→off) so drift and warm-up
 * hit both sides alike. The bypass is attached through the agent for each "on" phase and
 * detached after it; its counters must grow during the phase or the run is refused.
 * Reports medians over rounds and the on/off ratio (above 1 means the bypass helps).
 */

import { cpus, release } from 'node:os';
import { BypassAttachRequest, BypassDetachRequest, ErrorCode } from '@dfs/protocol';
import type { NodeSession } from '../agent/session';
import { DfsError } from '../errors';
import type { Logger, Progress } from '../log';
import { median, round3 } from './stats';
import { juicefsMetadata, redisSmall, type LocalNodeRef, type Sample } from './workloads';

export interface Workload {
  name: string;
  unit: 'ops/s';
  run: () => Promise<Sample>;
}

export interface SideResult {
  value: number;
  p50_ms: number;
  p99_ms: number;
  rounds: Sample[];
}

export interface WorkloadResult {
  name: string;
  unit: string;
  off: SideResult;
  on: SideResult;
  /** on/off for throughput units (above 1: the bypass helps). */
  ratio: number;
  /** Messages the bypass redirected during this workload's "on" phases, summed. */
  redirected_msgs: number;
}

export interface BenchReport {
  machine: { cpus: number; model: string; kernel: string };
  runs: number;
  workloads: WorkloadResult[];
}

export function machine(): BenchReport['machine'] {
  const cpuList = cpus();
  return { cpus: cpuList.length, model: cpuList[0]?.model ?? 'unknown', kernel: release() };
}

export function standardWorkloads(node: LocalNodeRef, quick: boolean): Workload[] {
  return [
    { name: 'redis-small', unit: 'ops/s', run: () => redisSmall(node, quick ? 20_000 : 100_000) },
    { name: 'juicefs-metadata', unit: 'ops/s', run: () => juicefsMetadata(node, quick ? 300 : 1500) },
  ];
}

function side(samples: Sample[]): SideResult {
  return {
    value: round3(median(samples.map((s) => s.value))),
    p50_ms: round3(median(samples.map((s) => s.p50_ms))),
    p99_ms: round3(median(samples.map((s) => s.p99_ms))),
    rounds: samples.map((s) => ({ value: round3(s.value), p50_ms: round3(s.p50_ms), p99_ms: round3(s.p99_ms) })),
  };
}

export async function runAbBench(
  session: NodeSession,
  workloads: Workload[],
  rounds: number,
  log: Logger,
  progress: Progress,
): Promise<BenchReport> {
  const samples = new Map(workloads.map((w) => [w.name, { off: [] as Sample[], on: [] as Sample[], redirected: 0 }]));
  for (let r = 1; r <= rounds; r++) {
    const order: ('off' | 'on')[] = r % 2 === 1 ? ['off', 'on'] : ['on', 'off'];
    for (const w of workloads) {
      for (const mode of order) {
        progress(`round ${r}/${rounds}: ${w.name}, bypass ${mode}`);
        let sample: Sample;
        if (mode === 'on') {
          await session.request(BypassAttachRequest, {});
          let got: number;
          try {
            sample = await w.run();
          } finally {
            got = (await session.request(BypassDetachRequest, {})).counters.redirected_msgs;
          }
          if (got === 0) {
            throw new DfsError(
              ErrorCode.Internal,
              `the bypass redirected nothing during ${w.name}; the workload is not going through it, so the comparison would be meaningless`,
            );
          }
          const s = samples.get(w.name);
          if (s) s.redirected += got;
        } else {
          sample = await w.run();
        }
        log.info(
          `${w.name} ${mode} round ${r}: ${sample.value.toFixed(0)} ops/s p50 ${sample.p50_ms} ms p99 ${sample.p99_ms} ms`,
        );
        samples.get(w.name)?.[mode].push(sample);
      }
    }
  }
  return {
    machine: machine(),
    runs: rounds,
    workloads: workloads.map((w) => {
      const s = samples.get(w.name) ?? { off: [], on: [], redirected: 0 };
      const off = side(s.off);
      const on = side(s.on);
      return {
        name: w.name,
        unit: w.unit,
        off,
        on,
        ratio: round3(on.value / off.value),
        redirected_msgs: s.redirected,
      };
    }),
  };
}
