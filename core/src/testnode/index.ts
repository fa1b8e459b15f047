/**
 * Public API of the local JuiceFS test node (DESIGN.md §4), used by `dfs-ebpf node up|down|status`
 * and by tests; VS Code–independent. `nodeUp` is idempotent (each part is checked and only
 * what is missing or unhealthy is made), `nodeDown` removes every trace of the node and is a
 * quiet no-op when nothing is up; when something truly cannot be removed it still removes
 * every other part and then fails naming exactly what is left. Both need root and are
 * serialized machine-wide.
 */

import { ensureBpffs, releaseBpffs, removeNodePins } from './bpffs';
import { existsSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { type Logger, noProgress, nullLogger, type Progress } from '../log';
import { checkBundle, defaultAgentBundleDir, ensureAgent, ensureSudoers, removeSudoers } from './agentInstall';
import { ensureCgroup, nodeCgroupDir, removeCgroup } from './cgroup';
import {
  ensureClientKey,
  type LocalNode,
  readLocalNode,
  removeClientState,
  writeKnownHosts,
  writeNodeJson,
} from './clientState';
import { fuseConnection, mountsUnder, recordedFuseConnection, unmountFuse } from './fuse';
import { ensureJuicefsBinary } from './juicefsBinary';
import { ensureNetwork, removeNetwork } from './netns';
import {
  addressesFor,
  BUCKET_URL,
  clientPaths,
  DEFAULT_NODE_NAME,
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

    const redisOwner = await ensureRedisUser(ctx, p);
    const password = ensureRedisPassword(p);
    const metaStarted = await ensureRedis(ctx, p, cgroup, 'redis-meta', redisOwner, password);
    const objectStarted = await ensureRedis(ctx, p, cgroup, 'redis-object', redisOwner, password);
    const juicefsVersion = await ensureJuicefs(ctx, p, cgroup, juicefs, metaStarted || objectStarted, password);

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

/**
 * Removes every trace of the node; quiet and successful when nothing is up. Every part is
 * attempted even when an earlier one fails; the error then lists exactly what is left.
 */
export async function nodeDown(opts: LocalNodeOptions = {}): Promise<void> {
  const name = validateNodeName(opts.name ?? DEFAULT_NODE_NAME);
  requireRoot('dfs-ebpf node down');
  const ctx = context(opts);
  await withNodeLock(ctx, async () => {
    const p = nodePaths(name);
    const left: string[] = [];
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        ctx.log.warn(`node ${name}: ${what}: ${why}`);
        left.push(`${what} (${why})`);
      }
    };
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
    if (left.length > 0) {
      throw new DfsError(
        ErrorCode.Internal,
        `node ${name} is only partly down; left behind: ${left.join('; ')}. Run \`dfs-ebpf node down --name ${name}\` again once that is resolved`,
      );
    }
  });
}

export async function nodeStatus(opts: LocalNodeOptions = {}): Promise<LocalNodeStatus> {
  const name = validateNodeName(opts.name ?? DEFAULT_NODE_NAME);
  const ctx = context(opts);
  const components = await componentStatuses(ctx, nodePaths(name));
  return { up: components.every((c) => c.ok), node: readLocalNode(name), components };
}
