/**
 * The node's two Redis servers, inside its netns and cgroup: the JuiceFS metadata engine
 * (127.0.0.1:6379, db 1, plus a Unix socket for `bench`'s local-IPC limit) and the object store
 * (127.0.0.1:6380, db 0). Owns their system user, their password, their configuration, start
 * (only what is missing or unhealthy) and health checks, and `redis-cli` with the password.
 *
 * Invariants: Redis never runs as root (it runs as dfs-<name>-redis, through `setpriv`); both
 * instances require the node's password, generated once per node and kept in a root-only
 * 0600 file; the password never appears in any argv or on disk elsewhere (the configuration
 * reaches redis-server on stdin, redis-cli gets it through REDISCLI_AUTH, JuiceFS through
 * META_PASSWORD / SECRET_KEY). Redis keeps no data on disk: a restarted node is re-formatted.
 *
 * Node 0 of a fleet (fleet.ts): both instances also listen on the node's fleet address, which
 * only the fleet's namespaces can reach; the password is the same. A node that joins a fleet
 * while its Redis runs gets the address by `CONFIG SET bind` (a restart would lose the volume).
 */

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import type { ComponentCheck } from './netns';
import { BIN, launchLogFile, logFile, type NodePaths, pidFile, REDIS_META_PORT, REDIS_OBJECT_PORT } from './paths';
import { cgroupPids } from './cgroup';
import { inNetns, ownPid, placementOf, processName, startInNode, stopPids } from './procs';
import { passwdEntry } from './sshd';
import { ensureOwnedDir, isRoot, logTail, readIfExists, run, type NodeCtx, waitUntil, writeIfChanged } from './sys';

export type RedisRole = 'redis-meta' | 'redis-object';

export const redisPort = (role: RedisRole): number => (role === 'redis-meta' ? REDIS_META_PORT : REDIS_OBJECT_PORT);
const redisDir = (p: NodePaths, role: RedisRole): string => (role === 'redis-meta' ? p.redisMetaDir : p.redisObjectDir);
const REDIS_COMM = /^redis-server/;
const PASSWORD_RE = /^[0-9a-f]{64}$/;

// ---------------------------------------------------------------------------------------------
// The password

/** The node's Redis password, or undefined when there is none (yet) or it is not root-only. */
export function readRedisPassword(p: NodePaths): string | undefined {
  return readPasswordFile(p.redisPasswordFile);
}

/** A password file's content, or undefined when missing, malformed or readable by anyone but root. */
export function readPasswordFile(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const st = statSync(file);
  if (st.uid !== 0 || (st.mode & 0o077) !== 0) return undefined;
  const pw = readFileSync(file, 'utf8').trim();
  return PASSWORD_RE.test(pw) ? pw : undefined;
}

/** The password, generated (256 random bits, hex) the first time. */
export function ensureRedisPassword(p: NodePaths): string {
  const existing = readRedisPassword(p);
  if (existing) return existing;
  const pw = randomBytes(32).toString('hex');
  writeIfChanged(p.redisPasswordFile, `${pw}\n`, { mode: 0o600, uid: 0, gid: 0 });
  return pw;
}

/** The password for a running node, or a sentence saying what to do. */
export function requireRedisPassword(p: NodePaths): string {
  const pw = readRedisPassword(p);
  if (!pw) {
    throw new DfsError(
      ErrorCode.NodeNotUp,
      `node ${p.name} has no Redis password in ${p.redisPasswordFile} (readable by root only); run \`dfs-ebpf node up --name ${p.name}\` as root`,
    );
  }
  return pw;
}

/** Environment for a child that talks to the node's Redis (never argv: that is world-readable). */
export function redisAuthEnv(pw: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, REDISCLI_AUTH: pw, ...extra };
}

// ---------------------------------------------------------------------------------------------
// The Redis user

const redisComment = (p: NodePaths): string => `dfs-ebpf local test node ${p.name} (redis)`;

