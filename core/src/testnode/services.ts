/**
 * The node's data services, all inside its netns and cgroup: Redis as the JuiceFS metadata
 * engine (127.0.0.1:6379, db 1) and as the object store (127.0.0.1:6380, db 0), and the JuiceFS
 * daemon mounted at /mnt/dfs-ebpf/<name> (visible on the host, because only the network
 * namespace is switched). Owns start (only what is missing or unhealthy), health checks,
 * formatting, and unmounting. Redis keeps no data on disk: a restarted node is re-formatted.
 */

import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { cgroupPids, inNodeCgroup, unescapeMountField } from './cgroup';
import type { JuicefsBinary } from './juicefsBinary';
import { findJuicefsBinary } from './juicefsBinary';
import type { ComponentCheck } from './netns';
import {
  BIN,
  BUCKET_URL,
  logFile,
  META_URL,
  type NodePaths,
  pidFile,
  REDIS_META_PORT,
  REDIS_OBJECT_PORT,
} from './paths';
import { inNetns, isAlive, ownPid, placementOf, processName, startInNode, stopPids } from './procs';
import { ensureDir, isRoot, logTail, mkdirs, run, type NodeCtx, waitUntil, writeIfChanged } from './sys';

export type RedisRole = 'redis-meta' | 'redis-object';

const redisPort = (role: RedisRole): number => (role === 'redis-meta' ? REDIS_META_PORT : REDIS_OBJECT_PORT);
const redisDir = (p: NodePaths, role: RedisRole): string => (role === 'redis-meta' ? p.redisMetaDir : p.redisObjectDir);

// ---------------------------------------------------------------------------------------------
// Redis

async function redisCli(
  ctx: NodeCtx,
  p: NodePaths,
  port: number,
  args: readonly string[],
): Promise<string | undefined> {
  const [file, argv] = inNetns(p, [BIN.redisCli, '-h', '127.0.0.1', '-p', String(port), ...args]);
  const res = await run(ctx, file, argv, { allowFailure: true, timeoutMs: 10_000 });
  return res.code === 0 ? res.stdout.trim() : undefined;
}

export async function redisStatus(ctx: NodeCtx, p: NodePaths, role: RedisRole): Promise<ComponentCheck> {
  const placed = placementOf(p, pidFile(p, role), /^redis-server/);
  const port = redisPort(role);
  if (!placed.ok) return { ok: false, detail: placed.detail };
  if (!isRoot()) return { ok: true, detail: `${placed.detail} on 127.0.0.1:${port} (PING needs root)` };
  const pong = await redisCli(ctx, p, port, ['ping']);
  if (pong !== 'PONG') return { ok: false, detail: `${placed.detail}, but 127.0.0.1:${port} does not answer PING` };
  return { ok: true, detail: `${placed.detail}, PONG on 127.0.0.1:${port}` };
}

/** Starts the instance unless it is healthy; true when it started one (empty: Redis keeps nothing on disk). */
export async function ensureRedis(ctx: NodeCtx, p: NodePaths, cgroupDir: string, role: RedisRole): Promise<boolean> {
  if ((await redisStatus(ctx, p, role)).ok) return false;
  await stopPids(ctx, ownPid(placementOf(p, pidFile(p, role), /^redis-server/)));
  const port = redisPort(role);
  const dir = redisDir(p, role);
  ensureDir(dir, 0o700);
  const log = logFile(p, role);
  ctx.progress(`starting ${role === 'redis-meta' ? 'the Redis metadata engine' : 'the Redis object store'}`);
  // the argv mirrors `redis-server --bind 127.0.0.1 --port P --save '' --appendonly no --daemonize yes ...`
  await startInNode(
    ctx,
    p,
    cgroupDir,
    `redis (${role})`,
    [
      BIN.redisServer,
      '--bind',
      '127.0.0.1',
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'yes',
      '--pidfile',
      pidFile(p, role),
      '--logfile',
      log,
      '--dir',
      dir,
    ],
    log,
  );
  const ok = await waitUntil(10_000, async () => (await redisStatus(ctx, p, role)).ok, 100);
  if (!ok)
    throw new DfsError(
      ErrorCode.Internal,
      `redis (${role}) did not answer PING on 127.0.0.1:${port}: ${logTail(log)}; see ${log}`,
    );
  return true;
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
}

/** `<mountpoint>/.config` of a live JuiceFS mount (bounded: a hung FUSE daemon must not hang us). */
async function readMountConfig(mountpoint: string): Promise<MountConfig | undefined> {
  // A stale mount fails with ENOTCONN and a hung daemon never answers: both mean "no live config".
  const read = readFile(`${mountpoint}/.config`, 'utf8').catch(() => undefined);
  const timeout = new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000).unref());
  const text = await Promise.race([read, timeout]);
  if (text === undefined) return undefined;
  let parsed: { Pid?: unknown; Version?: unknown };
  try {
    parsed = JSON.parse(text) as { Pid?: unknown; Version?: unknown };
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
  if (typeof parsed.Pid !== 'number') return undefined;
  return { pid: parsed.Pid, version: typeof parsed.Version === 'string' ? parsed.Version : '' };
}

