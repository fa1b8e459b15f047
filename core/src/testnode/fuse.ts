/**
 * Taking a node's FUSE mounts down without ever hanging. Owns: finding a mount's FUSE
 * connection (its device number, the directory name under fusectl), aborting connections
 * through fusectl, and unmounting (graceful `juicefs umount`, then `umount -f`, which aborts
 * the connection, then `umount -l`), each step bounded in time.
 *
 * Why aborting matters: a request the daemon has already read is waited for
 * *uninterruptibly* by the caller, even after SIGKILL, until the daemon answers or the
 * connection ends; and the connection only ends when every /dev/fuse descriptor is closed.
 * JuiceFS's supervisor (`mount -d`) keeps a copy of that descriptor (to restart a crashed
 * mount process) and its watchdog stats `<mountpoint>/.config` every 5 s. If the mount
 * process is killed while a request (the watchdog's own, or any client's) is in flight, the
 * supervisor cannot exit, so the descriptor stays open, so the request never ends: processes
 * "survive SIGKILL" for good. Aborting the connection through fusectl ends every request.
 */

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unescapeMountField } from './cgroup';
import { findJuicefsBinary } from './juicefsBinary';
import { BIN } from './paths';
import { readIfExists, run, type NodeCtx, sleep, writeIfChanged } from './sys';

export const FUSECTL_DIR = '/sys/fs/fuse/connections';

interface MountEntry {
  mountpoint: string;
  fstype: string;
  /** The kernel's dev_t of the mount, as fusectl names a connection: (major << 20) | minor. */
  dev: number;
}

function mountEntries(): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const f = line.slice(0, sep).split(' ');
    const [major, minor] = (f[2] ?? '').split(':').map(Number);
    if (f[4] === undefined || major === undefined || minor === undefined) continue;
    out.push({
      mountpoint: unescapeMountField(f[4]),
      fstype: line.slice(sep + 3).split(' ')[0] ?? '',
      dev: major * 2 ** 20 + minor,
    });
  }
  return out;
}

/** The FUSE connection id of the topmost FUSE mount at `mountpoint`, if there is one. */
export function fuseConnection(mountpoint: string): number | undefined {
  let dev: number | undefined;
  for (const m of mountEntries()) {
    if (m.mountpoint === mountpoint) dev = m.fstype === 'fuse' || m.fstype.startsWith('fuse.') ? m.dev : undefined;
  }
  return dev;
}

/** Mountpoints at or below `dir` (to keep a recursive delete out of a live mount). */
export function mountsUnder(dir: string): string[] {
  return mountEntries()
    .map((m) => m.mountpoint)
    .filter((mp) => mp === dir || mp.startsWith(`${dir}/`));
}

/** Remembers the FUSE connection of the mount at `mountpoint` in `file` (root-only state). */
export function recordFuseConnection(file: string, mountpoint: string): void {
  const conn = fuseConnection(mountpoint);
  if (conn !== undefined) writeIfChanged(file, `${conn}\n`, { mode: 0o644, uid: 0, gid: 0 });
}

export function recordedFuseConnection(file: string): number | undefined {
  const n = Number((readIfExists(file) ?? '').trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

function fusectlMounted(): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.includes(` ${FUSECTL_DIR} `) && l.includes(' - fusectl '));
}

/**
 * Aborts the given FUSE connections (those still alive): every request in flight on them fails
 * at once and their waiters wake. Mounts fusectl for the moment if the machine has not.
 * Device numbers are reused, so a connection that is mounted anywhere but at one of
 * `ownMountpoints` is someone else's now and is left alone. Returns the ids it aborted.
 */