export async function ensureRedisUser(ctx: NodeCtx, p: NodePaths): Promise<{ uid: number; gid: number }> {
  let entry = passwdEntry(p.redisUser);
  if (entry && entry.comment !== redisComment(p)) {
    throw new DfsError(
      ErrorCode.Conflict,
      `user ${p.redisUser} already exists and was not created by dfs-ebpf; remove it or pick another node name`,
    );
  }
  if (!entry) {
    ctx.progress(`creating user ${p.redisUser}`);
    await run(ctx, BIN.useradd, [
      '--system',
      '--user-group',
      '--home-dir',
      '/nonexistent',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      '--comment',
      redisComment(p),
      p.redisUser,
    ]);
    entry = passwdEntry(p.redisUser);
    if (!entry) throw new DfsError(ErrorCode.Internal, `useradd did not create ${p.redisUser}`);
  }
  return { uid: entry.uid, gid: entry.gid };
}

export async function removeRedisUser(ctx: NodeCtx, p: NodePaths): Promise<void> {
  const entry = passwdEntry(p.redisUser);
  if (!entry) return;
  if (entry.comment !== redisComment(p)) {
    ctx.log.warn(`leaving user ${p.redisUser}: it was not created by dfs-ebpf`);
    return;
  }
  ctx.progress(`removing user ${p.redisUser}`);
  await run(ctx, BIN.userdel, [p.redisUser]);
}

// ---------------------------------------------------------------------------------------------
// Configuration, status, start

/** The addresses an instance listens on: loopback, plus the fleet address of a fleet's node 0. */
const bindValue = (fleetAddr: string | undefined): string => (fleetAddr ? `127.0.0.1 ${fleetAddr}` : '127.0.0.1');

/** redis.conf of one instance (given on stdin, so the password is never on disk or in argv). */
export function redisConfigText(p: NodePaths, role: RedisRole, password: string, fleetAddr?: string): string {
  const lines = [
    `bind ${bindValue(fleetAddr)}`,
    `port ${redisPort(role)}`,
    'protected-mode yes',
    `requirepass ${password}`,
    'save ""',
    'appendonly no',
    'daemonize yes',
    `pidfile ${pidFile(p, role)}`,
    `logfile ${logFile(p, role)}`,
    `dir ${redisDir(p, role)}`,
  ];
  // Root (JuiceFS, bench) reaches it through DAC override; its 0700 directory keeps everyone else out.
  if (role === 'redis-meta') lines.push(`unixsocket ${p.redisMetaSocket}`, 'unixsocketperm 600');
  return lines.join('\n') + '\n';
}

export async function redisCli(
  ctx: NodeCtx,
  p: NodePaths,
  port: number,
  password: string,
  args: readonly string[],
  host = '127.0.0.1',
): Promise<string | undefined> {
  const [file, argv] = inNetns(p, [BIN.redisCli, '-h', host, '-p', String(port), ...args]);
  const res = await run(ctx, file, argv, { allowFailure: true, timeoutMs: 10_000, env: redisAuthEnv(password) });
  return res.code === 0 ? res.stdout.trim() : undefined;
}

function uidOf(pid: number): number | undefined {
  try {
    const m = /^Uid:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? undefined : Number(m[1]);
  } catch (e) {
    if (e instanceof Error && 'code' in e) return undefined; // exited
    throw e;
  }
}

export async function redisStatus(ctx: NodeCtx, p: NodePaths, role: RedisRole): Promise<ComponentCheck> {
  const placed = placementOf(p, pidFile(p, role), REDIS_COMM);
  const port = redisPort(role);
  if (!placed.ok || placed.pid === undefined) return { ok: false, detail: placed.detail };
  const user = passwdEntry(p.redisUser);
  if (!user || uidOf(placed.pid) !== user.uid) {
    return { ok: false, detail: `${placed.detail} on 127.0.0.1:${port}, but not running as ${p.redisUser}` };
  }
  if (!isRoot()) return { ok: true, detail: `${placed.detail} on 127.0.0.1:${port} (PING needs root)` };
  const pw = readRedisPassword(p);
  if (!pw) return { ok: false, detail: `${placed.detail}, but the node has no Redis password` };
  const pong = await redisCli(ctx, p, port, pw, ['ping']);
  if (pong !== 'PONG') {
    return {
      ok: false,
      detail: `${placed.detail}, but 127.0.0.1:${port} does not answer PING with the node's password`,
    };
  }
  return { ok: true, detail: `${placed.detail} as ${p.redisUser}, PONG on 127.0.0.1:${port} with password` };
}

