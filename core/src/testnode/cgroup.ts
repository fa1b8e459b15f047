/**
 * The node's cgroup v2 directory, <cgroup2 mount>/dfs-ebpf/<name>. Every service of the
 * node runs in it, because the BPF bypass (sock_ops attached to this cgroup) only sees
 * sockets created inside it. Owns: finding the cgroup2 mount, creating the directory,
 * listing its processes, and removing it (with the dfs-ebpf parent when that is empty).
 */

import { existsSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { CGROUP_PARENT } from './paths';
import { mkdirs, type NodeCtx, waitUntil } from './sys';

/** The first cgroup2 mount in /proc/mounts (/sys/fs/cgroup on pure v2, .../unified on hybrid hosts). */
export function cgroup2Mount(): string | undefined {
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2' && f[1]) return unescapeMountField(f[1]);
  }
  return undefined;
}

/** /proc/mounts and mountinfo escape space, tab, newline and backslash as \ooo. */
export function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export function requireCgroup2Mount(): string {
  const m = cgroup2Mount();
  if (!m) {
    throw new DfsError(
      ErrorCode.KernelFeatureMissing,
      'no cgroup2 filesystem is mounted: mount one (mount -t cgroup2 none /sys/fs/cgroup/unified) and retry',
    );
  }
  return m;
}

export function nodeCgroupDir(name: string): string | undefined {
  const m = cgroup2Mount();
  return m ? join(m, CGROUP_PARENT, name) : undefined;
}

export function ensureCgroup(ctx: NodeCtx, name: string): string {
  const dir = join(requireCgroup2Mount(), CGROUP_PARENT, name);
  if (!existsSync(join(dir, 'cgroup.procs'))) {
    ctx.progress('creating cgroup');
    mkdirs(dir, 0o755);
  }
  return dir;
}

export function cgroupPids(dir: string): number[] {
  const procs = join(dir, 'cgroup.procs');
  if (!existsSync(procs)) return [];
  return readFileSync(procs, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** The cgroup v2 path of a process relative to the cgroup2 mount ("/dfs-ebpf/x"), if readable. */
export function processCgroup(pid: number): string | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    const line = text.split('\n').find((l) => l.startsWith('0::'));
    return line?.slice(3);
  } catch (e) {
    // The process is gone (ENOENT/ESRCH): it is in no cgroup.
    if (e instanceof Error && 'code' in e) return undefined;
    throw e;
  }
}

export function inNodeCgroup(pid: number, name: string): boolean {
  return processCgroup(pid) === `/${CGROUP_PARENT}/${name}`;
}

/** rmdir the node cgroup (bounded wait for exiting tasks to leave) and the parent if empty. */
export async function removeCgroup(ctx: NodeCtx, name: string): Promise<void> {
  const mount = cgroup2Mount();
  if (!mount) return;
  const parent = join(mount, CGROUP_PARENT);
  const dir = join(parent, name);
  if (existsSync(dir)) {
    let lastError = '';
    const gone = await waitUntil(5000, () => {
      try {
        rmdirSync(dir);
        return true;
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
        return false;
      }
    });
    if (!gone) {
      throw new DfsError(
        ErrorCode.Internal,
        `cannot remove cgroup ${dir} (${lastError}); check \`cat ${dir}/cgroup.procs\` and retry node down`,
      );
    }
    ctx.log.debug(`removed cgroup ${dir}`);
  }
  if (existsSync(parent)) {
    try {
      rmdirSync(parent);
    } catch (e) {
      // Another local node still has its cgroup under the parent: keep it.
      ctx.log.debug(`keeping ${parent}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
