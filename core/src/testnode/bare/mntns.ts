/**
 * The bare node's mount namespace, and how anything gets into the node.
 *
 * The namespace is made once by `unshare --mount=<file>` (persisted as a bind mount of its nsfs
 * file on /run/dfs-ebpf-mntns/<name>, a private bind mount of itself as `ip netns` does for
 * /run/netns), run inside the node's netns so its sysfs shows the node's interfaces. A host
 * shell in it mounts the overlay (lower: the cached rootfs, read-only; upper/work: the node's
 * own, so every node starts fresh and the cache is never written) and what a real server has
 * mounted (/proc, /sys with cgroup2, its own bpffs and BTF, /dev on tmpfs with the basic nodes,
 * devpts, /dev/shm, tmpfs /run and /tmp), then `pivot_root . .` and detaches the old root.
 * So the namespace's root IS the node's root: `setns` into it lands there, every entry is a
 * plain `nsenter --net=<netns> --mount=<mntns> -- argv` (no chroot to escape or forget), the
 * node's /proc/self/mountinfo is a server's, and no host mount (nor other nodes' netns files or
 * FUSE mounts) is kept alive by a copy in this namespace beyond the instant of setup (a setup
 * that fails is unmounted at once for that reason). The last step, `umount -l .`, already runs
 * the node's own umount. chroot was the alternative: every entry would need it, and the
 * namespace would keep a copy of every host mount for as long as the node lives.
 *
 * Every process we start inside joins the node cgroup first (a host-side wrapper writes its own
 * PID to cgroup.procs, then execs nsenter), so `down` finds it there, and the bypass sees its
 * sockets. The variants' fakes are mounts made here too (ensureVariantMounts).
 */

import { existsSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../../errors';
import { requireCgroup2Mount, unescapeMountField } from '../cgroup';
import { MNTNS_DIR } from '../paths';
import { type ExecOptions, type ExecResult } from '../../util/exec';
import { mkdirs, type NodeCtx, removeEmptyDirs, run } from '../sys';
import { BARE_TOOLS, type BarePaths, type BareVariants, INSIDE } from './layout';

/** $1 = cgroup.procs; the rest is the command (nsenter …). */
const CGROUP_WRAPPER = 'echo $$ > "$1" || exit 125; shift; exec "$@"';

/**
 * Run by a host /bin/sh in the new namespace: $1 merge dir, $2 lower, $3 upper, $4 work, $5 the
 * host's cgroup2 mount. cgroup2 is bind-mounted, never mounted anew: a new cgroup2 mount from
 * the initial cgroup namespace resets the hierarchy's global flags (nsdelegate, …) to its own
 * options, which would change the host.
 */
const SETUP_SCRIPT = `set -eu
root=$1
mount -t overlay -o "lowerdir=$2,upperdir=$3,workdir=$4" overlay "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o nosuid,nodev,noexec sysfs "$root/sys"
mount --bind "$5" "$root/sys/fs/cgroup"
mount -t bpf -o nosuid,nodev,noexec,mode=700 bpf "$root/sys/fs/bpf"
mount -t tmpfs -o nosuid,noexec,mode=755,size=1m tmpfs "$root/dev"
d=$root/dev
mknod -m 666 "$d/null" c 1 3; mknod -m 666 "$d/zero" c 1 5; mknod -m 666 "$d/full" c 1 7
mknod -m 666 "$d/random" c 1 8; mknod -m 666 "$d/urandom" c 1 9; mknod -m 666 "$d/tty" c 5 0
mknod -m 666 "$d/fuse" c 10 229
ln -s /proc/self/fd "$d/fd"; ln -s /proc/self/fd/0 "$d/stdin"
ln -s /proc/self/fd/1 "$d/stdout"; ln -s /proc/self/fd/2 "$d/stderr"
mkdir -m 755 "$d/pts"; mkdir -m 1777 "$d/shm"
mount -t devpts -o newinstance,nosuid,noexec,gid=5,mode=620,ptmxmode=666 devpts "$d/pts"
ln -s pts/ptmx "$d/ptmx"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$d/shm"
mount -t tmpfs -o nosuid,nodev,mode=755,size=64m tmpfs "$root/run"
mkdir -m 755 "$root/run/sshd"
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$root/tmp"
cd "$root"
pivot_root . .
umount -l .
`;

/** What a healthy namespace has mounted (mountpoint → fstype), besides the overlay root. */
const BASE_MOUNTS: Record<string, string> = {
  '/proc': 'proc',
  '/sys': 'sysfs',
  '/sys/fs/cgroup': 'cgroup2',
  '/sys/fs/bpf': 'bpf',
  '/dev': 'tmpfs',
  '/dev/pts': 'devpts',
  '/dev/shm': 'tmpfs',
  '/run': 'tmpfs',
  '/tmp': 'tmpfs',
};

export interface NodeMount {
  mountpoint: string;
  fstype: string;
  /** The kernel's dev_t of the mount, as fusectl names a FUSE connection. */
  dev: number;
  superOptions: string;
}

export function parseMountinfo(text: string): NodeMount[] {
  const out: NodeMount[] = [];
  for (const line of text.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const f = line.slice(0, sep).split(' ');
    const tail = line.slice(sep + 3).split(' ');
    const [major, minor] = (f[2] ?? '').split(':').map(Number);
    if (f[4] === undefined || major === undefined || minor === undefined) continue;
    out.push({
      mountpoint: unescapeMountField(f[4]),
      fstype: tail[0] ?? '',
      dev: major * 2 ** 20 + minor,
      superOptions: tail[2] ?? '',
    });
  }
  return out;
}

/** The topmost mount at each mountpoint. */
export function topMounts(mounts: readonly NodeMount[]): Map<string, NodeMount> {
  return new Map(mounts.map((m) => [m.mountpoint, m]));
}

/** Is the namespace file a live nsfs bind mount in the host's mount table? */
export function mntnsMounted(bp: BarePaths): boolean {
  return parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).some(
    (m) => m.mountpoint === bp.mntnsFile && m.fstype === 'nsfs',
  );
}