/** Starts the instance unless it is healthy; true when it started one (empty: Redis keeps nothing on disk). */
export async function ensureRedis(
  ctx: NodeCtx,
  p: NodePaths,
  cgroupDir: string,
  role: RedisRole,
  owner: { uid: number; gid: number },
  password: string,
  fleetAddr?: string,
): Promise<boolean> {
  if ((await redisStatus(ctx, p, role)).ok) {
    if (fleetAddr) await ensureFleetBind(ctx, p, role, password, fleetAddr);
    return false;
  }
  const port = redisPort(role);
  // Ours but unhealthy, or one started by an older version (as root, another pid file): it holds the port.
  const onPort = cgroupPids(cgroupDir).filter(
    (pid) => REDIS_COMM.test(processName(pid)) && (readIfExists(`/proc/${pid}/cmdline`) ?? '').includes(`:${port}`),
  );
  await stopPids(ctx, [...ownPid(placementOf(p, pidFile(p, role), REDIS_COMM)), ...onPort]);
  ensureOwnedDir(redisDir(p, role), 0o700, owner);
  const log = logFile(p, role);
  ctx.progress(`starting ${role === 'redis-meta' ? 'the Redis metadata engine' : 'the Redis object store'}`);
  await startInNode(
    ctx,
    p,
    cgroupDir,
    `redis (${role})`,
    [
      BIN.setpriv,
      `--reuid=${owner.uid}`,
      `--regid=${owner.gid}`,
      '--clear-groups',
      '--no-new-privs',
      '--',
      BIN.redisServer,
      '-', // the configuration comes on stdin
    ],
    launchLogFile(p, role),
    { stdin: redisConfigText(p, role, password, fleetAddr) },
  );
  const ok = await waitUntil(10_000, async () => (await redisStatus(ctx, p, role)).ok, 100);
  if (!ok) {
    const why = logTail(log) || logTail(launchLogFile(p, role));
    throw new DfsError(
      ErrorCode.Internal,
      `redis (${role}) did not answer PING on 127.0.0.1:${port}: ${why}; see ${log}`,
    );
  }
  return true;
}

/** Whether the instance answers PING on the fleet address (from inside its node's netns). */
export async function answersOnFleet(
  ctx: NodeCtx,
  p: NodePaths,
  role: RedisRole,
  password: string,
  fleetAddr: string,
): Promise<boolean> {
  return (await redisCli(ctx, p, redisPort(role), password, ['ping'], fleetAddr)) === 'PONG';
}

/** A running instance that does not listen on the fleet address yet gets it, without a restart. */
async function ensureFleetBind(
  ctx: NodeCtx,
  p: NodePaths,
  role: RedisRole,
  password: string,
  fleetAddr: string,
): Promise<void> {
  if (await answersOnFleet(ctx, p, role, password, fleetAddr)) return;
  ctx.progress(`letting ${role} listen on the fleet address ${fleetAddr}`);
  const port = redisPort(role);
  const ok = await redisCli(ctx, p, port, password, ['config', 'set', 'bind', bindValue(fleetAddr)]);
  if (ok !== 'OK' || !(await answersOnFleet(ctx, p, role, password, fleetAddr))) {
    throw new DfsError(
      ErrorCode.Internal,
      `redis (${role}) of node ${p.name} does not listen on ${fleetAddr}:${port} (CONFIG SET bind answered ${ok ?? 'nothing'}); see ${logFile(p, role)}`,
    );
  }
}
