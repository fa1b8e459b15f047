/**
 * The node's JuiceFS mount at /mnt/dfs-ebpf/<name>, served from its netns and cgroup (visible
 * on the host, because only the network namespace is switched). Owns formatting the volume
 * (metadata in the node's Redis db 1, chunks in its object-store Redis), mounting, health
 * checks, the mount's owner and mode, and unmounting. Redis passwords reach JuiceFS only
 * through its environment (META_PASSWORD for the metadata engine; SECRET_KEY at format time
 * for the object store, which JuiceFS then keeps in the volume's settings): never argv.
 *
 * The mount is the node user's: root directory owned by dfs-<name>, mode 0750, so other
 * nodes' users (any non-root user but the node's own) can neither write nor read it, even
 * though JuiceFS mounts with allow_other. Root still does everything. In a fleet (fleet.ts)
 * the volume is node 0's and its root is 0770: the members' users are in node 0's group.
 */

import { readFile } from 'node:fs/promises';
import { chmodSync, chownSync, readFileSync, statSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { cgroupPids, inNodeCgroup, unescapeMountField } from './cgroup';
import type { JuicefsBinary } from './juicefsBinary';
import type { ComponentCheck } from './netns';
import { recordFuseConnection, unmountFuse } from './fuse';
import {
  BUCKET_URL,
  fuseRecordFile,
  logFile,
  META_URL,
  type NodePaths,
  pidFile,
  REDIS_META_PORT,
  REDIS_OBJECT_PORT,
} from './paths';
import { inNetns, isAlive, processName, startInNode, stopPids } from './procs';
import { redisCli } from './redis';
import { passwdEntry } from './sshd';
import { ensureDir, isRoot, logTail, mkdirs, run, type NodeCtx, waitUntil, writeIfChanged } from './sys';

/** The environment JuiceFS needs for the node's Redis (root-only readable in /proc/PID/environ). */
export function juicefsEnv(password: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, META_PASSWORD: password, ...extra };
}

// ---------------------------------------------------------------------------------------------
// JuiceFS

/** fstype of the topmost mount at `mountpoint` in our mount namespace, if any. */
export function mountedFstype(mountpoint: string): string | undefined {
  let fstype: string | undefined;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const f = line.slice(0, sep).split(' ');
    if (f[4] !== undefined && unescapeMountField(f[4]) === mountpoint) fstype = line.slice(sep + 3).split(' ')[0];
  }
  return fstype;
}

interface MountConfig {
  pid: number;
  version: string;
  /** The volume's UUID (Format.UUID): a re-formatted volume has a new one. */
  uuid: string;
}

/** `<mountpoint>/.config` of a live JuiceFS mount (bounded: a hung FUSE daemon must not hang us). */
async function readMountConfig(mountpoint: string): Promise<MountConfig | undefined> {
  // A stale mount fails with ENOTCONN and a hung daemon never answers: both mean "no live config".
  const read = readFile(`${mountpoint}/.config`, 'utf8').catch(() => undefined);
  const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000).unref());
  const text = await Promise.race([read, timeout]);
  if (text === undefined) return undefined;
  let parsed: { Pid?: unknown; Version?: unknown; Format?: { UUID?: unknown } };
  try {
    parsed = JSON.parse(text) as { Pid?: unknown; Version?: unknown; Format?: { UUID?: unknown } };
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
  if (typeof parsed.Pid !== 'number') return undefined;
  const uuid = parsed.Format?.UUID;
  return {
    pid: parsed.Pid,
    version: typeof parsed.Version === 'string' ? parsed.Version : '',
    uuid: typeof uuid === 'string' ? uuid : '',
  };
}

export interface MountCheck extends ComponentCheck {
  version?: string;
  /** The FUSE daemon serving the mount (.config Pid). */
  pid?: number;
  /** The mounted volume's UUID. */
  uuid?: string;
}