export interface MountCheck extends ComponentCheck {
  version?: string;
  /** The FUSE daemon serving the mount (.config Pid). */
  pid?: number;
}

export async function juicefsStatus(p: NodePaths): Promise<MountCheck> {
  const fstype = mountedFstype(p.mountpoint);
  if (fstype === undefined) return { ok: false, detail: `${p.mountpoint} is not mounted` };
  if (fstype !== 'fuse.juicefs') return { ok: false, detail: `${p.mountpoint} holds a ${fstype} mount, not JuiceFS` };
  // .config is readable by root only.
  if (!isRoot()) return { ok: true, detail: `JuiceFS at ${p.mountpoint} (daemon check needs root)` };
  const cfg = await readMountConfig(p.mountpoint);
  if (!cfg) return { ok: false, detail: `${p.mountpoint} is mounted but its daemon does not answer (stale mount)` };
  if (!isAlive(cfg.pid) || !inNodeCgroup(cfg.pid, p.name)) {
    return { ok: false, detail: `${p.mountpoint} is served by pid ${cfg.pid}, which is not in the node cgroup` };
  }
  return {
    ok: true,
    version: cfg.version,
    pid: cfg.pid,
    detail: `JuiceFS ${cfg.version} at ${p.mountpoint}, pid ${cfg.pid}, meta ${META_URL}`,
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
async function ensureFormatted(ctx: NodeCtx, p: NodePaths, bin: string, reset: boolean): Promise<void> {
  if (!reset) {
    const [file, argv] = inNetns(p, [bin, 'status', META_URL]);
    const res = await run(ctx, file, argv, { allowFailure: true, timeoutMs: 60_000 });
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
    if ((await redisCli(ctx, p, port, ['-n', db, 'flushdb'])) !== 'OK') {
      throw new DfsError(
        ErrorCode.Internal,
        `cannot clear Redis db ${db} on 127.0.0.1:${port} in node ${p.name}; run node down and up`,
      );
    }
  }
  const [file, argv] = inNetns(p, [bin, 'format', '--storage', 'redis', '--bucket', BUCKET_URL, META_URL, p.name]);
  await run(ctx, file, argv, { timeoutMs: 120_000 });
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
): Promise<string> {
  const before = await juicefsStatus(p);
  if (before.ok && !dataLost) {
    // JuiceFS's supervisor may have restarted its mount process since: keep the pid file true.
    if (before.pid !== undefined)
      writeIfChanged(pidFile(p, 'juicefs'), `${before.pid}\n`, { mode: 0o644, uid: 0, gid: 0 });
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
  await ensureFormatted(ctx, p, bin.path, dataLost);
  mkdirs(p.mountpoint, 0o755);
  ensureDir(p.cacheDir, 0o700);
  ctx.progress('mounting JuiceFS');
  const log = logFile(p, 'juicefs');
  const argv = [
    bin.path,
    'mount',
    '-d',
    '--cache-dir',
    p.cacheDir,
    // No local block cache: every read and write crosses the object-store connection, the
    // path the bypass accelerates and the tests verify byte for byte.
    '--cache-size',
    '0',
    '--log',
    log,
    '--no-usage-report',
    META_URL,
    p.mountpoint,
  ];
  await startInNode(ctx, p, cgroupDir, 'juicefs mount', argv, log, 120_000);
  let last: MountCheck = before;
  const ok = await waitUntil(30_000, async () => (last = await juicefsStatus(p)).ok, 200);
  if (!ok)
    throw new DfsError(ErrorCode.Internal, `JuiceFS did not mount (${last.detail}): ${logTail(log)}; see ${log}`);
  if (last.pid !== undefined) writeIfChanged(pidFile(p, 'juicefs'), `${last.pid}\n`, { mode: 0o644, uid: 0, gid: 0 });
  return last.version || bin.version;
}

/** `juicefs umount`, then `umount -l` if it is still mounted. Quiet when nothing is mounted. */
export async function unmountJuicefs(ctx: NodeCtx, p: NodePaths): Promise<void> {
  if (mountedFstype(p.mountpoint) === undefined) return;
  ctx.progress('unmounting JuiceFS');
  const bin = findJuicefsBinary();
  if (bin && mountedFstype(p.mountpoint) === 'fuse.juicefs') {
    const res = await run(ctx, bin, ['umount', p.mountpoint], { allowFailure: true, timeoutMs: 60_000 });
    if (res.code !== 0)
      ctx.log.warn(`juicefs umount ${p.mountpoint} failed: ${res.stderr.trim().split('\n').pop() ?? ''}; detaching it`);
  }
  for (let i = 0; i < 5 && mountedFstype(p.mountpoint) !== undefined; i++) {
    await run(ctx, BIN.umount, ['-l', p.mountpoint], { timeoutMs: 30_000 });
  }
  if (mountedFstype(p.mountpoint) !== undefined) {
    throw new DfsError(
      ErrorCode.Internal,
      `${p.mountpoint} is still mounted; unmount it with \`umount -l ${p.mountpoint}\` and retry`,
    );
  }
}
