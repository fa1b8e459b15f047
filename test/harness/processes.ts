// Owns spawning and stopping the helper processes of the test harness (code-server and its
// one-shot CLI calls). Invariant: we only ever signal processes we started or their
// descendants, found by PID through /proc (parent links and our own process group), never
// by name. Every wait is bounded.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

interface ProcStat {
  readonly state: string;
  readonly ppid: number;
  readonly pgid: number;
}

/** Reads state, parent and process group from /proc/<pid>/stat; undefined once it is gone. */
function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // the process has exited
  }
  // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '?', ppid: Number(fields[1]), pgid: Number(fields[2]) };
}

function alive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** The root, its live descendants and the live members of its process group (the group
 *  exists only when the root was spawned detached, so its PGID is the root's PID). */
export function processTree(root: number): number[] {
  const stats = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat !== undefined && stat.state !== 'Z') stats.set(Number(name), stat);
  }
  const found = new Set<number>();
  if (stats.has(root)) found.add(root);
  for (const [pid, stat] of stats) if (stat.pgid === root) found.add(pid);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, stat] of stats) {
      if (!found.has(pid) && (found.has(stat.ppid) || stat.ppid === root)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return [...found];
}

function signal(pids: readonly number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGTERM to the tree of `root`, then SIGKILL to whatever is left after `graceMs`. */
export async function stopProcessTree(root: number, graceMs = 5000): Promise<void> {
  signal(processTree(root), 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let left = processTree(root);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = processTree(root).filter(alive);
  }
  if (left.length > 0) {
    signal(left, 'SIGKILL');
    const killDeadline = Date.now() + 2000;
    while (processTree(root).length > 0 && Date.now() < killDeadline) await sleep(50);
  }
}

/** SIGKILL to the tree of `root` at once; for 'exit' handlers, where nothing async runs. */
export function killProcessTreeNow(root: number): void {
  signal(processTree(root), 'SIGKILL');
}

/** Spawns a process in its own process group with piped output. */
export function spawnGroup(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): ChildProcess {
  return spawn(command, args, { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
}

export interface BoundedResult {
  readonly code: number | null;
  readonly output: string;
}

/** Runs a one-shot command to completion, killing its tree if it takes over `timeoutMs`. */
export async function runBounded(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<BoundedResult> {
  const child = spawnGroup(command, args, env);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  try {
    const result = await Promise.race([exited, timedOut]);
    if (result === 'timeout') {
      if (child.pid !== undefined) await stopProcessTree(child.pid, 1000);
      throw new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${output}`);
    }
    return { code: result, output };
  } finally {
    clearTimeout(timer);
  }
}