/** "dev:ino" of the node's mount namespace, to recognise its processes; undefined when it is down. */
export function mntnsId(bp: BarePaths): string | undefined {
  if (!mntnsMounted(bp)) return undefined;
  const st = statSync(bp.mntnsFile);
  return `${st.dev}:${st.ino}`;
}

/** argv that runs `argv` in the node: its netns and mount namespace (and so its root), and its cgroup. */
export function enterArgv(bp: BarePaths, cgroupDir: string, argv: readonly string[]): [string, string[]] {
  return [
    BARE_TOOLS.sh.path,
    [
      '-c',
      CGROUP_WRAPPER,
      'sh',
      join(cgroupDir, 'cgroup.procs'),
      BARE_TOOLS.nsenter.path,
      `--net=${bp.node.netnsFile}`,
      `--mount=${bp.mntnsFile}`,
      '--',
      ...argv,
    ],
  ];
}

export interface InNodeOptions extends ExecOptions {
  /** Run as this user of the node (setpriv with its groups and a login-like environment); default root. */
  user?: string;
}

/** Runs a command inside the node and collects its output (bounded; 60 s unless told). */
export function runInNode(
  ctx: NodeCtx,
  bp: BarePaths,
  cgroupDir: string,
  argv: readonly string[],
  opts: InNodeOptions = {},
): Promise<ExecResult> {
  const { user, ...exec } = opts;
  const inner = user
    ? ['setpriv', `--reuid=${user}`, `--regid=${user}`, '--init-groups', '--reset-env', '--', ...argv]
    : argv;
  const [file, args] = enterArgv(bp, cgroupDir, inner);
  return run(ctx, file, args, { timeoutMs: 60_000, ...exec, env: { ...INSIDE.env, ...opts.env } });
}

/** The node's own mount table (as its processes see it), or undefined when the namespace is unusable. */
export async function nodeMounts(ctx: NodeCtx, bp: BarePaths, cgroupDir: string): Promise<NodeMount[] | undefined> {
  if (!mntnsMounted(bp)) return undefined;
  const res = await runInNode(ctx, bp, cgroupDir, ['cat', '/proc/self/mountinfo'], {
    allowFailure: true,
    timeoutMs: 10_000,
  });
  return res.code === 0 ? parseMountinfo(res.stdout) : undefined;
}

/** Why the namespace cannot be used as it is ('' when it is healthy over `lower`). */
export function mountsProblem(mounts: readonly NodeMount[] | undefined, bp: BarePaths, lower: string): string {
  if (!mounts) return 'the mount namespace is not there';
  const top = topMounts(mounts);
  const root = top.get('/');
  if (root?.fstype !== 'overlay' || !root.superOptions.includes(`upperdir=${bp.upperDir},`))
    return 'its root is not the node overlay';
  if (!root.superOptions.includes(`lowerdir=${lower},`)) return 'its root is over another rootfs';
  for (const [mp, fstype] of Object.entries(BASE_MOUNTS)) {
    if (top.get(mp)?.fstype !== fstype) return `${mp} is not a ${fstype} mount`;
  }
  return '';
}