/** Health of a JuiceFS mount of the node (its own by default; bench's second one when asked). */
export async function juicefsStatus(p: NodePaths, mountpoint = p.mountpoint, metaUrl = META_URL): Promise<MountCheck> {
  const fstype = mountedFstype(mountpoint);
  if (fstype === undefined) return { ok: false, detail: `${mountpoint} is not mounted` };
  if (fstype !== 'fuse.juicefs') return { ok: false, detail: `${mountpoint} holds a ${fstype} mount, not JuiceFS` };
  // .config is readable by root only.
  if (!isRoot()) return { ok: true, detail: `JuiceFS at ${mountpoint} (daemon check needs root)` };
  const cfg = await readMountConfig(mountpoint);
  if (!cfg) return { ok: false, detail: `${mountpoint} is mounted but its daemon does not answer (stale mount)` };
  if (!isAlive(cfg.pid) || !inNodeCgroup(cfg.pid, p.name)) {
    return { ok: false, detail: `${mountpoint} is served by pid ${cfg.pid}, which is not in the node cgroup` };
  }
  return {
    ok: true,
    version: cfg.version,
    pid: cfg.pid,
    uuid: cfg.uuid,
    detail: `JuiceFS ${cfg.version} at ${mountpoint}, pid ${cfg.pid}, meta ${metaUrl}`,
  };
}

