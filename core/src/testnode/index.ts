/**
 * Public API of the local JuiceFS test node (DESIGN.md §4), used by `dfs-ebpf node up|down|status`
 * and by tests; VS Code–independent. `nodeUp` is idempotent (each part is checked and only
 * what is missing or unhealthy is made), `nodeDown` removes every trace of the node and is a
 * quiet no-op when nothing is up; when something truly cannot be removed it still removes
 * every other part and then fails naming exactly what is left. Both need root and are
 * serialized machine-wide. Fleets (fleet.ts): `fleetUp` brings up several nodes that mount
 * node 0's volume; `nodesDownAll` / `nodesStatusAll` take every local node (or one fleet).
 */

import { ensureBpffs, releaseBpffs, removeNodePins } from './bpffs';
import { existsSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { type Logger, noProgress, nullLogger, type Progress } from '../log';
import { checkBundle, defaultAgentBundleDir, ensureAgent, ensureSudoers, removeSudoers } from './agentInstall';
import { ensureCgroup, nodeCgroupDir, removeCgroup } from './cgroup';
import {
  clientNodeNames,
  ensureClientKey,
  type LocalNode,
  readLocalNode,
  removeClientState,
  writeKnownHosts,
  writeNodeJson,
} from './clientState';
import { fuseConnection, mountsUnder, recordedFuseConnection, unmountFuse } from './fuse';
import { barePaths } from './bare/layout';
import {
  ensureFleetGroup,
  ensureFleetPassword,
  ensureMemberJuicefs,
  leaveFleet,
  nodeRecords,
  placeInFleet,
  recordedFleet,
  refuseNode0WithMembers,
} from './fleet';
import { fleetConflicts, fleetMembers, fleetNodeNames, type NodeRecord, selectAll } from './fleetPlan';
import { ensureJuicefsBinary } from './juicefsBinary';
import { ensureNetwork, removeNetwork } from './netns';
import {
  addressesFor,
  BUCKET_URL,
  clientPaths,
  DEFAULT_FLEET_PREFIX,
  DEFAULT_NODE_NAME,
  fleetBucketUrl,
  fleetMetaUrl,
  fuseRecordFile,
  META_URL,
  MOUNT_ROOT,
  nodePaths,
  type NodePaths,
  SERVER_NODES_DIR,
  SERVER_ROOT,
  SSH_PORT,
  validateNodeName,
} from './paths';
import { ensureRedis, ensureRedisPassword, ensureRedisUser, removeRedisUser } from './redis';
import { ensureJuicefs } from './services';
import { ensureHostKey, ensureSshd, ensureUser, releaseRunSshd, removeUser, writeAuthorizedKeys } from './sshd';
import { ensureIndex, otherNodes, withNodeLock } from './state';
import { type ComponentStatus, componentStatuses } from './status';
import { stopNodeCgroup } from './teardown';
import { ensureDir, type NodeCtx, removeEmptyDirs, removeTree, requireRoot, requireTools, teardownSteps } from './sys';

export type { LocalNode, LocalNodeFleet } from './clientState';
export type { ComponentStatus } from './status';
export { readLocalNode } from './clientState';
export {
  DEFAULT_FLEET_PREFIX,
  DEFAULT_NODE_NAME,
  JUICEFS_VERSION,
  MAX_FLEET_SIZE,
  NODE_NAME_RE,
  validateNodeName,
} from './paths';
export { validateFleetPrefix, validateFleetSize } from './fleetPlan';

export interface LocalNodeOptions {
  /** Node name, /^[a-z][a-z0-9]{0,11}$/; default 'dfsnode0'. */
  name?: string;
  log?: Logger;
  progress?: Progress;
  /** Directory with agent.js, dfs_bpf.node, bpf/*.o and manifest.json; default <repo>/dist/agent. */
  agentBundleDir?: string;
}

/** `node up --count`: a fleet of `count` nodes named `<prefix>0` … (fleet.ts). */
export interface FleetOptions extends Omit<LocalNodeOptions, 'name'> {
  /** /^[a-z][a-z0-9]{0,10}$/; default 'dfsnode' (nodes dfsnode0 …). */
  prefix?: string;
  /** 2 … 8. */
  count: number;
}

/** `--all`: every local node, or with `prefix` only the fleet whose node 0 is `<prefix>0`. */
export interface AllNodesOptions {
  prefix?: string;
  log?: Logger;
  progress?: Progress;
}

export interface LocalNodeStatus {
  name: string;
  /** Every component is ok. */
  up: boolean;
  /** The client-side node.json, or null when this user has none. */
  node: LocalNode | null;
  components: ComponentStatus[];
}

function context(opts: LocalNodeOptions): NodeCtx {
  return { log: opts.log ?? nullLogger, progress: opts.progress ?? noProgress };
}

/** Brings the node up, repairing whatever is missing; a second call changes nothing. */
export async function nodeUp(opts: LocalNodeOptions = {}): Promise<LocalNode> {
  const name = validateNodeName(opts.name ?? DEFAULT_NODE_NAME);
  requireRoot('dfs-ebpf node up');
  requireTools();
  const ctx = context(opts);
  const bundleDir = opts.agentBundleDir ?? defaultAgentBundleDir();
  checkBundle(bundleDir);
  // A fleet node is repaired as what its record says it is (fleet.ts).
  return withNodeLock(ctx, () => upNode(ctx, name, bundleDir, recordedFleet(name)));
}

/**
 * Brings up fleet `<prefix>0` … `<prefix><count-1>` (fleet.ts), node 0 first, under one hold
 * of the lock; a second call changes nothing. Nodes already up are only checked. A node that
 * belongs elsewhere (a standalone node as a member, another fleet's node) stops it before
 * anything is touched.
 */
export async function fleetUp(opts: FleetOptions): Promise<LocalNode[]> {
  const names = fleetNodeNames(opts.prefix ?? DEFAULT_FLEET_PREFIX, opts.count);
  requireRoot('dfs-ebpf node up --count');
  requireTools();
  const ctx = context(opts);
  const bundleDir = opts.agentBundleDir ?? defaultAgentBundleDir();
  checkBundle(bundleDir);
  return withNodeLock(ctx, async () => {
    const records = nodeRecords();
    const conflicts = [
      ...fleetConflicts(names, records),
      ...names.filter((n) => existsSync(barePaths(n).stateFile)).map((n) => `${n} is a bare node`),
    ];
    if (conflicts.length > 0) {
      throw new DfsError(
        ErrorCode.Conflict,
        `cannot bring up the fleet ${names.join(', ')}: ${conflicts.join('; ')}; bring those nodes down first or pick another --name`,
      );
    }
    const node0 = names[0] ?? '';
    const extra = fleetMembers(node0, records).filter((n) => !names.includes(n));
    if (extra.length > 0) ctx.log.warn(`${extra.join(', ')} also belong to ${node0}'s fleet and stay up`);
    const nodes: LocalNode[] = [];
    for (const name of names) {
      ctx.log.info(`fleet ${node0}: node ${name}`);
      nodes.push(await upNode(ctx, name, bundleDir, node0));
    }
    return nodes;
  });
}

/** One node, under the lock; `fleetNode0` places it in that node's fleet (itself: as node 0). */
async function upNode(
  ctx: NodeCtx,
  name: string,
  bundleDir: string,
  fleetNode0: string | undefined,
): Promise<LocalNode> {
  const p = nodePaths(name);
  const juicefs = await ensureJuicefsBinary(ctx);
  serverSkeleton(p);
  const a = addressesFor(await ensureIndex(ctx, p));
  const cgroup = ensureCgroup(ctx, name);
  await ensureNetwork(ctx, p, a);
  const fleet = fleetNode0 === undefined ? undefined : await placeInFleet(ctx, p, a.index, fleetNode0);

  await ensureUser(ctx, p);
  if (fleet?.role === 'member') await ensureFleetGroup(ctx, p, fleet.node0);
  const hostPub = await ensureHostKey(ctx, p);
  writeAuthorizedKeys(p, await ensureClientKey(ctx, name));
  writeKnownHosts(name, a.nodeAddr, SSH_PORT, hostPub);
  await ensureSshd(ctx, p, a, cgroup);

  await ensureBpffs(ctx);
  const agentVersion = ensureAgent(ctx, p, bundleDir);
  await ensureSudoers(ctx, p);

  let juicefsVersion: string;
  if (fleet?.role === 'member') {
    // No Redis of its own: node 0's pair, over the fleet network.
    const password = ensureFleetPassword(p, fleet.node0);
    juicefsVersion = await ensureMemberJuicefs(ctx, p, cgroup, juicefs, fleet, password);
  } else {
    const redisOwner = await ensureRedisUser(ctx, p);
    const password = ensureRedisPassword(p);
    const bind = fleet?.address;
    const metaStarted = await ensureRedis(ctx, p, cgroup, 'redis-meta', redisOwner, password, bind);
    const objectStarted = await ensureRedis(ctx, p, cgroup, 'redis-object', redisOwner, password, bind);
    const dataLost = metaStarted || objectStarted;
    juicefsVersion = await ensureJuicefs(ctx, p, cgroup, juicefs, dataLost, password, fleet ? 0o770 : 0o750);
  }

  const cp = clientPaths(name);
  const node: LocalNode = {
    name,
    user: p.user,
    host: a.nodeAddr,
    port: SSH_PORT,
    identityFile: cp.identityFile,
    knownHostsFile: cp.knownHosts,
    agentCommand: p.agentWrapper,
    mountpoint: p.mountpoint,
    meta: fleet?.role === 'member' ? fleetMetaUrl(fleet.node0Address) : META_URL,
    bucket: fleet?.role === 'member' ? fleetBucketUrl(fleet.node0Address) : BUCKET_URL,
    volume: fleet?.node0 ?? name,
    juicefsVersion,
    cgroup,
    agentVersion,
    ...(fleet ? { fleet: { role: fleet.role, node0: fleet.node0, address: fleet.address } } : {}),
  };
  writeNodeJson(node);
  ctx.log.info(`local node ${name} is up: ssh ${p.user}@${a.nodeAddr}, JuiceFS ${juicefsVersion} at ${p.mountpoint}`);
  return node;
}

/** The root-owned server-side layout; the ssh user can read what sshd needs and write nothing. */
function serverSkeleton(p: NodePaths): void {
  ensureDir(SERVER_ROOT, 0o755);
  ensureDir(SERVER_NODES_DIR, 0o755);
  ensureDir(p.dir, 0o755);
  ensureDir(p.logsDir, 0o700);
  ensureDir(p.runDir, 0o755);
}

/**
 * Removes every trace of the node; quiet and successful when nothing is up. Every part is
 * attempted even when an earlier one fails; the error then lists exactly what is left.
 */
export async function nodeDown(opts: LocalNodeOptions = {}): Promise<void> {
  const name = validateNodeName(opts.name ?? DEFAULT_NODE_NAME);
  requireRoot('dfs-ebpf node down');
  const ctx = context(opts);
  await withNodeLock(ctx, () => downNode(ctx, name));
}

/** What `node down --all` did to one node: nothing to say, or why it is not (entirely) down. */
export interface NodeDownResult {
  name: string;
  error?: string;
}

/**
 * `node down --all`: every local node (with `prefix`, only the fleet whose node 0 is
 * `<prefix>0`), fleet members before node 0s, under one hold of the lock. A node that fails
 * does not stop the others; its error is in its result.
 */
export async function nodesDownAll(opts: AllNodesOptions = {}): Promise<NodeDownResult[]> {
  requireRoot('dfs-ebpf node down --all');
  const ctx = context(opts);
  return withNodeLock(ctx, async () => {
    const out: NodeDownResult[] = [];
    for (const name of selectAll(allNodeRecords(), opts.prefix)) {
      try {
        await downNode(ctx, name);
        out.push({ name });
      } catch (e) {
        out.push({ name, error: e instanceof Error ? e.message : String(e) });
      }
    }
    return out;
  });
}

/** `node status --all`: each selected node's status, as nodeStatus gives it, in `--all` order. */
export async function nodesStatusAll(opts: AllNodesOptions = {}): Promise<LocalNodeStatus[]> {
  const out: LocalNodeStatus[] = [];
  for (const name of selectAll(allNodeRecords(), opts.prefix)) out.push(await nodeStatus({ ...opts, name }));
  return out;
}

/** Server-side records, plus nodes only this client still remembers (node.json, its fleet if any). */
function allNodeRecords(): NodeRecord[] {
  const records = nodeRecords();
  for (const name of clientNodeNames()) {
    if (records.some((r) => r.name === name)) continue;
    let node0: string | undefined;
    try {
      node0 = readLocalNode(name)?.fleet?.node0;
    } catch (e) {
      // An unreadable node.json still names a node that down must clean up.
      if (!(e instanceof DfsError)) throw e;
    }
    records.push({ name, ...(node0 ? { fleetNode0: node0 } : {}) });
  }
  return records;
}

/** One node, under the lock (see nodeDown). */
async function downNode(ctx: NodeCtx, name: string): Promise<void> {
  refuseNode0WithMembers(name);
  const fleetNode0 = recordedFleet(name);
  const p = nodePaths(name);
  const { step, left } = teardownSteps(ctx, `node ${name}`);
  // Known before unmounting: a process stuck on a mount later needs its connection aborted.
  const mounts = [p.unixMountpoint, p.mountpoint];
  const connections = [
    ...mounts.map(fuseConnection),
    recordedFuseConnection(fuseRecordFile(p, 'juicefs')),
    recordedFuseConnection(fuseRecordFile(p, 'juicefs-unix')),
  ].filter((c, i, all): c is number => c !== undefined && all.indexOf(c) === i);
  // Unmount first, while Redis is still there for JuiceFS to flush to.
  for (const mp of mounts) {
    await step(`mount ${mp}`, async () => {
      if (fuseConnection(mp) !== undefined) ctx.progress(`unmounting ${mp}`);
      await unmountFuse(ctx, mp);
    });
  }
  const cg = nodeCgroupDir(p.name);
  const survivors = await stopNodeCgroup(ctx, name, cg, { fuseConnections: connections, mountpoints: mounts });
  if (survivors.length > 0) left.push(`processes that survive SIGKILL: ${survivors.join('; ')}`);
  await step('the pinned bypass', () => removeNodePins(ctx, cg));
  await step(`network namespace ${p.netns}`, () => removeNetwork(ctx, p));
  await step(`cgroup ${cg ?? ''}`, () => removeCgroup(ctx, name));
  await step(`sudo rule ${p.sudoersFile}`, () => removeSudoers(ctx, p));
  await step(`user ${p.user}`, () => removeUser(ctx, p));
  await step(`user ${p.redisUser}`, () => removeRedisUser(ctx, p));
  await step(`server state ${p.dir}`, () => {
    // A recursive delete must never walk into a live mount.
    const inside = mountsUnder(p.dir);
    if (inside.length > 0) throw new Error(`still mounted inside: ${inside.join(', ')}`);
    removeTree(ctx, p.dir);
  });
  await step('/run/sshd', () => releaseRunSshd(ctx, otherNodes(name)));
  await step('bpffs', () => releaseBpffs(ctx, otherNodes(name)));
  await step('mountpoints', () => {
    removeEmptyDirs(ctx, [SERVER_NODES_DIR, SERVER_ROOT]);
    for (const mp of mounts) if (existsSync(mp)) removeEmptyDirs(ctx, [mp]);
    removeEmptyDirs(ctx, [MOUNT_ROOT]);
    const stayed = mounts.filter((mp) => existsSync(mp));
    if (stayed.length > 0) throw new Error(`${stayed.join(', ')} not empty`);
  });
  await step('client state', () => removeClientState(ctx, name));
  if (fleetNode0 !== undefined) await step('the fleet network', () => leaveFleet(ctx, fleetNode0));
  if (left.length > 0) {
    throw new DfsError(
      ErrorCode.Internal,
      `node ${name} is only partly down; left behind: ${left.join('; ')}. Run \`dfs-ebpf node down --name ${name}\` again once that is resolved`,
    );
  }
}

export async function nodeStatus(opts: LocalNodeOptions = {}): Promise<LocalNodeStatus> {
  const name = validateNodeName(opts.name ?? DEFAULT_NODE_NAME);
  const ctx = context(opts);
  const components = await componentStatuses(ctx, nodePaths(name));
  return { name, up: components.every((c) => c.ok), node: readLocalNode(name), components };
}
