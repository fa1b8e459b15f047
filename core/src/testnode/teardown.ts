/**
 * The hard part of `node down`: stopping every process of a node for good, and saying exactly
 * what could not be removed. Processes are stopped in the node cgroup as a whole (SIGTERM,
 * then `cgroup.kill`, which also catches children forked meanwhile), retried until the cgroup
 * is empty or 30 s pass; a process stuck in the kernel on a FUSE request gets its connection
 * aborted (see fuse.ts for why that is needed). A survivor is described by its kernel state,
 * wait channel and kernel stack, so the report says why it survived.
 */

import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cgroupPids } from './cgroup';
import { abortFuseConnections } from './fuse';
import { processName } from './procs';
import { type NodeCtx, readIfExists, waitUntil } from './sys';

export interface StopOptions {
  /** FUSE connections of the node's mounts, aborted when a process stays stuck. */
  fuseConnections: readonly number[];
  /** The node's mountpoints: a connection mounted anywhere else is not the node's any more. */
  mountpoints: readonly string[];
  /** PIDs outside the cgroup that are still the node's (normally none). */
  extraPids?: readonly number[];
  graceMs?: number;
  deadlineMs?: number;
}

/** State letter of each thread of a process ([] when it is gone). */
function threadStates(pid: number): { tid: number; state: string }[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch (e) {
    if (e instanceof Error && 'code' in e) return []; // gone
    throw e;
  }
  return tids.map((t) => {
    const stat = readProc(pid, `task/${t}/stat`) ?? '';
    return { tid: Number(t), state: stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) };
  });
}

/**
 * Still running: some thread is neither a zombie nor dead. (A multi-threaded process whose
 * main thread has exited shows as a zombie while another thread is stuck in the kernel.)
 */
export function anyThreadAlive(pid: number): boolean {
  return threadStates(pid).some((t) => t.state !== '' && t.state !== 'Z' && t.state !== 'X');
}

/** One line about a process that will not die: name, state, what its stuck thread waits on in the kernel. */
export function describeProcess(pid: number): string {
  const threads = threadStates(pid);
  const stuck = threads.find((t) => t.state === 'D') ?? threads.find((t) => t.state !== 'Z') ?? threads[0];
  const task = stuck ? `task/${stuck.tid}/` : '';
  const wchan = readProc(pid, `${task}wchan`)?.trim();
  const stack = (readProc(pid, `${task}stack`) ?? '')
    .split('\n')
    .map((l) => l.replace(/^\[<[0-9a-f]+>\]\s*/, '').trim())
    .filter(Boolean)
    .slice(0, 4)
    .join(' < ');
  const states = [...new Set(threads.map((t) => t.state))].join('') || 'gone';
  return `${pid} (${processName(pid) || '?'}, ${threads.length} thread(s) in state ${states}${wchan && wchan !== '0' ? `, waiting in ${wchan}` : ''}${stack ? `, kernel stack ${stack}` : ''})`;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readIfExists(`/proc/${pid}/${file}`);
  } catch (e) {
    // Exited while we looked, or not readable: nothing to say.
    if (e instanceof Error && 'code' in e) return undefined;
    throw e;
  }
}

const hasStuckThread = (pid: number): boolean => threadStates(pid).some((t) => t.state === 'D');

function signalAll(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch (e) {
      // ESRCH: already gone, which is what we want.
      if (!(e instanceof Error && 'code' in e && e.code === 'ESRCH')) throw e;
    }
  }
}

/** SIGKILL to every process in the cgroup at once, forks in flight included (cgroup v2 ≥ 5.14). */
function killCgroup(cgroupDir: string, pids: readonly number[]): void {
  const kill = join(cgroupDir, 'cgroup.kill');
  if (existsSync(kill)) writeFileSync(kill, '1');
  else signalAll(pids, 'SIGKILL');
}

/**
 * Stops everything in the node cgroup (and `extraPids`), retrying until nothing is left or the
 * deadline passes. Returns a description of each survivor (empty: all gone).
 */
export async function stopNodeCgroup(
  ctx: NodeCtx,
  name: string,
  cgroupDir: string | undefined,
  opts: StopOptions,
): Promise<string[]> {
  const graceMs = opts.graceMs ?? 5000;
  const deadline = Date.now() + (opts.deadlineMs ?? 30_000);
  const live = (): number[] => {
    const all = [...(cgroupDir ? cgroupPids(cgroupDir) : []), ...(opts.extraPids ?? [])];
    return [...new Set(all)].filter(anyThreadAlive);
  };
  let pids = live();
  if (pids.length === 0) return [];
  ctx.progress('stopping node processes');
  ctx.log.debug(`node ${name}: SIGTERM to ${pids.join(' ')}`);
  signalAll(pids, 'SIGTERM');
  await waitUntil(graceMs, () => live().length === 0);
  let triedAbort = false;
  let lastReport = Date.now();
  while ((pids = live()).length > 0) {
    if (cgroupDir) killCgroup(cgroupDir, pids);
    const inCgroup = new Set(cgroupDir ? cgroupPids(cgroupDir) : []);
    signalAll(
      pids.filter((p) => !inCgroup.has(p)),
      'SIGKILL',
    );
    if (await waitUntil(1000, () => live().length === 0, 50)) break;
    pids = live();
    // Killed but not gone: stuck in the kernel. A FUSE request is the usual reason; end them all.
    if (!triedAbort && pids.some(hasStuckThread)) {
      triedAbort = true;
      await abortFuseConnections(ctx, opts.fuseConnections, opts.mountpoints);
    }
    if (Date.now() >= deadline) break;
    if (Date.now() - lastReport >= 5000) {
      lastReport = Date.now();
      const left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
      ctx.progress(
        `waiting for ${pids.length} process(es) of node ${name} to exit (${left} s left): ${pids.map(describeProcess).join('; ')}`,
      );
    }
  }
  return live().map(describeProcess);
}
