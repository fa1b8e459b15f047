/**
 * The bare test node: a node that looks like a user's fresh Debian 12 server, for testing what
 * we do to a server we do not own (installing the agent over SSH, DESIGN.md §4 "the same code
 * provisions a real remote node"). Unlike a local node (./index.ts) it has no Node.js, no
 * libbpf, no compiler and no file of ours; it is reached as a remote `user@host:port` or an
 * ssh_config alias, never as a local node (its client state is not where readLocalNode looks).
 *
 * What it is, all real unless listed under fakes:
 * - its own root file system: an overlay whose read-only lower layer is a cached mmdebstrap
 *   minbase of Debian 12 with openssh-server, sudo, fuse3 and redis-server (bare/rootfs.ts),
 *   and whose upper layer is the node's own, so each node starts fresh;
 * - its own network namespace and veth (./netns.ts, index from ./state.ts shared with local
 *   nodes) and its own mount namespace, whose root is that overlay (bare/mntns.ts explains the
 *   pivot_root and how processes enter: `nsenter --net --mount`), with /proc, /sys (its own
 *   bpffs, the host's cgroup2 hierarchy, the kernel's BTF), /dev, devpts, tmpfs /run and /tmp;
 * - the admin `jfsadmin` in group sudo, whose sudo asks for a password (generated per node,
 *   root-only in the node's state dir), key login for it, the node's own sshd with Debian's
 *   stock configuration, Redis twice and JuiceFS at /mnt/jfs inside the node (bare/system.ts,
 *   bare/services.ts), every process in the node cgroup (./cgroup.ts) so the bypass can attach.
 * Fakes (each models one condition this machine cannot otherwise produce, for the installer's
 * failure tests): `maskBtf` an empty tmpfs over /sys/kernel/btf ("a kernel without BTF");
 * `arch` a /usr/local/bin/uname that prints that machine for -m ("a node of another
 * architecture"); `installLimitMb` a tmpfs of that size at /usr/local/lib, where the agent
 * installs ("a full disk": writes there end in ENOSPC). What they do not model: the kernel is
 * still this one (BPF still works, and anything reading BTF elsewhere than /sys/kernel/btf finds
 * it), only `uname -m` lies (dpkg, /proc/cpuinfo and every binary still say x86-64), and only
 * /usr/local/lib is full.
 *
 * Lifecycle: bareNodeUp is idempotent (only what is missing or unhealthy is made; a second
 * call writes nothing and restarts nothing); bareNodeDown finds everything from the node's
 * name (bare.json's PIDs, the node cgroup, processes in its mount namespace, the namespace
 * file, netns, state dirs, client dir), removes every part it can and names what it could not
 * (bare/teardown.ts). runInBareNode runs a command inside, as root or as a node user, for tests.
 * All three need root; up and down hold the machine-wide node lock (./state.ts withNodeLock).
 */

import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { type Logger, noProgress, nullLogger, type Progress } from '../log';
import type { ExecResult } from '../util/exec';
import { ensureCgroup, nodeCgroupDir } from './cgroup';
import { readLocalNode } from './clientState';
import { ensureJuicefsBinary } from './juicefsBinary';
import { ensureNetwork } from './netns';
import { addressesFor, BUCKET_URL, META_URL, SERVER_NODES_DIR, SERVER_ROOT, SSH_PORT, validateNodeName } from './paths';
import { ensureIndex, withNodeLock } from './state';
import { ensureDir, type NodeCtx, removeTree, requireRoot } from './sys';
import {
  barePaths,
  type BareState,
  type BareVariants,
  INSIDE,
  readBareState,
  requireBareTools,
  validateVariants,
  writeBareState,
} from './bare/layout';
import {
  createMountNamespace,
  ensureVariantMounts,
  mntnsMounted,
  mountsProblem,
  nodeMounts,
  removeMountNamespace,
  runInNode,
} from './bare/mntns';
import { ensureRootfs, rootfsFor } from './bare/rootfs';
import { ensureJuicefs, ensureRedis, ensureSshd, type ServiceCtx } from './bare/services';
import {
  ensureAdminUser,
  ensureClientKey,
  ensureHostKeys,
  ensureHostsFile,
  ensureJuicefsCopy,
  ensureSecret,
  ensureUnameFake,
  NodeFiles,
  writeClientFiles,
} from './bare/system';
import { removeBareNode, stopNodeProcesses } from './bare/teardown';