/** /run/dfs-ebpf-mntns as a private bind mount of itself (a namespace file cannot live on a shared mount). */
async function ensureMntnsDir(ctx: NodeCtx): Promise<void> {
  mkdirs(MNTNS_DIR, 0o755);
  const self = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) => m.mountpoint === MNTNS_DIR);
  if (self) return;
  await run(ctx, BARE_TOOLS.mount.path, ['--bind', MNTNS_DIR, MNTNS_DIR]);
  await run(ctx, BARE_TOOLS.mount.path, ['--make-private', MNTNS_DIR]);
}

/** Removes /run/dfs-ebpf-mntns once no bare node has a namespace file in it. */
export async function releaseMntnsDir(ctx: NodeCtx): Promise<void> {
  if (!existsSync(MNTNS_DIR)) return;
  const busy = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')).some((m) =>
    m.mountpoint.startsWith(`${MNTNS_DIR}/`),
  );
  if (busy) return;
  await run(ctx, BARE_TOOLS.umount.path, [MNTNS_DIR], { allowFailure: true });
  removeEmptyDirs(ctx, [MNTNS_DIR]);
}

/** Makes the namespace (see the header); the caller has removed any earlier one. */
export async function createMountNamespace(ctx: NodeCtx, bp: BarePaths, lower: string): Promise<void> {
  ctx.progress('creating the node mount namespace');
  for (const d of [bp.upperDir, bp.workDir, bp.mergeDir]) mkdirs(d, 0o755);
  await ensureMntnsDir(ctx);
  writeFileSync(bp.mntnsFile, '', { mode: 0o644 });
  const res = await run(
    ctx,
    BARE_TOOLS.nsenter.path,
    [
      `--net=${bp.node.netnsFile}`,
      '--',
      BARE_TOOLS.unshare.path,
      `--mount=${bp.mntnsFile}`,
      '--propagation',
      'private',
      '--',
      BARE_TOOLS.sh.path,
      '-c',
      SETUP_SCRIPT,
      'sh',
      bp.mergeDir,
      lower,
      bp.upperDir,
      bp.workDir,
      requireCgroup2Mount(),
    ],
    { allowFailure: true, timeoutMs: 30_000 },
  );
  if (res.code !== 0) {
    // A half-made namespace still holds copies of every host mount: release it at once.
    await removeMountNamespace(ctx, bp);
    throw new DfsError(
      ErrorCode.Internal,
      `cannot set up the mount namespace of bare node ${bp.name}: ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
}

/** Unmounts and removes the namespace file; the namespace ends when its last process does. */
export async function removeMountNamespace(ctx: NodeCtx, bp: BarePaths): Promise<void> {
  if (mntnsMounted(bp)) await run(ctx, BARE_TOOLS.umount.path, [bp.mntnsFile]);
  if (existsSync(bp.mntnsFile)) unlinkSync(bp.mntnsFile);
}

/** Mounts or unmounts the variants' fakes so the node shows exactly `v` (a second call changes nothing). */
export async function ensureVariantMounts(
  ctx: NodeCtx,
  bp: BarePaths,
  cgroupDir: string,
  v: BareVariants,
): Promise<void> {
  const mounts = await nodeMounts(ctx, bp, cgroupDir);
  if (!mounts) throw new DfsError(ErrorCode.Internal, `bare node ${bp.name}: its mount namespace is gone`);
  const top = topMounts(mounts);
  const inNode = (argv: string[]): Promise<ExecResult> => runInNode(ctx, bp, cgroupDir, argv);
  const btf = top.get(INSIDE.btfDir);
  if (v.maskBtf && btf?.fstype !== 'tmpfs') {
    ctx.progress('masking /sys/kernel/btf (variant maskBtf)');
    await inNode(['mount', '-t', 'tmpfs', '-o', 'ro,nosuid,nodev,noexec,mode=555,size=4k', 'tmpfs', INSIDE.btfDir]);
  } else if (!v.maskBtf && btf?.fstype === 'tmpfs') {
    await inNode(['umount', INSIDE.btfDir]);
  }
  const lib = top.get(INSIDE.installLib);
  const size = v.installLimitMb === null ? undefined : `size=${v.installLimitMb * 1024}k`;
  const libOk = lib?.fstype === 'tmpfs' && size !== undefined && lib.superOptions.split(',').includes(size);
  if (lib?.fstype === 'tmpfs' && !libOk) await inNode(['umount', INSIDE.installLib]);
  if (size !== undefined && !libOk) {
    ctx.progress(`limiting ${INSIDE.installLib} to ${v.installLimitMb} MiB (variant installLimitMb)`);
    await inNode(['mount', '-t', 'tmpfs', '-o', `nosuid,nodev,mode=755,${size}`, 'tmpfs', INSIDE.installLib]);
  }
}
