/**
 * `dfs-ebpf bench fleet`: what a fleet command costs the user, through the real CLI: one
 * `dfs-ebpf <cmd> --node a,b,c` (every node at once) beside the same command run node after
 * node (`--node a`, then `--node b`, …, each its own process, as by hand), for attach, status
 * and detach of the bypass. Rounds alternate which way goes first; figures are medians with
 * their spread and the ratio (one after another / parallel). Asserts nothing.
 */

import { execFile } from 'node:child_process';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import type { Progress } from '../log';
import { round3, rotation, spread } from './stats';

export const FLEET_STEPS = ['attach', 'status', 'detach'] as const;
export type FleetStep = (typeof FLEET_STEPS)[number];

export interface FleetBenchReport {
  nodes: string[];
  rounds: number;
  steps: {
    step: FleetStep;
    parallel_ms: { median: number; min: number; max: number };
    sequential_ms: { median: number; min: number; max: number };
    /** sequential / parallel: above 1, the fleet command is that much faster than by hand. */
    ratio: number;
  }[];
}

const ARGS: Record<FleetStep, string[]> = {
  attach: ['attach', 'bypass'],
  status: ['status'],
  detach: ['detach', 'bypass'],
};

/** Runs the CLI (`cli` = [node, main.js]); rejects with its stderr when it fails. */
function runCli(cli: readonly string[], args: string[]): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(cli[0]!, [...cli.slice(1), ...args, '--json'], { maxBuffer: 64 << 20 }, (err, _out, stderr) => {
      if (err) reject(new DfsError(ErrorCode.Internal, `dfs-ebpf ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(performance.now() - t0);
    });
  });
}

export async function runFleetBench(
  cli: readonly string[],
  nodes: string[],
  rounds: number,
  progress: Progress,
): Promise<FleetBenchReport> {
  if (nodes.length < 2) throw new DfsError(ErrorCode.BadRequest, 'bench fleet needs at least two nodes (--node a,b,c)');
  const samples = new Map<string, number[]>();
  const add = (key: string, ms: number): void => void samples.set(key, [...(samples.get(key) ?? []), ms]);
  for (let round = 0; round < rounds; round++) {
    progress(`round ${round + 1} of ${rounds}`);
    for (const mode of rotation(['parallel', 'sequential'] as const, round + 1)) {
      // The bypass goes on and off whole in each mode, so both start from the same state.
      for (const step of FLEET_STEPS) {
        if (mode === 'parallel') add(`${step}/parallel`, await runCli(cli, [...ARGS[step], '--node', nodes.join(',')]));
        else {
          let total = 0;
          for (const n of nodes) total += await runCli(cli, [...ARGS[step], '--node', n]);
          add(`${step}/sequential`, total);
        }
      }
    }
  }
  return {
    nodes,
    rounds,
    steps: FLEET_STEPS.map((step) => {
      const par = spread(samples.get(`${step}/parallel`) ?? []);
      const seq = spread(samples.get(`${step}/sequential`) ?? []);
      const r = (x: { median: number; min: number; max: number }) => ({
        median: round3(x.median),
        min: round3(x.min),
        max: round3(x.max),
      });
      return { step, parallel_ms: r(par), sequential_ms: r(seq), ratio: round3(seq.median / par.median) };
    }),
  };
}
