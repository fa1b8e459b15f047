/**
 * Public API of the local JuiceFS test node (DESIGN.md §4), used by `dfs-ebpf node up|down|status`
 * and by tests; VS Code–independent. `nodeUp` is idempotent (each part is checked and only
 * what is missing or unhealthy is made), `nodeDown` removes every trace of the node and is a
 * quiet no-op when nothing is up. Both need root and are serialized machine-wide.
 */

import { ensureBpffs, releaseBpffs, removeNodePins } from './bpffs';
import { existsSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { type Logger, noProgress, nullLogger, type Progress } from '../log';
import { checkBundle, defaultAgentBundleDir, ensureAgent, ensureSudoers, removeSudoers } from './agentInstall';
import { cgroupPids, ensureCgroup, nodeCgroupDir, removeCgroup } from './cgroup';
import {
  ensureClientKey,
  type LocalNode,
  readLocalNode,
  removeClientState,
  writeKnownHosts,
  writeNodeJson,
} from './clientState';
import { ensureJuicefsBinary } from './juicefsBinary';
import { ensureNetwork, removeNetwork } from './netns';
import {
  addressesFor,
  BUCKET_URL,
  clientPaths,
  DEFAULT_NODE_NAME,
  META_URL,
  MOUNT_ROOT,
  nodePaths,
  type NodePaths,
  pidFile,
  SERVER_NODES_DIR,
  SERVER_ROOT,
  type ServiceName,
  SSH_PORT,
  validateNodeName,
} from './paths';
import { ownPid, placementOf, stopPids } from './procs';
import { ensureJuicefs, ensureRedis, unmountJuicefs } from './services';
import { ensureHostKey, ensureSshd, ensureUser, releaseRunSshd, removeUser, writeAuthorizedKeys } from './sshd';
import { ensureIndex, otherNodes, withNodeLock } from './state';
import { type ComponentStatus, componentStatuses } from './status';
import { ensureDir, type NodeCtx, removeEmptyDirs, removeTree, requireRoot, requireTools } from './sys';

export type { LocalNode } from './clientState';
export type { ComponentStatus } from './status';
export { readLocalNode } from './clientState';
export { DEFAULT_NODE_NAME, JUICEFS_VERSION, NODE_NAME_RE, validateNodeName } from './paths';

export interface LocalNodeOptions {
  /** Node name, /^[a-z][a-z0-9]{0,11}$/; default 'dfsnode0'. */
  name?: string;
  log?: Logger;
  progress?: Progress;
  /** Directory with agent.js, dfs_bpf.node, bpf/*.o and manifest.json; default <repo>/dist/agent. */
  agentBundleDir?: string;
}

export interface LocalNodeStatus {
  /** Every component is ok. */
  up: boolean;
  /** The client-side node.json, or null when this user has none. */
  node: LocalNode | null;
  components: ComponentStatus[];
}

function context(opts: LocalNodeOptions): NodeCtx {
  return { log: opts.log ?? nullLogger, progress: opts.progress ?? noProgress };
}

const SERVICES: readonly [ServiceName, RegExp][] = [
  ['sshd', /^sshd/],
  ['redis-meta', /^redis-server/],
  ['redis-object', /^redis-server/],
  ['juicefs', /^juicefs/],
];

/** Brings the node up, repairing whatever is missing; a second call changes nothing. */
export async function nodeUp(opts: LocalNodeOptions = {}): Promise<LocalNode> {
  const name = validateNodeName(opts.name ?? DEFAULT_NODE_NAME);
  requireRoot('dfs-ebpf node up');
  requireTools();
  const ctx = context(opts);
  const bundleDir = opts.agentBundleDir ?? defaultAgentBundleDir();
  checkBundle(bundleDir);
  return withNodeLock(ctx, async () => {
    const p = nodePaths(name);
    const juicefs = await ensureJuicefsBinary(ctx);
    serverSkeleton(p);
    const a = addressesFor(await ensureIndex(ctx, p));
    const cgroup = ensureCgroup(ctx, name);
    await ensureNetwork(ctx, p, a);

    await ensureUser(ctx, p);
    const hostPub = await ensureHostKey(ctx, p);
    writeAuthorizedKeys(p, await ensureClientKey(ctx, name));
    writeKnownHosts(name, a.nodeAddr, SSH_PORT, hostPub);
    await ensureSshd(ctx, p, a, cgroup);

    await ensureBpffs(ctx);
    const agentVersion = ensureAgent(ctx, p, bundleDir);
    await ensureSudoers(ctx, p);

    const metaStarted = await ensureRedis(ctx, p, cgroup, 'redis-meta');
    const objectStarted = await ensureRedis(ctx, p, cgroup, 'redis-object');
    const juicefsVersion = await ensureJuicefs(ctx, p, cgroup, juicefs, metaStarted || objectStarted);

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
      meta: META_URL,
      bucket: BUCKET_URL,
      volume: name,
      juicefsVersion,
      cgroup,
      agentVersion,
    };
    writeNodeJson(node);
    ctx.log.info(`local node ${name} is up: ssh ${p.user}@${a.nodeAddr}, JuiceFS ${juicefsVersion} at ${p.mountpoint}`);
    return node;
  });
}