/** Setting.Name from `juicefs status` output; undefined when it is not the JSON we know. */
function volumeName(statusJson: string): string | undefined {
  try {
    return (JSON.parse(statusJson) as { Setting?: { Name?: string } }).Setting?.Name;
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
}

/** Formats the volume unless it is; `reset` first empties both Redis databases (data was lost). */
async function ensureFormatted(
  ctx: NodeCtx,
  p: NodePaths,
  bin: string,
  reset: boolean,
  password: string,
): Promise<void> {
  if (!reset) {
    const [file, argv] = inNetns(p, [bin, 'status', META_URL]);
    const res = await run(ctx, file, argv, { allowFailure: true, timeoutMs: 60_000, env: juicefsEnv(password) });
    if (res.code === 0) {
      const volume = volumeName(res.stdout);
      if (volume === p.name) return;
      throw new DfsError(
        ErrorCode.Conflict,
        `${META_URL} in node ${p.name} holds volume ${String(volume)}; run node down and up`,
      );
    }
    if (!/not formatted/.test(res.stderr)) {
      const why = res.stderr.trim().split('\n').pop() ?? `exit ${res.code}`;
      throw new DfsError(ErrorCode.Internal, `cannot read the JuiceFS volume status (${why}); run node down and up`);
    }
  }
  ctx.progress('formatting JuiceFS');
  // Chunks without metadata (or metadata without chunks) are garbage, and format refuses a used bucket.
  const clear: [number, string][] = [
    [REDIS_META_PORT, '1'],
    [REDIS_OBJECT_PORT, '0'],
  ];
  for (const [port, db] of reset ? clear : clear.slice(1)) {
    if ((await redisCli(ctx, p, port, password, ['-n', db, 'flushdb'])) !== 'OK') {
      throw new DfsError(
        ErrorCode.Internal,
        `cannot clear Redis db ${db} on 127.0.0.1:${port} in node ${p.name}; run node down and up`,
      );
    }
  }
  const [file, argv] = inNetns(p, [bin, 'format', '--storage', 'redis', '--bucket', BUCKET_URL, META_URL, p.name]);
  // SECRET_KEY is the object store's password for the redis storage; format keeps it in the volume settings.
  await run(ctx, file, argv, { timeoutMs: 120_000, env: juicefsEnv(password, { SECRET_KEY: password }) });
}

/**
 * The JuiceFS options every mount of a node uses (the node's own and bench's second one);
 * `extra` options go before the meta URL (a fleet member's object store and caches).
 */
export function juicefsMountArgs(
  bin: string,
  cacheDir: string,
  log: string,
  metaUrl: string,
  mountpoint: string,
  extra: readonly string[] = [],
): string[] {
  return [
    bin,
    'mount',
    '-d',
    '--cache-dir',
    cacheDir,
    // No local block cache: every read and write crosses the object-store connection, the
    // path the bypass accelerates and the tests verify byte for byte.
    '--cache-size',
    '0',
    '--log',
    log,
    '--no-usage-report',
    ...extra,
    metaUrl,
    mountpoint,
  ];
}

/** Root directory of the volume: owned by the node user, 0750, or 0770 for a fleet (see the header). */
function ensureMountOwner(ctx: NodeCtx, p: NodePaths, mode: number): void {
  const user = passwdEntry(p.user);
  if (!user) throw new DfsError(ErrorCode.Internal, `user ${p.user} is missing; run node down and up`);
  const st = statSync(p.mountpoint);
  if (st.uid !== user.uid || st.gid !== user.gid) chownSync(p.mountpoint, user.uid, user.gid);
  if ((st.mode & 0o7777) !== mode) chmodSync(p.mountpoint, mode);
  ctx.log.debug(`${p.mountpoint} belongs to ${p.user}, mode ${mode.toString(8)}`);
}

/**
 * Mounts JuiceFS unless a healthy mount served from the node cgroup is there. `dataLost`
 * (a Redis instance had to be started afresh) forces a clean re-creation of the volume:
 * the old daemon serves metadata that no longer exists.
 */
export async function ensureJuicefs(
  ctx: NodeCtx,
  p: NodePaths,
  cgroupDir: string,
  bin: JuicefsBinary,
  dataLost: boolean,
  password: string,
  rootMode = 0o750,
): Promise<string> {
  const before = await juicefsStatus(p);
  if (before.ok && !dataLost) {
    // JuiceFS's supervisor may have restarted its mount process since: keep the pid file true.
    if (before.pid !== undefined)
      writeIfChanged(pidFile(p, 'juicefs'), `${before.pid}\n`, { mode: 0o644, uid: 0, gid: 0 });
    recordFuseConnection(fuseRecordFile(p, 'juicefs'), p.mountpoint);
    ensureMountOwner(ctx, p, rootMode);
    return before.version || bin.version;
  }
  const fstype = mountedFstype(p.mountpoint);
  if (fstype !== undefined && fstype !== 'fuse.juicefs') {
    throw new DfsError(ErrorCode.Conflict, `${p.mountpoint} already holds a ${fstype} mount; unmount it and retry`);
  }
  if (dataLost && before.ok) ctx.log.warn(`node ${p.name}: Redis lost its data; re-creating the JuiceFS volume empty`);
  await unmountJuicefs(ctx, p);
  // Every juicefs process in the node cgroup is this node's daemon (mount process and supervisor).
  await stopPids(
    ctx,
    cgroupPids(cgroupDir).filter((pid) => /^juicefs/.test(processName(pid))),
  );
  await ensureFormatted(ctx, p, bin.path, dataLost, password);
  mkdirs(p.mountpoint, 0o755);
  ensureDir(p.cacheDir, 0o700);
  ctx.progress('mounting JuiceFS');
  const log = logFile(p, 'juicefs');
  const argv = juicefsMountArgs(bin.path, p.cacheDir, log, META_URL, p.mountpoint);
  await startInNode(ctx, p, cgroupDir, 'juicefs mount', argv, log, {
    timeoutMs: 120_000,
    env: juicefsEnv(password),
  });
  let last: MountCheck = before;
  const ok = await waitUntil(30_000, async () => (last = await juicefsStatus(p)).ok, 200);
  if (!ok)
    throw new DfsError(ErrorCode.Internal, `JuiceFS did not mount (${last.detail}): ${logTail(log)}; see ${log}`);
  if (last.pid !== undefined) writeIfChanged(pidFile(p, 'juicefs'), `${last.pid}\n`, { mode: 0o644, uid: 0, gid: 0 });
  recordFuseConnection(fuseRecordFile(p, 'juicefs'), p.mountpoint);
  ensureMountOwner(ctx, p, rootMode);
  return last.version || bin.version;
}

/** Unmounts the node's JuiceFS (bounded, see fuse.ts); quiet when nothing is mounted. */
export async function unmountJuicefs(ctx: NodeCtx, p: NodePaths): Promise<void> {
  if (mountedFstype(p.mountpoint) === undefined) return;
  ctx.progress('unmounting JuiceFS');
  try {
    await unmountFuse(ctx, p.mountpoint);
  } catch (e) {
    throw new DfsError(
      ErrorCode.Internal,
      `${e instanceof Error ? e.message : String(e)}; unmount it with \`umount -l ${p.mountpoint}\` and retry`,
    );
  }
}