export type { BareVariants } from './bare/layout';

export interface BareNodeOptions {
  /** Node name, as validateNodeName; must not be a local node's. */
  name: string;
  log?: Logger;
  progress?: Progress;
  maskBtf?: boolean;
  arch?: string;
  installLimitMb?: number;
}

/** What a test needs to reach and inspect a bare node. */
export interface BareNode {
  name: string;
  /** The node's address on its veth (10.213.N.2), reachable from this machine only. */
  host: string;
  port: number;
  /** The admin user (group sudo; sudo asks for `password`). */
  user: string;
  password: string;
  identityFile: string;
  knownHostsFile: string;
  /** The ssh_config `Host` block for the node (alias: its name), also written to sshConfigFile. */
  sshConfig: string;
  sshConfigFile: string;
  /** The node's root as its processes see it: '/' (its mount namespace was pivoted onto the overlay). */
  rootDir: string;
  /** Host path of the overlay's upper layer: exactly what changed from the fresh Debian (read it, never write). */
  upperDir: string;
  /** The cached Debian root file system under the overlay (host path, read-only). */
  rootfsDir: string;
  /** JuiceFS mountpoint inside the node. */
  mountpoint: string;
  meta: string;
  bucket: string;
  volume: string;
  juicefsVersion: string;
  /** The node cgroup (host path): every process of the node runs in it. */
  cgroup: string;
  netns: string;
  mntnsFile: string;
  variants: BareVariants;
}

const context = (o: { log?: Logger; progress?: Progress }): NodeCtx => ({
  log: o.log ?? nullLogger,
  progress: o.progress ?? noProgress,
});

/** Brings the bare node up, repairing whatever is missing; a second call changes nothing. */
export async function bareNodeUp(opts: BareNodeOptions): Promise<BareNode> {
  const name = validateNodeName(opts.name);
  requireRoot('bringing up a bare test node');
  requireBareTools();
  const variants = validateVariants(opts);
  const ctx = context(opts);
  return withNodeLock(ctx, async () => {
    const bp = barePaths(name);
    const prior = readBareState(bp);
    if (!prior && (existsSync(bp.node.dir) || readLocalNode(name))) {
      throw new DfsError(ErrorCode.Conflict, `${name} is a local test node; pick another name for a bare node`);
    }
    const rootfs = await ensureRootfs(ctx);
    const juicefsBinary = await ensureJuicefsBinary(ctx);
    ensureDir(SERVER_ROOT, 0o755);
    ensureDir(SERVER_NODES_DIR, 0o755);
    ensureDir(bp.node.dir, 0o700);
    ensureDir(bp.logsDir, 0o700);
    const state: BareState = prior ?? { kind: 'bare', name, rootfsKey: rootfs.key, variants, pids: {} };
    state.variants = variants;
    // Written before anything else exists, so that down can always find the node.
    writeBareState(bp, state);
    const a = addressesFor(await ensureIndex(ctx, bp.node));
    const cgroup = ensureCgroup(ctx, name);
    await ensureNetwork(ctx, bp.node, a);

    const problem = mountsProblem(await nodeMounts(ctx, bp, cgroup), bp, rootfsFor(state.rootfsKey).root);
    if (problem) {
      if (mntnsMounted(bp)) {
        ctx.log.warn(`bare node ${name}: ${problem}; restarting it`);
        const left = await stopNodeProcesses(ctx, bp, cgroup, state);
        if (left.length > 0) throw new DfsError(ErrorCode.Internal, `cannot restart ${name}: ${left.join('; ')}`);
        await removeMountNamespace(ctx, bp);
      }
      if (state.rootfsKey !== rootfs.key) {
        // The old upper layer was made over another rootfs: start fresh.
        removeTree(ctx, dirname(bp.upperDir));
        state.rootfsKey = rootfs.key;
        delete state.shadowHash;
      }
      state.pids = {};
      writeBareState(bp, state);
      await createMountNamespace(ctx, bp, rootfs.root);
    }
    await ensureVariantMounts(ctx, bp, cgroup, variants);

    const f = new NodeFiles(ctx, bp, cgroup);
    const password = ensureSecret(bp.passwordFile, 16);
    const redisPassword = ensureSecret(bp.redisPasswordFile, 32);
    await ensureHostsFile(f);
    const hostKeys = await ensureHostKeys(f);
    const clientPub = await ensureClientKey(ctx, bp);
    state.shadowHash = await ensureAdminUser(f, password, clientPub, state);
    writeBareState(bp, state);
    const sshConfig = writeClientFiles(bp, a.nodeAddr, SSH_PORT, hostKeys);
    await ensureUnameFake(f, variants.arch);
    await ensureJuicefsCopy(f, juicefsBinary.path);

    const save = (): void => writeBareState(bp, state);
    const s: ServiceCtx = { ctx, bp, cgroupDir: cgroup, state, host: a.nodeAddr, redisPassword, save };
    let juicefsVersion: string;
    try {
      await ensureSshd(s);
      const metaStarted = await ensureRedis(s, 'redis-meta');
      const objectStarted = await ensureRedis(s, 'redis-object');
      juicefsVersion = await ensureJuicefs(s, metaStarted || objectStarted);
    } finally {
      writeBareState(bp, state);
    }
    ctx.log.info(`bare node ${name} is up: ssh ${INSIDE.user}@${a.nodeAddr}, JuiceFS at ${INSIDE.mountpoint}`);
    return {
      name,
      host: a.nodeAddr,
      port: SSH_PORT,
      user: INSIDE.user,
      password,
      identityFile: bp.client.identityFile,
      knownHostsFile: bp.client.knownHosts,
      sshConfig,
      sshConfigFile: bp.client.sshConfig,
      rootDir: '/',
      upperDir: bp.upperDir,
      rootfsDir: rootfs.root,
      mountpoint: INSIDE.mountpoint,
      meta: META_URL,
      bucket: BUCKET_URL,
      volume: name,
      juicefsVersion,
      cgroup,
      netns: bp.node.netns,
      mntnsFile: bp.mntnsFile,
      variants,
    };
  });
}

