/**
 * Per-program run-time figures as bpftop shows them (pure): from two reads of the kernel's
 * run-time statistics (run_cnt, run_time_ns), the runs per second, the average ns per run and
 * the share of the node's CPUs spent in the program over the interval between the reads.
 */

import type { ProgramSummary } from '@dfs/protocol';

export interface ProgramFigures {
  runsPerS: number;
  avgNs: number;
  /** Percent of all CPUs (100 = every CPU busy in this program). */
  cpuPercent: number;
}

/** Figures of `now` against `before` (same program, read dtMs apart); null without a usable interval. */
export function programFigures(
  before: Pick<ProgramSummary, 'run_cnt' | 'run_time_ns'> | undefined,
  now: Pick<ProgramSummary, 'run_cnt' | 'run_time_ns'>,
  dtMs: number,
  cpus: number,
): ProgramFigures | null {
  if (!before || dtMs <= 0 || cpus <= 0) return null;
  const runs = now.run_cnt - before.run_cnt;
  const ns = now.run_time_ns - before.run_time_ns;
  if (runs < 0 || ns < 0) return null; // another program took the id, or the counters were reset
  return {
    runsPerS: (runs * 1000) / dtMs,
    avgNs: runs > 0 ? ns / runs : 0,
    cpuPercent: (ns / (dtMs * 1e6 * cpus)) * 100,
  };
}

/** "12.3k runs/s · 350 ns · 0.42% CPU" */
export function formatFigures(f: ProgramFigures): string {
  const runs = f.runsPerS >= 1000 ? `${(f.runsPerS / 1000).toFixed(1)}k` : f.runsPerS.toFixed(0);
  const avg = f.avgNs >= 1000 ? `${(f.avgNs / 1000).toFixed(1)} µs` : `${f.avgNs.toFixed(0)} ns`;
  return `${runs} runs/s · ${avg} · ${f.cpuPercent.toFixed(2)}% CPU`;
}
