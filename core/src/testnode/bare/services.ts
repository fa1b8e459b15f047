/**
 * The bare node's services, each started inside the node (its netns, mount namespace and node
 * cgroup) from the node's own binaries, as the server's init would: sshd with Debian's stock
 * configuration, redis-server twice as the package's `redis` user (metadata 127.0.0.1:6379,
 * objects 127.0.0.1:6380, password required, nothing kept on disk), and JuiceFS formatted on
 * them and mounted at /mnt/jfs by root with `juicefs mount -d`.
 *
 * sshd and Redis run in the foreground as detached children, so the PID we record is the
 * daemon's own (the launcher execs all the way down: sh → nsenter → [setpriv →] daemon); their
 * output goes to root-only logs in the node's state dir on the host. JuiceFS's PID is the one
 * its `.config` names. A service counts as up only when its recorded PID is alive, is the right
 * program, sits in the node cgroup and in the node's mount namespace, and answers (SSH banner,
 * Redis PING with the password, a live JuiceFS `.config`); anything else is stopped by PID and
 * started again. The Redis password reaches Redis on stdin and JuiceFS through its environment.
 */

import { spawn } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../../errors';
import { cgroupPids, inNodeCgroup } from '../cgroup';
import { BUCKET_URL, META_URL, REDIS_META_PORT, REDIS_OBJECT_PORT } from '../paths';
import { isAlive, processName, stopPids } from '../procs';
import { sshBanner } from '../sshd';
import { logTail, type NodeCtx, readIfExists, waitUntil } from '../sys';
import { type BarePaths, type BareService, type BareState, INSIDE } from './layout';
import { enterArgv, mntnsId, nodeMounts, runInNode, topMounts } from './mntns';

export interface ServiceCtx {
  ctx: NodeCtx;
  bp: BarePaths;
  cgroupDir: string;
  state: BareState;
  host: string;
  redisPassword: string;
  /** Persists `state` (bare.json), called as soon as a PID is recorded. */
  save: () => void;
}

const COMM: Record<BareService, RegExp> = {
  sshd: /^sshd/,
  'redis-meta': /^redis-server/,
  'redis-object': /^redis-server/,
  juicefs: /^juicefs/,
};

const logOf = (s: ServiceCtx, what: string): string => join(s.bp.logsDir, `${what}.log`);

/** Is `pid` a live `svc` process of this node (cgroup and mount namespace)? */
export function placed(s: ServiceCtx, svc: BareService, pid: number | undefined): pid is number {
  if (pid === undefined || !isAlive(pid) || !COMM[svc].test(processName(pid))) return false;
  if (!inNodeCgroup(pid, s.bp.name)) return false;
  try {
    const st = statSync(`/proc/${pid}/ns/mnt`);
    return `${st.dev}:${st.ino}` === mntnsId(s.bp);
  } catch (e) {
    if (e instanceof Error && 'code' in e) return false; // exited meanwhile
    throw e;
  }
}

/**
 * What must stop before `svc` starts again: its recorded PID if still its, and any other `svc`
 * process of the node whose command line has `mark` (one whose PID was never recorded, e.g.
 * after a crash of ours between its start and the state write).
 */
function ownOrStray(s: ServiceCtx, svc: BareService, recorded: number | undefined, mark: string): number[] {
  const cg = cgroupPids(s.cgroupDir).filter(
    (pid) =>
      placed(s, svc, pid) && (readIfExists(`/proc/${pid}/cmdline`) ?? '').split('\0').some((a) => a.includes(mark)),
  );
  return [...(placed(s, svc, recorded) ? [recorded] : []), ...cg];
}

/**
 * Starts `argv` inside the node as a detached process (stdin: `stdin` or nothing; output
 * appended to `log`, a host file). Returns its PID and a promise of its exit code; unless
 * `wait`, the process does not keep ours alive (a daemon outlives `up`).
 */
function launch(
  s: ServiceCtx,
  argv: readonly string[],
  log: string,
  opts: { stdin?: string; env?: Record<string, string>; wait?: boolean } = {},
): { pid: number; exited: Promise<number | null> } {
  const fd = openSync(log, 'a', 0o600);
  const [file, args] = enterArgv(s.bp, s.cgroupDir, argv);
  s.ctx.log.debug(`$ ${[file, ...args].join(' ')} (detached, output to ${log})`);
  const child = spawn(file, args, {
    detached: true,
    stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', fd, fd],
    env: { ...INSIDE.env, ...opts.env },
  });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  if (!opts.wait) child.unref();
  if (child.pid === undefined) throw new DfsError(ErrorCode.Internal, `cannot start ${argv[0] ?? ''} in the node`);
  return { pid: child.pid, exited };
}

