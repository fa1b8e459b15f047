/**
 * Server-side bookkeeping of local nodes: the per-node state.json (the node's index N, which
 * picks its 10.213.N.0/30), allocation of the first free index, and the lock that serializes
 * `up`/`down` of all local nodes on this machine (a file holding the owner's PID; a stale
 * lock whose owner is gone is taken over).
 */

import { closeSync, existsSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { hostAddresses } from './netns';
import { addressesFor, LOCK_FILE, MAX_NODES, type NodePaths, SERVER_NODES_DIR } from './paths';
import { isAlive } from './procs';
import { type NodeCtx, writeIfChanged } from './sys';

export interface ServerState {
  name: string;
  /** Picks the node's /30: 10.213.<index>.0. */
  index: number;
}

export function readServerState(p: NodePaths): ServerState | undefined {
  return readStateFile(p.stateFile);
}

function readStateFile(file: string): ServerState | undefined {
  if (!existsSync(file)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new DfsError(
      ErrorCode.Internal,
      `${file} is not valid JSON (${e instanceof Error ? e.message : String(e)}); run \`dfs-ebpf node down\` for that node and bring it up again`,
    );
  }
  const s = parsed as Partial<ServerState>;
  if (typeof s.name !== 'string' || typeof s.index !== 'number' || !Number.isInteger(s.index)) return undefined;
  return { name: s.name, index: s.index };
}

export function writeServerState(p: NodePaths, s: ServerState): void {
  writeIfChanged(p.stateFile, JSON.stringify(s, null, 2) + '\n', { mode: 0o644, uid: 0, gid: 0 });
}

/** Indices recorded by the other local nodes. */
function usedIndices(except: string): Set<number> {
  const used = new Set<number>();
  if (!existsSync(SERVER_NODES_DIR)) return used;
  for (const name of readdirSync(SERVER_NODES_DIR)) {
    if (name === except) continue;
    const s = readStateFile(join(SERVER_NODES_DIR, name, 'state.json'));
    if (s) used.add(s.index);
  }
  return used;
}

/** The node's recorded index, or the first one free both among local nodes and host addresses. */
export async function ensureIndex(ctx: NodeCtx, p: NodePaths): Promise<number> {
  const existing = readServerState(p);
  if (existing) return existing.index;
  const used = usedIndices(p.name);
  const addrs = new Set(await hostAddresses(ctx));
  for (let i = 0; i < MAX_NODES; i++) {
    if (used.has(i)) continue;
    // Skip a /24 that anything on the host already uses, not only our /30.
    const prefix = addressesFor(i).hostAddr.replace(/\.1$/, '.');
    if ([...addrs].some((x) => x.startsWith(prefix))) continue;
    writeServerState(p, { name: p.name, index: i });
    return i;
  }
  throw new DfsError(
    ErrorCode.Conflict,
    `all ${MAX_NODES} local node addresses (10.213.0-${MAX_NODES - 1}.0/30) are taken; bring a node down with \`dfs-ebpf node down --name NAME\``,
  );
}

/** Other local nodes that still have server-side state. */
export function otherNodes(name: string): string[] {
  if (!existsSync(SERVER_NODES_DIR)) return [];
  return readdirSync(SERVER_NODES_DIR).filter((n) => n !== name);
}

/** How long a node operation waits for another one (e.g. a second `node up`) to finish. */
const LOCK_WAIT_MS = 10 * 60_000;

/**
 * Runs `fn` while holding the machine-wide local-node lock. A live holder is waited for
 * (with progress, up to LOCK_WAIT_MS), so concurrent `node up`s of different nodes queue
 * instead of failing; a dead holder's lock is taken over.
 */
export async function withNodeLock<T>(ctx: NodeCtx, fn: () => Promise<T>): Promise<T> {
  await acquire(ctx);
  try {
    return await fn();
  } finally {
    unlinkSync(LOCK_FILE);
  }
}

async function acquire(ctx: NodeCtx): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  let waitingFor = 0;
  for (;;) {
    try {
      const fd = openSync(LOCK_FILE, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return;
    } catch (e) {
      if (!(e instanceof Error && 'code' in e && e.code === 'EEXIST')) throw e;
    }
    const owner = Number((existsSync(LOCK_FILE) ? readFileSync(LOCK_FILE, 'utf8') : '').trim());
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
      if (Date.now() > deadline) {
        throw new DfsError(
          ErrorCode.Conflict,
          `another local node operation (pid ${owner}) has held ${LOCK_FILE} for over ${LOCK_WAIT_MS / 60_000} minutes; retry when it is done`,
        );
      }
      if (owner !== waitingFor) ctx.progress(`waiting for another local node operation (pid ${owner}) to finish`);
      waitingFor = owner;
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    // An empty file is a holder between create and write: give it a moment before taking over.
    if (!owner) await new Promise((r) => setTimeout(r, 200));
    const again = Number((existsSync(LOCK_FILE) ? readFileSync(LOCK_FILE, 'utf8') : '').trim());
    if (again !== owner) continue;
    ctx.log.warn(`taking over stale lock ${LOCK_FILE} (owner ${owner || 'unknown'} is gone)`);
    if (existsSync(LOCK_FILE)) unlinkSync(LOCK_FILE);
  }
}
