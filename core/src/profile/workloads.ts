/**
 * Workloads for "Profile bypass off vs on": each is a POSIX shell command run over SSH as the
 * node's own user in a fresh directory on the JuiceFS mount (never by the agent, which runs no
 * commands for clients), bounded, and removing what it made. The built-in ones are the JuiceFS
 * side of `bench` (a metadata burst) and a sequential write + read; a user's own command runs
 * the same way, with $DFS_DIR set to its scratch directory. A run reports its operations and
 * wall time, from which the off/on ratio is taken.
 */

import { ErrorCode } from '@dfs/protocol';
import type { NodeSession } from '../agent/session';
import { DfsError } from '../errors';
import { shellQuote } from '../ssh/connection';

export interface WorkloadSpec {
  /** `juicefs-metadata`, `juicefs-sequential` or `command`. */
  name: string;
  /** What it does, for pickers and reports. */
  description: string;
  /** The shell script; $DFS_DIR is its scratch directory on the mount. */
  script: string;
  /** Operations one run performs (for ops/s); 1 for a user's command (runs/s). */
  ops: number;
  unit: 'ops/s' | 'runs/s';
}

export interface WorkloadRun {
  ops: number;
  seconds: number;
  ops_per_s: number;
  unit: WorkloadSpec['unit'];
}

/** The metadata burst of `bench` (create, stat, rename, unlink of empty files), in shell. */
export function metadataWorkload(files = 400): WorkloadSpec {
  return {
    name: 'juicefs-metadata',
    description: `${files} files created, stat-ed, renamed and removed (4 operations each), as bench's juicefs-metadata`,
    script: [
      `i=0; while [ $i -lt ${files} ]; do`,
      '  : > "$DFS_DIR/f$i" && stat "$DFS_DIR/f$i" >/dev/null && mv "$DFS_DIR/f$i" "$DFS_DIR/g$i" && rm "$DFS_DIR/g$i" || exit 1',
      '  i=$((i+1))',
      'done',
    ].join('\n'),
    ops: files * 4,
    unit: 'ops/s',
  };
}

/** A sequential write then read of one file, 1 MiB blocks. */
export function sequentialWorkload(mib = 64): WorkloadSpec {
  return {
    name: 'juicefs-sequential',
    description: `one ${mib} MiB file written and read back in 1 MiB blocks with O_DIRECT (all through FUSE)`,
    script: [
      `dd if=/dev/zero of="$DFS_DIR/seq" bs=1M count=${mib} oflag=direct conv=fsync status=none || exit 1`,
      `dd if="$DFS_DIR/seq" of=/dev/null bs=1M iflag=direct status=none || exit 1`,
    ].join('\n'),
    ops: mib * 2,
    unit: 'ops/s',
  };
}

/** The user's own command (e.g. `fio ...` or a build), run once per side. */
export function commandWorkload(command: string): WorkloadSpec {
  if (command.trim() === '') throw new DfsError(ErrorCode.BadRequest, 'the workload command is empty');
  if (command.length > 8192) throw new DfsError(ErrorCode.BadRequest, 'the workload command is longer than 8 KiB');
  return { name: 'command', description: command, script: command, ops: 1, unit: 'runs/s' };
}

export const BUILTIN_WORKLOADS: readonly (() => WorkloadSpec)[] = [
  () => metadataWorkload(),
  () => sequentialWorkload(),
];

/** Most a workload may run before it is stopped, ms. */
const WORKLOAD_TIMEOUT_MS = 30 * 60_000;

/** Run `w` over the session's SSH connection as the node's user; throws with its stderr on failure. */
export async function runWorkload(
  session: NodeSession,
  w: WorkloadSpec,
  mountpoint: string,
  signal?: AbortSignal,
): Promise<WorkloadRun> {
  const dir = `${mountpoint.replace(/\/+$/, '')}/.dfs-ebpf-workload-${process.pid}-${Date.now()}`;
  // The scratch directory goes whatever the script does; its exit code is the script's.
  const wrapper = [
    `DFS_DIR=${shellQuote(dir)}; export DFS_DIR`,
    'mkdir "$DFS_DIR" || exit 97',
    'trap \'rm -rf "$DFS_DIR"\' EXIT',
    `( cd "$DFS_DIR" && sh -c ${shellQuote(w.script)} )`,
  ].join('\n');
  const { channel, exited } = await session.ssh.exec(`sh -c ${shellQuote(wrapper)}`);
  const stderr: Buffer[] = [];
  let stderrBytes = 0;
  channel.on('data', () => undefined); // output is not kept; it must still be read
  channel.stderr.on('data', (d: Buffer) => {
    if (stderrBytes < 64 * 1024) stderr.push(d);
    stderrBytes += d.length;
  });
  channel.end();
  const t0 = process.hrtime.bigint();
  let timer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    channel.signal('TERM');
    channel.close();
  };
  signal?.addEventListener('abort', stop);
  try {
    const code = await Promise.race([
      exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          stop();
          reject(new DfsError(ErrorCode.NodeUnreachable, `the ${w.name} workload ran over 30 minutes; stopped`));
        }, WORKLOAD_TIMEOUT_MS);
      }),
    ]);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (signal?.aborted) throw new DfsError(ErrorCode.Cancelled, `the ${w.name} workload was cancelled`);
    if (code !== 0) {
      const why = Buffer.concat(stderr).toString('utf8').trim().split('\n').slice(-3).join('; ');
      throw new DfsError(
        ErrorCode.BadRequest,
        `the ${w.name} workload failed on ${session.target.label} (exit ${code ?? 'signal'})${why ? `: ${why}` : ''}`,
      );
    }
    return { ops: w.ops, seconds, ops_per_s: w.ops / seconds, unit: w.unit };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', stop);
  }
}
