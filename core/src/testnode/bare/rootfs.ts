/**
 * The bare node's root file system: a minimal Debian 12 made by mmdebstrap from the Debian
 * mirror alone, cached machine-wide under /var/cache/dfs-ebpf/rootfs/debian-<suite>-<key>/
 * (key = hash of the recipe, so a changed recipe builds a new cache beside the old one).
 * The cache is the overlay's read-only lower layer of every bare node: nothing ever writes to
 * it once built. It is built into a temporary sibling and renamed into place, with recipe.json
 * written last, so a half-made cache is never used (a leftover temporary one is removed).
 * Callers hold the machine-wide node lock, so two builds never race.
 *
 * The recipe is the packages a fresh server running JuiceFS would have (sshd, sudo, FUSE,
 * Redis) and nothing of ours; the one customization removes the SSH host keys the package
 * generated at build time, so each node generates its own, as a newly installed server does.
 */

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../../errors';
import { ROOTFS_CACHE_DIR } from '../paths';
import { isExecutable, mkdirs, type NodeCtx, removeTree, run } from '../sys';
import { MMDEBSTRAP } from './layout';

export const ROOTFS_RECIPE = {
  suite: 'bookworm',
  variant: 'minbase',
  include: ['openssh-server', 'sudo', 'fuse3', 'redis-server'],
  mirror: 'http://deb.debian.org/debian',
  customize: ['rm -f "$1"/etc/ssh/ssh_host_*'],
} as const;

export interface Rootfs {
  key: string;
  /** The directory used as the overlay's lower layer. */
  root: string;
}

/** The cache key: what changes the content (not the mirror it came from). */
export function rootfsKey(): string {
  const { suite, variant, include, customize } = ROOTFS_RECIPE;
  const text = JSON.stringify({ suite, variant, include: [...include].sort(), customize });
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

export function rootfsFor(key: string): Rootfs {
  const dir = join(ROOTFS_CACHE_DIR, `debian-${ROOTFS_RECIPE.suite}-${key}`);
  return { key, root: join(dir, 'root') };
}

const markerOf = (rootfs: Rootfs): string => join(rootfs.root, '..', 'recipe.json');

export function rootfsReady(rootfs: Rootfs): boolean {
  return existsSync(markerOf(rootfs)) && existsSync(join(rootfs.root, 'etc', 'debian_version'));
}

/** The cached rootfs, built first if missing (about a minute and 213 MB on our machines). */
export async function ensureRootfs(ctx: NodeCtx): Promise<Rootfs> {
  const rootfs = rootfsFor(rootfsKey());
  if (rootfsReady(rootfs)) return rootfs;
  if (!isExecutable(MMDEBSTRAP.path)) {
    throw new DfsError(
      ErrorCode.ToolMissing,
      `building the bare node's Debian root file system needs ${MMDEBSTRAP.path}: install it with \`apt-get install ${MMDEBSTRAP.pkg}\``,
    );
  }
  const dir = join(rootfs.root, '..');
  mkdirs(ROOTFS_CACHE_DIR, 0o755);
  // We hold the node lock: any temporary build is a dead one's.
  const base = `debian-${ROOTFS_RECIPE.suite}-${rootfs.key}`;
  for (const e of readdirSync(ROOTFS_CACHE_DIR)) {
    if (e === base || e.startsWith(`${base}.tmp-`)) removeTree(ctx, join(ROOTFS_CACHE_DIR, e));
  }
  const tmp = join(ROOTFS_CACHE_DIR, `${base}.tmp-${process.pid}`);
  mkdirs(tmp, 0o755);
  const { suite, variant, include, mirror, customize } = ROOTFS_RECIPE;
  ctx.progress(`building the Debian ${suite} root file system for bare nodes (once; about a minute)`);
  const started = Date.now();
  try {
    await run(
      ctx,
      MMDEBSTRAP.path,
      [
        '--mode=root',
        `--variant=${variant}`,
        `--include=${include.join(',')}`,
        ...customize.map((c) => `--customize-hook=${c}`),
        suite,
        join(tmp, 'root'),
        mirror,
      ],
      { timeoutMs: 20 * 60_000 },
    );
  } catch (e) {
    removeTree(ctx, tmp);
    throw new DfsError(
      ErrorCode.ToolMissing,
      `mmdebstrap could not build the bare node's root file system from ${mirror} (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  writeFileSync(join(tmp, 'recipe.json'), JSON.stringify({ ...ROOTFS_RECIPE, key: rootfs.key }, null, 2) + '\n', {
    mode: 0o644,
  });
  renameSync(tmp, dir);
  ctx.log.info(`built ${rootfs.root} in ${Math.round((Date.now() - started) / 1000)} s`);
  return rootfs;
}