/** Starts a foreground daemon and waits until `healthy`; fails with its log's tail if it exits or stalls. */
async function startDaemon(
  s: ServiceCtx,
  svc: BareService,
  argv: readonly string[],
  healthy: (pid: number) => Promise<boolean>,
  stdin?: string,
): Promise<number> {
  const log = logOf(s, svc);
  const { pid, exited } = launch(s, argv, log, stdin === undefined ? {} : { stdin });
  let code: number | null | undefined;
  void exited.then((c) => (code = c));
  const ok = await waitUntil(15_000, async () => code !== undefined || (placed(s, svc, pid) && (await healthy(pid))));
  if (!ok || code !== undefined) {
    await stopPids(s.ctx, [pid]);
    const why = code !== undefined ? `exited with ${String(code)}` : 'did not answer in 15 s';
    throw new DfsError(ErrorCode.Internal, `${svc} in bare node ${s.bp.name} ${why}: ${logTail(log)}; see ${log}`);
  }
  s.state.pids[svc] = pid;
  s.save();
  return pid;
}

// ---------------------------------------------------------------------------------------------
// sshd

const sshdAnswers = async (s: ServiceCtx): Promise<boolean> => (await sshBanner(s.host, 22)).startsWith('SSH-2.0-');

export async function ensureSshd(s: ServiceCtx): Promise<void> {
  const pid = s.state.pids.sshd;
  if (placed(s, 'sshd', pid) && (await sshdAnswers(s))) return;
  await stopPids(s.ctx, ownOrStray(s, 'sshd', pid, '-D'));
  await runInNode(s.ctx, s.bp, s.cgroupDir, ['/usr/sbin/sshd', '-t']);
  s.ctx.progress('starting sshd in the bare node');
  await startDaemon(s, 'sshd', ['/usr/sbin/sshd', '-D', '-e'], () => sshdAnswers(s));
}

// ---------------------------------------------------------------------------------------------
// Redis

type RedisRole = 'redis-meta' | 'redis-object';
const portOf = (role: RedisRole): number => (role === 'redis-meta' ? REDIS_META_PORT : REDIS_OBJECT_PORT);

async function redisCli(s: ServiceCtx, port: number, args: readonly string[]): Promise<string | undefined> {
  const res = await runInNode(s.ctx, s.bp, s.cgroupDir, ['redis-cli', '-h', '127.0.0.1', '-p', String(port), ...args], {
    allowFailure: true,
    timeoutMs: 10_000,
    env: { REDISCLI_AUTH: s.redisPassword },
  });
  return res.code === 0 ? res.stdout.trim() : undefined;
}

const redisAnswers = async (s: ServiceCtx, role: RedisRole): Promise<boolean> =>
  (await redisCli(s, portOf(role), ['ping'])) === 'PONG';

function redisConfig(s: ServiceCtx, role: RedisRole): string {
  return [
    'bind 127.0.0.1',
    `port ${portOf(role)}`,
    'protected-mode yes',
    `requirepass ${s.redisPassword}`,
    'save ""',
    'appendonly no',
    'daemonize no',
    'logfile ""',
    `dir ${INSIDE.redisDir}`,
    '',
  ].join('\n');
}

/** true when it started the instance (empty: the JuiceFS volume on it must be made again). */
export async function ensureRedis(s: ServiceCtx, role: RedisRole): Promise<boolean> {
  const pid = s.state.pids[role];
  if (placed(s, role, pid) && (await redisAnswers(s, role))) return false;
  await stopPids(s.ctx, ownOrStray(s, role, pid, `:${portOf(role)}`));
  s.ctx.progress(`starting ${role} in the bare node`);
  const u = INSIDE.redisUser;
  const argv = ['setpriv', `--reuid=${u}`, `--regid=${u}`, '--clear-groups', '--no-new-privs', '--'];
  await startDaemon(s, role, [...argv, 'redis-server', '-'], () => redisAnswers(s, role), redisConfig(s, role));
  return true;
}

// ---------------------------------------------------------------------------------------------
// JuiceFS

const juicefsEnv = (s: ServiceCtx, extra: Record<string, string> = {}): Record<string, string> => ({
  META_PASSWORD: s.redisPassword,
  ...extra,
});

/** The PID of the daemon serving /mnt/jfs, when the mount is live and the node's. */
async function juicefsPid(s: ServiceCtx): Promise<number | undefined> {
  const mounts = await nodeMounts(s.ctx, s.bp, s.cgroupDir);
  const mp = mounts && topMounts(mounts).get(INSIDE.mountpoint);
  if (mp?.fstype !== 'fuse.juicefs') return undefined;
  const res = await runInNode(s.ctx, s.bp, s.cgroupDir, ['cat', `${INSIDE.mountpoint}/.config`], {
    allowFailure: true,
    timeoutMs: 5000,
  });
  if (res.code !== 0) return undefined;
  let pid: unknown;
  try {
    pid = (JSON.parse(res.stdout) as { Pid?: unknown }).Pid;
  } catch (e) {
    if (e instanceof SyntaxError) return undefined;
    throw e;
  }
  if (typeof pid !== 'number' || !placed(s, 'juicefs', pid)) return undefined;
  s.state.fuseConnection = mp.dev;
  return pid;
}

