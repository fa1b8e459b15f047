/**
 * What `dfs-ebpf bench` needs from a local node beyond its normal parts, each living only for
 * the bench and removed afterwards, also on failure:
 *  - a Redis ACL user for redis-benchmark, which can only take a password in its argv
 *    (world-readable): a random password of its own, allowed SET/GET/SELECT/PING on `key:*`
 *    only, so the node's real password never appears there; deleted when the bench ends;
 *  - a second mount of the node's volume whose metadata engine is reached over the metadata
 *    Redis's Unix socket (`unix://…/redis.sock?db=1`), inside the node's netns and cgroup, with
 *    the same options as the node's own mount: the local-IPC limit of the metadata workload.
 * Needs root (the password file and the socket are root-only).
 */

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { type Logger, noProgress, nullLogger, type Progress } from '../log';
import { cgroupPids, nodeCgroupDir } from './cgroup';
import { recordFuseConnection, unmountFuse } from './fuse';
import { recordedFleet } from './fleet';
import { findJuicefsBinary } from './juicefsBinary';
import {
  fuseRecordFile,
  launchLogFile,
  logFile,
  nodePaths,
  type NodePaths,
  REDIS_META_PORT,
  unixMetaUrl,
  validateNodeName,
} from './paths';
import { processName, startInNode, stopPids } from './procs';
import { redisCli, requireRedisPassword } from './redis';
import { juicefsEnv, juicefsMountArgs, juicefsStatus, mountedFstype } from './services';
import { withNodeLock } from './state';
import { ensureDir, mkdirs, type NodeCtx, readIfExists, removeEmptyDirs, requireRoot, waitUntil } from './sys';

export interface BenchOptions {
  name: string;
  log?: Logger;
  progress?: Progress;
}

const ctxOf = (o: BenchOptions): NodeCtx => ({ log: o.log ?? nullLogger, progress: o.progress ?? noProgress });

/** The ACL user redis-benchmark logs in as. */
export const BENCH_REDIS_USER = 'dfs-bench';

export interface BenchRedisAccess {
  user: string;
  /** Good for this bench only, for SET/GET on `key:*`. */
  password: string;
  /** The metadata Redis's Unix socket (root-only). */
  socket: string;
  close: () => Promise<void>;
}

/** The bench works on the node's own Redis pair, which a fleet member (fleet.ts) does not have. */
function requireOwnRedis(p: NodePaths): void {
  const node0 = recordedFleet(p.name);
  if (node0 !== undefined && node0 !== p.name) {
    throw new DfsError(
      ErrorCode.BadRequest,
      `node ${p.name} is a fleet member and has no Redis of its own; run bench on the fleet's node 0 (--node ${node0})`,
    );
  }
}

/** Creates the bench's Redis user on the node's metadata Redis. */
export async function openBenchRedisAccess(opts: BenchOptions): Promise<BenchRedisAccess> {
  requireRoot('dfs-ebpf bench');
  const p = nodePaths(validateNodeName(opts.name));
  const ctx = ctxOf(opts);
  requireOwnRedis(p);
  const nodePassword = requireRedisPassword(p);
  const password = randomBytes(16).toString('hex');
  // '#<sha256>' sets the password by its hash: not even redis-cli's argv holds it.
  const hash = createHash('sha256').update(password).digest('hex');
  const rules = ['reset', 'on', `#${hash}`, '~key:*', 'resetchannels', '-@all', '+set', '+get', '+select', '+ping'];
  const ok = await redisCli(ctx, p, REDIS_META_PORT, nodePassword, ['ACL', 'SETUSER', BENCH_REDIS_USER, ...rules]);
  if (ok !== 'OK') {
    throw new DfsError(
      ErrorCode.Internal,
      `cannot create the bench user on node ${p.name}'s Redis (${ok ?? 'no answer'}); check \`dfs-ebpf node status --name ${p.name}\``,
    );
  }
  return {
    user: BENCH_REDIS_USER,
    password,
    socket: p.redisMetaSocket,
    close: async () => {
      await redisCli(ctx, p, REDIS_META_PORT, nodePassword, ['ACL', 'DELUSER', BENCH_REDIS_USER]);
    },
  };
}

