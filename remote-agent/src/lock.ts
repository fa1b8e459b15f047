/**
 * The node lock: one bypass mutation at a time on the whole node, across agent processes
 * (`serialize` in manager.ts only orders the requests of one agent, and every connection has
 * its own agent). Attach and detach hold it from their "is there a bypass already?" check to
 * the end of the attach or pin; cleaning a half-made pin directory holds it too, so that no
 * agent takes another's unfinished attach for a dead one.
 *
 * It is flock(2) on a root-owned file in a root-only directory (/run/dfs-ebpf/node.lock), so
 * the node's SSH user cannot take it. A flock belongs to the open file description, and the
 * kernel drops it when the last fd of that description closes: the lock dies with the agent,
 * however the agent dies. Node has no flock(2), so util-linux's flock(1) takes it for us on a
 * duplicate of our fd (`flock FD` locks the description it shares with us, then exits) and we
 * release it by closing our fd. A flock call in the addon would save that process.
 */

import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BYPASS_META_ROOT, ErrorCode } from '@dfs/protocol';
import { AgentError } from './errors';

export const LOCK_FILE = join(BYPASS_META_ROOT, 'node.lock');
/** Root-owned places only: the agent runs as root and must not run a binary others can replace. */
const FLOCK_CANDIDATES = ['/usr/bin/flock', '/bin/flock'];
/** How long attach and detach wait for another agent's mutation before giving up. */
export const LOCK_WAIT_MS = 20_000;

export interface NodeLock {
  /** Drop the lock (closes our fd). Idempotent. */
  release(): void;
}

function flockBinary(): string {
  const found = FLOCK_CANDIDATES.find((p) => existsSync(p));
  if (!found) {
    throw new AgentError(
      ErrorCode.ToolMissing,
      `the agent needs flock(1) (util-linux) at ${FLOCK_CANDIDATES.join(' or ')} to lock the node; install util-linux`,
    );
  }
  return found;
}

/** Run flock(1) on a duplicate of `fd`; resolves true when locked, false when the wait ran out. */
function flockFd(fd: number, waitMs: number): Promise<boolean> {
  const args =
    waitMs > 0 ? ['--exclusive', '--wait', (waitMs / 1000).toFixed(3), '3'] : ['--exclusive', '--nonblock', '3'];
  return new Promise((resolve, reject) => {
    const child = spawn(flockBinary(), args, { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('error', (err) => reject(new AgentError(ErrorCode.Internal, `flock(1) did not start: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(true);
      else if (code === 1)
        resolve(false); // flock's "conflict" exit code: the wait ran out
      else reject(new AgentError(ErrorCode.Internal, `flock(1) failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}

/**
 * Take the node lock, waiting up to `waitMs` (0: do not wait). Resolves null when another agent
 * holds it past the wait. `file` is for tests.
 */
export async function tryLockNode(waitMs: number, file = LOCK_FILE): Promise<NodeLock | null> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const fd = openSync(file, 'a', 0o600); // O_CLOEXEC: no other child inherits it
  let locked = false;
  try {
    locked = await flockFd(fd, waitMs);
  } finally {
    if (!locked) closeSync(fd);
  }
  if (!locked) return null;
  let open = true;
  return {
    release: () => {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

/** Run `fn` holding the node lock; a Conflict when another agent holds it past LOCK_WAIT_MS. */
export async function withNodeLock<T>(what: string, fn: () => T | Promise<T>, waitMs = LOCK_WAIT_MS): Promise<T> {
  const lock = await tryLockNode(waitMs);
  if (!lock) {
    throw new AgentError(
      ErrorCode.Conflict,
      `another agent on this node has been changing the bypass for ${Math.round(waitMs / 1000)} s; ${what} gave up, try again`,
    );
  }
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
