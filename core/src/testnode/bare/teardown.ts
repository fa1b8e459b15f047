/**
 * Taking a bare node down, finding everything from its name alone: JuiceFS is unmounted inside
 * first (while Redis is there to flush to); then every process of the node is stopped — the
 * node cgroup as a whole (../teardown.ts: SIGTERM, cgroup.kill, FUSE abort for a process stuck
 * on the mount), the PIDs recorded in bare.json that are still the node's, and any process whose
 * mount namespace is the node's (found by scanning /proc); then the namespace file is unmounted
 * (the namespace, with its overlay, bpffs and tmpfs mounts, ends with its last process), the
 * netns, the cgroup, the server state (upper layer included, never while a node process
 * survives), /run/dfs-ebpf-mntns when no bare node is left, and the client state.
 */

import { readdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { nodeCgroupDir, removeCgroup } from '../cgroup';
import { mountsUnder } from '../fuse';
import { removeNetwork } from '../netns';
import { SERVER_NODES_DIR, SERVER_ROOT } from '../paths';
import { type NodeCtx, removeEmptyDirs, removeTree, teardownSteps } from '../sys';
import { stopNodeCgroup } from '../teardown';
import { type BarePaths, type BareState, INSIDE } from './layout';
import { mntnsId, nodeMounts, releaseMntnsDir, removeMountNamespace, topMounts } from './mntns';
import { recordedPids, type ServiceCtx, unmountJuicefs } from './services';

/** PIDs of every process whose mount namespace is `id` (a "dev:ino" of mntnsId). */
export function pidsInMntns(id: string | undefined): number[] {
  if (id === undefined) return [];
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = statSync(`/proc/${e}/ns/mnt`);
      if (`${st.dev}:${st.ino}` === id) out.push(Number(e));
    } catch (err) {
      // Exited while we looked, a zombie or a kernel thread: not running in the node.
      if (!(err instanceof Error && 'code' in err)) throw err;
    }
  }
  return out;
}

/** Stops every process of the node (see the header); returns a description of each survivor. */
export async function stopNodeProcesses(
  ctx: NodeCtx,
  bp: BarePaths,
  cgroupDir: string | undefined,
  state: BareState,
): Promise<string[]> {
  const id = mntnsId(bp);
  const s: ServiceCtx | undefined = cgroupDir
    ? { ctx, bp, cgroupDir, state, host: '', redisPassword: '', save: () => undefined }
    : undefined;
  let fuseConnections: number[] = [];
  if (id !== undefined && s) {
    // Known before unmounting: a process stuck on the mount later needs its connection aborted.
    const jfs = topMounts((await nodeMounts(ctx, bp, s.cgroupDir)) ?? []).get(INSIDE.mountpoint);
    if (jfs?.fstype.startsWith('fuse')) fuseConnections = [jfs.dev];
    try {
      await unmountJuicefs(s);
    } catch (e) {
      ctx.log.warn(`bare node ${bp.name}: unmounting JuiceFS: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return stopNodeCgroup(ctx, bp.name, cgroupDir, {
    fuseConnections,
    mountpoints: [INSIDE.mountpoint],
    extraPids: [...(s ? recordedPids(s) : []), ...pidsInMntns(id)],
  });
}

/**
 * Removes every part of the node it can, each attempted even when an earlier one failed.
 * Returns what is left (empty: nothing), each with the reason.
 */
export async function removeBareNode(ctx: NodeCtx, bp: BarePaths, state: BareState): Promise<string[]> {
  const { step, left } = teardownSteps(ctx, `bare node ${bp.name}`);
  const cg = nodeCgroupDir(bp.name);
  const id = mntnsId(bp);
  const survivors = await stopNodeProcesses(ctx, bp, cg, state);
  if (survivors.length > 0) left.push(`processes that survive SIGKILL: ${survivors.join('; ')}`);
  await step(`mount namespace ${bp.mntnsFile}`, async () => {
    await removeMountNamespace(ctx, bp);
    const inside = pidsInMntns(id);
    if (inside.length > 0) throw new Error(`processes ${inside.join(' ')} still hold it`);
  });
  await step(`network namespace ${bp.node.netns}`, () => removeNetwork(ctx, bp.node));
  await step(`cgroup ${cg ?? ''}`, () => removeCgroup(ctx, bp.name));
  await step(`server state ${bp.node.dir}`, () => {
    // The upper layer must not go while the overlay may be live, nor a delete walk into a host mount.
    if (survivors.length > 0) throw new Error('kept while node processes survive');
    const inside = mountsUnder(bp.node.dir);
    if (inside.length > 0) throw new Error(`still mounted inside: ${inside.join(', ')}`);
    removeTree(ctx, bp.node.dir);
    removeEmptyDirs(ctx, [SERVER_NODES_DIR, SERVER_ROOT]);
  });
  await step('/run/dfs-ebpf-mntns', () => releaseMntnsDir(ctx));
  await step('client state', () => {
    removeTree(ctx, bp.client.dir);
    const bareDir = dirname(bp.client.dir);
    removeEmptyDirs(ctx, [bareDir, dirname(bareDir)]);
  });
  return left;
}
