/**
 * Server-side bookkeeping of local nodes: the per-node state.json (the node's index N, which
 * picks its 10.213.N.0/30 and its fleet address; for a fleet node, the fleet's node 0), the
 * list of local nodes, allocation of the first free index, and the lock that serializes
 * `up`/`down` of all local nodes on this machine (a file holding the owner's PID; a stale
 * lock whose owner is gone is taken over).
 */

import { closeSync, existsSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { barePaths } from './bare/layout';
import { hostAddresses } from './netns';
import { addressesFor, LOCK_FILE, MAX_NODES, NODE_NAME_RE, nodePaths, type NodePaths, SERVER_NODES_DIR } from './paths';
import { isAlive } from './procs';
import { type NodeCtx, sleep, writeIfChanged } from './sys';

export interface ServerState {
  name: string;
  /** Picks the node's /30: 10.213.<index>.0 (and its fleet address, paths.ts fleetAddress). */
  index: number;
  /** Set while the node belongs to a fleet (fleet.ts): the fleet's node 0 (itself when it is node 0). */
  fleet?: { node0: string };
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
  const node0 = s.fleet?.node0;
  return {
    name: s.name,
    index: s.index,
    ...(typeof node0 === 'string' && NODE_NAME_RE.test(node0) ? { fleet: { node0 } } : {}),
  };
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

/** Records (or, with undefined, forgets) the node's fleet; the node must have its index already. */
export function recordFleet(p: NodePaths, node0: string | undefined): void {
  const s = readServerState(p);
  if (!s) throw new DfsError(ErrorCode.Internal, `${p.stateFile} is missing; run node down and up`);
  const { fleet: _old, ...rest } = s;
  writeServerState(p, node0 === undefined ? rest : { ...rest, fleet: { node0 } });
}

/**
 * Local nodes with server-side state, each with its recorded state (undefined when a node was
 * left before its index was written). Bare nodes (bare.ts) share the directory but are no local
 * nodes: their bare.json (bare/layout.ts) keeps them out.
 */
export function localNodeRecords(): { name: string; state: ServerState | undefined }[] {
  if (!existsSync(SERVER_NODES_DIR)) return [];
  return readdirSync(SERVER_NODES_DIR)
    .filter((name) => NODE_NAME_RE.test(name) && !existsSync(barePaths(name).stateFile))
    .sort()
    .map((name) => ({ name, state: readServerState(nodePaths(name)) }));
}

/** Other local nodes that still have server-side state. */
export function otherNodes(name: string): string[] {
  if (!existsSync(SERVER_NODES_DIR)) return [];
  return readdirSync(SERVER_NODES_DIR).filter((n) => n !== name);
}

/**
 * Runs `fn` while holding the machine-wide local-node lock. Another operation holding it
 * (another node coming up or going down) is waited for, up to `waitMs`.
 */
export async function withNodeLock<T>(ctx: NodeCtx, fn: () => Promise<T>, waitMs = 300_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  let told = false;
  for (;;) {
    try {
      acquire(ctx);
      break;
    } catch (e) {
      if (!(e instanceof DfsError && e.code === ErrorCode.Conflict) || Date.now() >= deadline) throw e;
      if (!told) ctx.progress(`waiting for another local node operation: ${e.message}`);
      told = true;
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    unlinkSync(LOCK_FILE);
  }
}

function acquire(ctx: NodeCtx): void {
  for (let attempt = 0; attempt < 2; attempt++) {
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
      throw new DfsError(
        ErrorCode.Conflict,
        `another local node operation is running (pid ${owner}); wait for it to finish and retry`,
      );
    }
    ctx.log.warn(`taking over stale lock ${LOCK_FILE} (owner ${owner || 'unknown'} is gone)`);
    if (existsSync(LOCK_FILE)) unlinkSync(LOCK_FILE);
  }
  throw new DfsError(ErrorCode.Conflict, `cannot take ${LOCK_FILE}; remove it if no dfs-ebpf node command is running`);
}
