/**
 * bpffs for the local nodes: `up` mounts it at /sys/fs/bpf when the machine has none (the
 * agent pins bypasses there on request) and remembers that it did; the last `down` unmounts
 * it again. `down` also removes the node's pinned bypass, the one kernel attachment that can
 * outlive an agent, so a downed node leaves nothing attached.
 */

import { existsSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BYPASS_META_ROOT, BYPASS_PIN_ROOT, bypassPinName } from '@dfs/protocol';
import { SERVER_ROOT } from './paths';
import { run, type NodeCtx } from './sys';

const BPFFS = '/sys/fs/bpf';
const BPFFS_MARKER = join(SERVER_ROOT, 'mounted-bpffs');

function bpffsMounted(): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[1] === BPFFS && l.split(' ')[2] === 'bpf');
}

export async function ensureBpffs(ctx: NodeCtx): Promise<void> {
  if (bpffsMounted()) return;
  ctx.progress(`mounting bpffs at ${BPFFS}`);
  await run(ctx, '/usr/bin/mount', ['-t', 'bpf', 'bpf', BPFFS]);
  writeFileSync(BPFFS_MARKER, 'mounted by dfs-ebpf node up; unmounted with the last local node\n', { mode: 0o644 });
}

export async function releaseBpffs(ctx: NodeCtx, otherNodes: readonly string[]): Promise<void> {
  if (!existsSync(BPFFS_MARKER) || otherNodes.length > 0) return;
  if (bpffsMounted()) {
    const res = await run(ctx, '/usr/bin/umount', [BPFFS], { allowFailure: true });
    if (res.code !== 0) ctx.log.warn(`leaving bpffs mounted at ${BPFFS}: ${res.stderr.trim()}`);
  }
  unlinkSync(BPFFS_MARKER);
}

/** Remove a bypass pinned on the node's cgroup (this releases it in the kernel). */
export function removeNodePins(ctx: NodeCtx, cgroupDir: string | undefined): void {
  if (!cgroupDir || !existsSync(cgroupDir)) return;
  const name = bypassPinName(statSync(cgroupDir).ino);
  const dir = join(BYPASS_PIN_ROOT, name);
  if (existsSync(dir)) ctx.progress('removing the pinned bypass');
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(BYPASS_META_ROOT, `${name}.json`), { force: true });
}