export async function abortFuseConnections(
  ctx: NodeCtx,
  ids: readonly number[],
  ownMountpoints: readonly string[],
): Promise<number[]> {
  if (ids.length === 0 || !existsSync(FUSECTL_DIR)) return [];
  const mountedHere = !fusectlMounted();
  if (mountedHere) {
    const res = await run(ctx, BIN.mount, ['-t', 'fusectl', 'fusectl', FUSECTL_DIR], { allowFailure: true });
    if (res.code !== 0) {
      ctx.log.warn(`cannot mount fusectl at ${FUSECTL_DIR}: ${res.stderr.trim()}`);
      return [];
    }
  }
  const aborted: number[] = [];
  try {
    const live = new Set(readdirSync(FUSECTL_DIR));
    const mounted = mountEntries();
    for (const id of ids) {
      if (!live.has(String(id))) continue;
      const elsewhere = mounted.find((m) => m.dev === id && !ownMountpoints.includes(m.mountpoint));
      if (elsewhere) {
        ctx.log.debug(`FUSE connection ${id} now serves ${elsewhere.mountpoint}: not ours to abort`);
        continue;
      }
      ctx.log.warn(`aborting FUSE connection ${id}: its daemon is gone or not answering`);
      writeFileSync(join(FUSECTL_DIR, String(id), 'abort'), '1');
      aborted.push(id);
    }
  } finally {
    if (mountedHere) await run(ctx, BIN.umount, [FUSECTL_DIR], { allowFailure: true });
  }
  return aborted;
}

/**
 * Runs a command that may block in the kernel on a FUSE connection (an unmount): after
 * `timeoutMs` the connection is aborted, which releases it; the call then waits a little more
 * and gives up waiting (never hangs). Returns the exit code, or undefined when it did not end.
 */
async function runUnblocked(
  ctx: NodeCtx,
  mountpoint: string,
  conn: number | undefined,
  file: string,
  args: string[],
  timeoutMs: number,
): Promise<number | undefined> {
  let code: number | undefined;
  const done = run(ctx, file, args, { allowFailure: true, timeoutMs: timeoutMs + 15_000 }).then(
    (r) => (code = r.code),
    () => (code = -1),
  );
  const ended = (ms: number): Promise<boolean> =>
    Promise.race([done.then(() => true), sleep(ms).then(() => code !== undefined)]);
  if (await ended(timeoutMs)) return code;
  if (conn !== undefined) await abortFuseConnections(ctx, [conn], [mountpoint]);
  return (await ended(10_000)) ? code : undefined;
}

const isMounted = (mountpoint: string): boolean => mountEntries().some((m) => m.mountpoint === mountpoint);

/**
 * Unmounts whatever is mounted at `mountpoint`, bounded: `juicefs umount` for a JuiceFS mount
 * (flushes, fails fast when busy), then `umount -f` (for FUSE this aborts the connection, so
 * nothing waits on the daemon any more), then `umount -l` (detaches a mount still held open).
 * Returns the FUSE connection id the mount had, so a caller can abort it again later if a
 * process stays stuck on it. Throws when the mount is still there at the end.
 */
export async function unmountFuse(ctx: NodeCtx, mountpoint: string): Promise<number | undefined> {
  if (!isMounted(mountpoint)) return undefined;
  const conn = fuseConnection(mountpoint);
  const juicefs = findJuicefsBinary();
  const fstype = mountEntries()
    .filter((m) => m.mountpoint === mountpoint)
    .pop()?.fstype;
  if (juicefs && fstype === 'fuse.juicefs') {
    const code = await runUnblocked(ctx, mountpoint, conn, juicefs, ['umount', mountpoint], 20_000);
    if (code !== 0 && isMounted(mountpoint)) ctx.log.warn(`juicefs umount ${mountpoint} did not finish; forcing it`);
  }
  if (isMounted(mountpoint)) await runUnblocked(ctx, mountpoint, conn, BIN.umount, ['-f', mountpoint], 10_000);
  for (let i = 0; i < 5 && isMounted(mountpoint); i++) {
    await runUnblocked(ctx, mountpoint, conn, BIN.umount, ['-l', mountpoint], 10_000);
  }
  if (isMounted(mountpoint)) throw new Error(`${mountpoint} is still mounted (umount -f and -l failed)`);
  return conn;
}