/** The root-owned server-side layout; the ssh user can read what sshd needs and write nothing. */
function serverSkeleton(p: NodePaths): void {
  ensureDir(SERVER_ROOT, 0o755);
  ensureDir(SERVER_NODES_DIR, 0o755);
  ensureDir(p.dir, 0o755);
  ensureDir(p.logsDir, 0o700);
  ensureDir(p.runDir, 0o755);
}

/** Removes every trace of the node; quiet and successful when nothing is up. */
export async function nodeDown(opts: LocalNodeOptions = {}): Promise<void> {
  const name = validateNodeName(opts.name ?? DEFAULT_NODE_NAME);
  requireRoot('dfs-ebpf node down');
  const ctx = context(opts);
  await withNodeLock(ctx, async () => {
    const p = nodePaths(name);
    // Unmount first, while Redis is still there for JuiceFS to flush to.
    await unmountJuicefs(ctx, p);
    await stopNodeProcesses(ctx, p);
    removeNodePins(ctx, nodeCgroupDir(p.name));
    await removeNetwork(ctx, p);
    await removeCgroup(ctx, name);
    removeSudoers(ctx, p);
    await removeUser(ctx, p);
    removeTree(ctx, p.dir);
    releaseRunSshd(ctx, otherNodes(name));
    await releaseBpffs(ctx, otherNodes(name));
    removeEmptyDirs(ctx, [SERVER_NODES_DIR, SERVER_ROOT]);
    if (existsSync(p.mountpoint)) removeEmptyDirs(ctx, [p.mountpoint, MOUNT_ROOT]);
    else removeEmptyDirs(ctx, [MOUNT_ROOT]);
    removeClientState(ctx, name);
  });
}

/**
 * Stops the node's services (the PIDs in its pid files that are still ours) and then every
 * process left in its cgroup (ssh sessions, agents): everything in there was started for
 * the node. A PID from a pid file that is outside the cgroup is not ours (reuse) and is spared.
 */
async function stopNodeProcesses(ctx: NodeCtx, p: NodePaths): Promise<void> {
  const fromPidFiles = SERVICES.flatMap(([svc, comm]) => ownPid(placementOf(p, pidFile(p, svc), comm)));
  const cg = nodeCgroupDir(p.name);
  const inCgroup = cg ? cgroupPids(cg) : [];
  if (fromPidFiles.length + inCgroup.length > 0) ctx.progress('stopping node processes');
  let left = await stopPids(ctx, [...fromPidFiles, ...inCgroup]);
  // Processes may fork while we stop them (sshd sessions): sweep the cgroup until it is empty.
  for (let round = 0; round < 5 && cg && cgroupPids(cg).length > 0; round++) left = await stopPids(ctx, cgroupPids(cg));
  const stuck = [...new Set([...left, ...(cg ? cgroupPids(cg) : [])])];
  if (stuck.length > 0) {
    throw new DfsError(
      ErrorCode.Internal,
      `processes ${stuck.join(' ')} of node ${p.name} survive SIGKILL; check them with ps and retry node down`,
    );
  }
}

export async function nodeStatus(opts: LocalNodeOptions = {}): Promise<LocalNodeStatus> {
  const name = validateNodeName(opts.name ?? DEFAULT_NODE_NAME);
  const ctx = context(opts);
  const components = await componentStatuses(ctx, nodePaths(name));
  return { up: components.every((c) => c.ok), node: readLocalNode(name), components };
}