/**
 * Removes every trace of the bare node (bare/teardown.ts); quiet when nothing is up. Every part
 * is attempted even when an earlier one fails; the error then lists exactly what is left.
 */
export async function bareNodeDown(opts: { name: string; log?: Logger; progress?: Progress }): Promise<void> {
  const name = validateNodeName(opts.name);
  requireRoot('taking down a bare test node');
  const ctx = context(opts);
  await withNodeLock(ctx, async () => {
    const bp = barePaths(name);
    const prior = readBareState(bp);
    if (!prior && existsSync(bp.node.dir)) {
      throw new DfsError(
        ErrorCode.Conflict,
        `${name} is a local test node, not a bare one; use \`dfs-ebpf node down\``,
      );
    }
    if (mntnsMounted(bp) || existsSync(bp.node.dir)) ctx.progress(`taking bare node ${name} down`);
    const state: BareState = prior ?? { kind: 'bare', name, rootfsKey: '', variants: validateVariants({}), pids: {} };
    const left = await removeBareNode(ctx, bp, state);
    if (left.length > 0) {
      throw new DfsError(
        ErrorCode.Internal,
        `bare node ${name} is only partly down; left behind: ${left.join('; ')}. Run bareNodeDown again once that is resolved`,
      );
    }
  });
}

export interface RunInBareNodeOptions {
  /** A user of the node (e.g. 'jfsadmin'); default root. */
  user?: string;
  /** Written to the command's stdin, then closed. */
  input?: string | Buffer;
  /** Default 60 s; the command is killed after it. */
  timeoutMs?: number;
}

/** Runs `argv` inside the bare node (its namespaces, root and cgroup) and returns its result, failing or not. */
export async function runInBareNode(
  name: string,
  argv: readonly string[],
  opts: RunInBareNodeOptions = {},
): Promise<ExecResult> {
  validateNodeName(name);
  requireRoot('running a command in a bare test node');
  const bp = barePaths(name);
  const cg = nodeCgroupDir(name);
  if (!readBareState(bp) || !mntnsMounted(bp) || !cg || !existsSync(cg)) {
    throw new DfsError(ErrorCode.NodeNotUp, `bare node ${name} is not up`);
  }
  return runInNode(context({}), bp, cg, argv, {
    allowFailure: true,
    timeoutMs: opts.timeoutMs ?? 60_000,
    ...(opts.user !== undefined ? { user: opts.user } : {}),
    ...(opts.input !== undefined ? { input: opts.input } : {}),
  });
}
