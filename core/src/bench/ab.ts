/**
 * The interleaved benchmark of the bypass against its bar (DESIGN.md §7): every round runs
 * each workload in three modes, the order rotating from round to round so drift and warm-up
 * hit all three alike:
 *  - off:   the workload over TCP, no bypass;
 *  - on:    the same with the bypass attached for the phase (and detached after it); its
 *           counters must grow during the phase or the run is refused;
 *  - limit: the same workload over a Unix socket, the local-IPC limit the bypass aims at.
 * Reports medians over rounds, every round's values, `ratio` (on against off) and `of_limit`
 * (on against limit) of those medians, both above 1 when the first is better whatever the
 * unit, and the same ratios taken within each round (`paired`: median, min, max).
 */

import { cpus, release } from 'node:os';
import { BypassAttachRequest, BypassDetachRequest, ErrorCode } from '@dfs/protocol';
import type { NodeSession } from '../agent/session';
import { DfsError } from '../errors';
import type { Logger, Progress } from '../log';
import { betterBy, median, rotation, round3, spread } from './stats';
import type { Sample } from './workloads';

export type Mode = 'off' | 'on' | 'limit';
export const MODES: readonly Mode[] = ['off', 'on', 'limit'];

export interface Workload {
  name: string;
  unit: 'ops/s';
  /** What the limit mode runs against, in words. */
  limit: string;
  run: (mode: Mode) => Promise<Sample>;
}

/** Attaches the bypass for an "on" phase and detaches it after. */
export interface BypassSwitch {
  attach: () => Promise<void>;
  /** Detaches; returns the messages redirected since the attach. */
  detach: () => Promise<number>;
}

/** The bypass through the agent, on one mount (the node may have bench's second mount too). */
export function sessionSwitch(session: NodeSession, mountpoint: string): BypassSwitch {
  return {
    attach: async () => {
      await session.request(BypassAttachRequest, { mountpoint });
    },
    detach: async () => (await session.request(BypassDetachRequest, {})).counters.redirected_msgs,
  };
}

export interface SideResult {
  value: number;
  p50_ms: number;
  p99_ms: number;
}

export interface RoundResult {
  round: number;
  order: Mode[];
  off: SideResult;
  on: SideResult;
  limit: SideResult;
  /** This round's on against off, and on against the limit. */
  ratio: number;
  of_limit: number;
}

/**
 * The same comparisons made within each round and then summarized: the modes of one round ran
 * minutes apart at most, so on a machine whose load drifts these are steadier than ratios of
 * medians taken from different rounds.
 */
export interface PairedRatios {
  ratio: { median: number; min: number; max: number };
  of_limit: { median: number; min: number; max: number };
}

export interface WorkloadResult {
  name: string;
  unit: string;
  off: SideResult;
  on: SideResult;
  limit: SideResult;
  /** on against off (on/off for throughput units): above 1 means the bypass helps. */
  ratio: number;
  /** The median of the limit mode: the same workload over a Unix socket in the same run. */
  limit_value: number;
  /** on against the limit (on/limit for throughput units): 1 means the bypass reached it. */
  of_limit: number;
  /** What the limit is. */
  limit_kind: string;
  /** Messages the bypass redirected during this workload's "on" phases, summed. */
  redirected_msgs: number;
  /** Per-round ratios, summarized (see PairedRatios). */
  paired: PairedRatios;
  rounds: RoundResult[];
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

const sideOf = (s: Sample): SideResult => ({
  value: round3(s.value),
  p50_ms: round3(s.p50_ms),
  p99_ms: round3(s.p99_ms),
});

function medianSide(samples: readonly Sample[]): SideResult {
  return sideOf({
    value: median(samples.map((s) => s.value)),
    p50_ms: median(samples.map((s) => s.p50_ms)),
    p99_ms: median(samples.map((s) => s.p99_ms)),
  });
}

/** One workload's result from its rounds (pure: the arithmetic the unit tests check). */
export function summarize(
  w: Pick<Workload, 'name' | 'unit' | 'limit'>,
  rounds: readonly { round: number; order: Mode[]; samples: Record<Mode, Sample> }[],
  redirected: number,
): WorkloadResult {
  const off = medianSide(rounds.map((r) => r.samples.off));
  const on = medianSide(rounds.map((r) => r.samples.on));
  const limit = medianSide(rounds.map((r) => r.samples.limit));
  const perRound = rounds.map((r) => ({
    ratio: betterBy(w.unit, r.samples.on.value, r.samples.off.value),
    of_limit: betterBy(w.unit, r.samples.on.value, r.samples.limit.value),
  }));
  return {
    name: w.name,
    unit: w.unit,
    off,
    on,
    limit,
    ratio: round3(betterBy(w.unit, on.value, off.value)),
    limit_value: limit.value,
    of_limit: round3(betterBy(w.unit, on.value, limit.value)),
    limit_kind: w.limit,
    redirected_msgs: redirected,
    paired: { ratio: spread(perRound.map((x) => x.ratio)), of_limit: spread(perRound.map((x) => x.of_limit)) },
    rounds: rounds.map((r, i) => ({
      round: r.round,
      order: r.order,
      off: sideOf(r.samples.off),
      on: sideOf(r.samples.on),
      limit: sideOf(r.samples.limit),
      ratio: round3(perRound[i]?.ratio ?? NaN),
      of_limit: round3(perRound[i]?.of_limit ?? NaN),
    })),
  };
}

export async function runAbBench(
  bypass: BypassSwitch,
  workloads: readonly Workload[],
  rounds: number,
  log: Logger,
  progress: Progress,
): Promise<BenchReport> {
  const acc = workloads.map((w) => ({
    w,
    rounds: [] as { round: number; order: Mode[]; samples: Record<Mode, Sample> }[],
    redirected: 0,
  }));
  for (let r = 1; r <= rounds; r++) {
    const order = rotation(MODES, r);
    for (const a of acc) {
      const w = a.w;
      const samples: Partial<Record<Mode, Sample>> = {};
      for (const mode of order) {
        progress(`round ${r}/${rounds}: ${w.name}, ${mode === 'limit' ? `limit (${w.limit})` : `bypass ${mode}`}`);
        let sample: Sample;
        if (mode === 'on') {
          await bypass.attach();
          let got: number;
          try {
            sample = await w.run(mode);
          } finally {
            got = await bypass.detach();
          }
          if (got === 0) {
            throw new DfsError(
              ErrorCode.Internal,
              `the bypass redirected nothing during ${w.name}; the workload is not going through it, so the comparison would be meaningless`,
            );
          }
          a.redirected += got;
        } else {
          sample = await w.run(mode);
        }
        log.info(
          `${w.name} ${mode} round ${r}: ${sample.value.toFixed(0)} ${w.unit} p50 ${sample.p50_ms} ms p99 ${sample.p99_ms} ms`,
        );
        samples[mode] = sample;
      }
      a.rounds.push({ round: r, order, samples: samples as Record<Mode, Sample> });
    }
  }
  return {
    machine: machine(),
    runs: rounds,
    workloads: acc.map((a) => summarize(a.w, a.rounds, a.redirected)),
  };
}
