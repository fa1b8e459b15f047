/**
 * Processes of a node: starting a daemon inside the node (its netns via `nsenter --net=`, never
 * `ip netns exec`, which would also unshare the mount namespace; and its cgroup via a tiny sh
 * wrapper that writes its own PID to cgroup.procs before exec), reading pid files, checking that
 * a PID is alive and placed in the node, and stopping PIDs with SIGTERM then SIGKILL.
 * No user data is ever spliced into shell text: paths and argv travel as positional parameters.
 */

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { inNodeCgroup } from './cgroup';
import { BIN, type NodePaths } from './paths';
import { logTail, readIfExists, run, type NodeCtx, waitUntil } from './sys';

/** $1 = cgroup.procs, $2 = output log, rest = the service argv. */
const CGROUP_WRAPPER = 'echo $$ > "$1" || exit 125; log=$2; shift 2; exec "$@" </dev/null >>"$log" 2>&1';
/** The same, keeping stdin: a service that reads its configuration (with a secret) from it. */
const CGROUP_WRAPPER_STDIN = 'echo $$ > "$1" || exit 125; log=$2; shift 2; exec "$@" >>"$log" 2>&1';

export interface StartOptions {
  timeoutMs?: number;
  /** Written to the service's stdin (then closed); else stdin is /dev/null. */
  stdin?: string;
  /** The service's environment (secrets go here, never in argv); default ours. */
  env?: NodeJS.ProcessEnv;
}

/** argv that runs `argv` in the node's network namespace only (mount namespace stays the host's). */
export function inNetns(p: NodePaths, argv: readonly string[]): [string, string[]] {
  return [BIN.nsenter, [`--net=${p.netnsFile}`, '--', ...argv]];
}

/**
 * Starts a (self-daemonizing) service in the node's netns and cgroup and waits for the
 * launcher to return. Output of the launcher goes to `outLog`; its tail is the error detail.
 */
export async function startInNode(
  ctx: NodeCtx,
  p: NodePaths,
  cgroupDir: string,
  what: string,
  argv: readonly string[],
  outLog: string,
  opts: StartOptions = {},
): Promise<void> {
  const [file, args] = inNetns(p, [
    BIN.sh,
    '-c',
    opts.stdin === undefined ? CGROUP_WRAPPER : CGROUP_WRAPPER_STDIN,
    'sh',
    join(cgroupDir, 'cgroup.procs'),
    outLog,
    ...argv,
  ]);
  const res = await run(ctx, file, args, {
    timeoutMs: opts.timeoutMs ?? 60_000,
    allowFailure: true,
    ...(opts.stdin !== undefined ? { input: opts.stdin } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
  if (res.code !== 0) {
    const tail = logTail(outLog) || res.stderr.trim().slice(0, 300);
    throw new DfsError(
      ErrorCode.Internal,
      `${what} did not start (exit ${res.code}${res.signal ? `, ${res.signal}` : ''})${tail ? `: ${tail}` : ''}; see ${outLog}`,
    );
  }
}

export function readPid(file: string): number | undefined {
  const text = readIfExists(file);
  if (text === undefined) return undefined;
  const pid = Number(text.trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (e) {
    if (e instanceof Error && 'code' in e) return false;
    throw e;
  }
  // "pid (comm) S ...": the state follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

export function processName(pid: number): string {
  return (readIfExists(`/proc/${pid}/comm`) ?? '').trim();
}

function nsInode(path: string): string | undefined {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch (e) {
    // Gone, or not ours to inspect (non-root status): unknown.
    if (e instanceof Error && 'code' in e) return undefined;
    throw e;
  }
}

/** true/false when it can tell, undefined when the process's namespace cannot be read. */
export function inNodeNetns(pid: number, p: NodePaths): boolean | undefined {
  const mine = nsInode(`/proc/${pid}/ns/net`);
  const node = nsInode(p.netnsFile);
  if (mine === undefined) return undefined;
  return node !== undefined && mine === node;
}

export interface Placement {
  ok: boolean;
  /** running: ours and in place; misplaced: ours (right program, node cgroup) but in a stale netns. */
  state: 'running' | 'missing' | 'foreign' | 'misplaced';
  pid?: number;
  detail: string;
}

/** Is the PID in `pidFilePath` a live `comm` process in the node's cgroup and netns? */
export function placementOf(p: NodePaths, pidFilePath: string, comm: RegExp): Placement {
  const pid = readPid(pidFilePath);
  if (pid === undefined) return { ok: false, state: 'missing', detail: 'not running (no pid file)' };
  if (!isAlive(pid)) return { ok: false, state: 'missing', detail: `not running (pid ${pid} is gone)` };
  const name = processName(pid);
  if (!comm.test(name))
    return { ok: false, state: 'foreign', detail: `not running (pid ${pid} is now ${name || 'another process'})` };
  // We start everything inside the node cgroup, so a PID outside it is not ours (PID reuse).
  if (!inNodeCgroup(pid, p.name))
    return { ok: false, state: 'foreign', detail: `not running (pid ${pid} is outside the node cgroup)` };
  if (inNodeNetns(pid, p) === false)
    return { ok: false, state: 'misplaced', pid, detail: `pid ${pid} is outside the node netns` };
  return { ok: true, state: 'running', pid, detail: `pid ${pid}` };
}

/** PIDs a restart must stop first: ours, whether in place or not. */
export function ownPid(pl: Placement): number[] {
  return pl.pid !== undefined && (pl.state === 'running' || pl.state === 'misplaced') ? [pl.pid] : [];
}

/** SIGTERM, bounded wait, then SIGKILL and another bounded wait. Returns PIDs that survived. */
export async function stopPids(ctx: NodeCtx, pids: readonly number[], graceMs = 5000): Promise<number[]> {
  const live = [...new Set(pids)].filter(isAlive);
  if (live.length === 0) return [];
  ctx.log.debug(`stopping pids ${live.join(' ')}`);
  for (const pid of live) signal(pid, 'SIGTERM');
  await waitUntil(graceMs, () => live.every((pid) => !isAlive(pid)));
  const stubborn = live.filter(isAlive);
  for (const pid of stubborn) signal(pid, 'SIGKILL');
  await waitUntil(3000, () => stubborn.every((pid) => !isAlive(pid)));
  return stubborn.filter(isAlive);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    // ESRCH: it exited between the check and the signal, which is what we want.
    if (!(e instanceof Error && 'code' in e && e.code === 'ESRCH')) throw e;
  }
}