export interface UnixMetaMount {
  mountpoint: string;
  metaUrl: string;
  close: () => Promise<void>;
}

/** JuiceFS processes of the node that serve `mountpoint` (a mount process and its supervisor). */
function daemonsOf(p: NodePaths, mountpoint: string): number[] {
  const cg = nodeCgroupDir(p.name);
  if (!cg) return [];
  return cgroupPids(cg).filter((pid) => {
    if (!/^juicefs/.test(processName(pid))) return false;
    const argv = (readIfExists(`/proc/${pid}/cmdline`) ?? '').split(/[\0\s]+/);
    return argv.includes(mountpoint);
  });
}

/** Unmounts bench's second mount and stops its daemons; quiet when there is none. */
async function releaseUnixMount(ctx: NodeCtx, p: NodePaths): Promise<void> {
  const mp = p.unixMountpoint;
  if (mountedFstype(mp) !== undefined) {
    ctx.progress(`unmounting ${mp}`);
    await unmountFuse(ctx, mp);
  }
  // A cleanly unmounted JuiceFS exits by itself; give it a moment, then make sure.
  await waitUntil(10_000, () => daemonsOf(p, mp).length === 0, 200);
  const left = await stopPids(ctx, daemonsOf(p, mp));
  if (left.length > 0) throw new DfsError(ErrorCode.Internal, `JuiceFS processes ${left.join(' ')} for ${mp} survive`);
  rmSync(fuseRecordFile(p, 'juicefs-unix'), { force: true });
  if (existsSync(mp)) removeEmptyDirs(ctx, [mp]);
}

/**
 * Mounts the node's volume a second time with its metadata engine over the Unix socket.
 * `close()` unmounts it (bounded, see fuse.ts); `node down` also removes a leftover one.
 */
export async function mountUnixMeta(opts: BenchOptions): Promise<UnixMetaMount> {
  requireRoot('dfs-ebpf bench');
  const p = nodePaths(validateNodeName(opts.name));
  const ctx = ctxOf(opts);
  requireOwnRedis(p);
  const password = requireRedisPassword(p);
  const cg = nodeCgroupDir(p.name);
  const bin = findJuicefsBinary();
  if (!cg || !existsSync(cg) || !bin || !existsSync(p.redisMetaSocket)) {
    throw new DfsError(
      ErrorCode.NodeNotUp,
      `node ${p.name} is not up (or predates the Redis Unix socket); run \`dfs-ebpf node up --name ${p.name}\``,
    );
  }
  const metaUrl = unixMetaUrl(p);
  await withNodeLock(ctx, async () => {
    await releaseUnixMount(ctx, p); // a bench that died may have left one
    mkdirs(p.unixMountpoint, 0o755);
    ensureDir(p.unixCacheDir, 0o700);
    ctx.progress(`mounting the volume again at ${p.unixMountpoint}, metadata over the Unix socket`);
    const log = logFile(p, 'juicefs').replace(/\.log$/, '-unix.log');
    const argv = juicefsMountArgs(bin, p.unixCacheDir, log, metaUrl, p.unixMountpoint);
    try {
      await startInNode(ctx, p, cg, 'juicefs mount (Unix socket)', argv, launchLogFile(p, 'juicefs'), {
        timeoutMs: 120_000,
        env: juicefsEnv(password),
      });
      let last = '';
      const ok = await waitUntil(
        30_000,
        async () => {
          const st = await juicefsStatus(p, p.unixMountpoint, metaUrl);
          last = st.detail;
          return st.ok;
        },
        200,
      );
      if (!ok) throw new DfsError(ErrorCode.Internal, `the Unix-socket mount did not come up (${last}); see ${log}`);
      recordFuseConnection(fuseRecordFile(p, 'juicefs-unix'), p.unixMountpoint);
    } catch (e) {
      await releaseUnixMount(ctx, p);
      throw e;
    }
  });
  return {
    mountpoint: p.unixMountpoint,
    metaUrl,
    close: () => withNodeLock(ctx, () => releaseUnixMount(ctx, p)),
  };
}