async function juicefs(s: ServiceCtx, args: string[], env: Record<string, string>, timeoutMs = 60_000) {
  return runInNode(s.ctx, s.bp, s.cgroupDir, [INSIDE.juicefs, ...args], { allowFailure: true, timeoutMs, env });
}

async function ensureFormatted(s: ServiceCtx, reset: boolean): Promise<void> {
  if (!reset) {
    const st = await juicefs(s, ['status', META_URL], juicefsEnv(s));
    if (st.code === 0) return;
    if (!/not formatted/.test(st.stderr)) {
      throw new DfsError(
        ErrorCode.Internal,
        `juicefs status in bare node ${s.bp.name}: ${st.stderr.trim().split('\n').pop() ?? ''}`,
      );
    }
  }
  s.ctx.progress('formatting JuiceFS in the bare node');
  for (const [port, db] of [
    [REDIS_META_PORT, '1'],
    [REDIS_OBJECT_PORT, '0'],
  ] as const) {
    if ((await redisCli(s, port, ['-n', db, 'flushdb'])) !== 'OK')
      throw new DfsError(ErrorCode.Internal, `cannot clear Redis db ${db} on port ${port} in bare node ${s.bp.name}`);
  }
  const res = await juicefs(
    s,
    ['format', '--storage', 'redis', '--bucket', BUCKET_URL, META_URL, s.bp.name],
    juicefsEnv(s, { SECRET_KEY: s.redisPassword }),
    120_000,
  );
  if (res.code !== 0)
    throw new DfsError(
      ErrorCode.Internal,
      `juicefs format in bare node ${s.bp.name}: ${res.stderr.trim().split('\n').pop() ?? ''}`,
    );
}

/** Mounts JuiceFS at /mnt/jfs unless a live mount is there; `dataLost` remakes the volume. Returns the version. */
export async function ensureJuicefs(s: ServiceCtx, dataLost: boolean): Promise<string> {
  const version = async (): Promise<string> => {
    const out = (await juicefs(s, ['--version'], {})).stdout;
    return /version\s+(\S+)/.exec(out)?.[1] ?? out.trim();
  };
  const live = await juicefsPid(s);
  if (live !== undefined && !dataLost) {
    s.state.pids.juicefs = live;
    return version();
  }
  if (live !== undefined) await unmountJuicefs(s);
  await ensureFormatted(s, dataLost);
  await runInNode(s.ctx, s.bp, s.cgroupDir, ['mkdir', '-p', INSIDE.mountpoint]);
  s.ctx.progress('mounting JuiceFS in the bare node');
  const log = logOf(s, 'juicefs-mount');
  const argv = [INSIDE.juicefs, 'mount', '-d', '--cache-size', '0', '--no-usage-report', META_URL, INSIDE.mountpoint];
  // `mount -d` returns once the mount is ready (its daemon goes on detached).
  const { exited } = launch(s, argv, log, { env: juicefsEnv(s), wait: true });
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    exited,
    new Promise<string>((r) => (timer = setTimeout(() => r('no answer in 120 s'), 120_000))),
  ]);
  clearTimeout(timer);
  let pid: number | undefined;
  const ok = code === 0 && (await waitUntil(30_000, async () => (pid = await juicefsPid(s)) !== undefined, 200));
  if (!ok || pid === undefined) {
    throw new DfsError(
      ErrorCode.Internal,
      `JuiceFS did not mount in bare node ${s.bp.name} (${String(code)}): ${logTail(log)}; see ${log}`,
    );
  }
  s.state.pids.juicefs = pid;
  s.save();
  return version();
}

/** Unmounts /mnt/jfs inside the node (graceful, then lazy); quiet when nothing is mounted. */
export async function unmountJuicefs(s: ServiceCtx): Promise<void> {
  const mounted = async (): Promise<boolean> => {
    const m = await nodeMounts(s.ctx, s.bp, s.cgroupDir);
    return m !== undefined && topMounts(m).get(INSIDE.mountpoint) !== undefined;
  };
  if (!(await mounted())) return;
  s.ctx.progress('unmounting JuiceFS in the bare node');
  await juicefs(s, ['umount', INSIDE.mountpoint], {}, 20_000);
  if (await mounted()) {
    await runInNode(s.ctx, s.bp, s.cgroupDir, ['umount', '-l', INSIDE.mountpoint], {
      allowFailure: true,
      timeoutMs: 10_000,
    });
  }
}

/** Every recorded PID still of this node (for down). */
export function recordedPids(s: ServiceCtx): number[] {
  return (Object.entries(s.state.pids) as [BareService, number][])
    .filter(([svc, pid]) => placed(s, svc, pid))
    .map(([, pid]) => pid);
}
