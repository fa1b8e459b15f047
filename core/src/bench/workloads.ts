/**
 * The benchmark workloads, each bounded and self-stopping, each in a TCP form (bypass off or
 * on) and a Unix-socket form (the limit):
 *  - redis-small: redis-benchmark against the node's metadata Redis (SET+GET, 16-byte values,
 *    50 clients), run inside the node's network namespace and cgroup so its sockets are the
 *    kind the bypass sees; DB 15 keeps JuiceFS's own data untouched. It logs in as bench's own
 *    Redis user (redis-benchmark takes a password only in argv). Limit: the same redis-server
 *    over its Unix socket.
 *  - juicefs-metadata: a metadata-heavy burst on the JuiceFS mount (create, stat, rename,
 *    unlink of empty files, 16 in flight), timed per operation; every op is a metadata
 *    transaction between the JuiceFS daemon and Redis. Limit: the same burst on the same
 *    volume mounted a second time with its metadata engine over the Unix socket.
 */

import { mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../util/exec';
import type { Mode, Workload } from './ab';
import { percentile } from './stats';

export interface Sample {
  /** Throughput in ops/s. */
  value: number;
  p50_ms: number;
  p99_ms: number;
}

export interface LocalNodeRef {
  name: string;
  cgroup: string;
  mountpoint: string;
}

/** argv that runs `argv` inside the node's network namespace and cgroup (local nodes only). */
export function inNode(node: LocalNodeRef, argv: string[]): [string, string[]] {
  return [
    'nsenter',
    [
      `--net=/run/netns/${node.name}`,
      'sh',
      '-c',
      'echo $$ > "$1/cgroup.procs" && shift && exec "$@"',
      'sh',
      node.cgroup,
      ...argv,
    ],
  ];
}

interface CsvRow {
  test: string;
  rps: number;
  p50: number;
  p99: number;
}

export function parseRedisBenchmarkCsv(csv: string): CsvRow[] {
  const lines = csv.trim().split('\n');
  const header = (lines.shift() ?? '').split(',').map((h) => h.replace(/"/g, ''));
  const col = (name: string): number => header.indexOf(name);
  return lines.map((l) => {
    const f = l.split(',').map((x) => x.replace(/"/g, ''));
    return {
      test: f[col('test')] ?? '',
      rps: Number(f[col('rps')]),
      p50: Number(f[col('p50_latency_ms')]),
      p99: Number(f[col('p99_latency_ms')]),
    };
  });
}

/** Where redis-benchmark connects and as whom. */
export interface RedisTarget {
  /** TCP port on 127.0.0.1, or the Unix socket. */
  port?: number;
  socket?: string;
  user: string;
  password: string;
}

/** redis-benchmark's argv for the small-value workload (pure, unit-tested). */
export function redisSmallArgv(target: RedisTarget, requests: number): string[] {
  const where =
    target.socket !== undefined ? ['-s', target.socket] : ['-h', '127.0.0.1', '-p', String(target.port ?? 6379)];
  return [
    'redis-benchmark',
    ...where,
    '--user',
    target.user,
    '-a',
    target.password,
    '--dbnum',
    '15',
    '-t',
    'set,get',
    '-n',
    String(requests),
    '-c',
    '50',
    '-d',
    '16',
    '--precision',
    '3',
    '--csv',
  ];
}

export async function redisSmall(node: LocalNodeRef, target: RedisTarget, requests: number): Promise<Sample> {
  const [file, args] = inNode(node, redisSmallArgv(target, requests));
  const { stdout } = await exec(file, args, { timeoutMs: 300_000 });
  const rows = parseRedisBenchmarkCsv(stdout);
  if (rows.length === 0) throw new Error(`redis-benchmark printed no results: ${stdout.slice(0, 200)}`);
  const mean = (f: (r: CsvRow) => number): number => rows.reduce((s, r) => s + f(r), 0) / rows.length;
  return { value: mean((r) => r.rps), p50_ms: mean((r) => r.p50), p99_ms: mean((r) => r.p99) };
}

export async function juicefsMetadata(mountpoint: string, files: number, parallel = 16): Promise<Sample> {
  const dir = join(mountpoint, `.dfs-bench-${process.pid}-${Date.now()}`);
  await mkdir(dir);
  const lat: number[] = [];
  const timed = async <T>(op: () => Promise<T>): Promise<T> => {
    const t0 = process.hrtime.bigint();
    const r = await op();
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    return r;
  };
  const one = async (i: number): Promise<void> => {
    const a = join(dir, `f${i}`);
    const b = join(dir, `g${i}`);
    const fh = await timed(() => open(a, 'wx'));
    await fh.close();
    await timed(() => stat(a));
    await timed(() => rename(a, b));
    await timed(() => unlink(b));
  };
  const t0 = process.hrtime.bigint();
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < files) await one(next++);
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { value: lat.length / seconds, p50_ms: percentile(lat, 50), p99_ms: percentile(lat, 99) };
}

/** What the standard workloads need from the node besides the node itself. */
export interface BenchTargets {
  redis: { user: string; password: string; socket: string };
  /** The same volume, metadata over the Unix socket. */
  unixMountpoint: string;
}

export function standardWorkloads(node: LocalNodeRef, targets: BenchTargets, quick: boolean): Workload[] {
  const { user, password, socket } = targets.redis;
  const redisRequests = quick ? 20_000 : 100_000;
  const files = quick ? 300 : 1500;
  return [
    {
      name: 'redis-small',
      unit: 'ops/s',
      limit: 'the same redis-server over its Unix socket',
      run: (mode: Mode) =>
        redisSmall(node, mode === 'limit' ? { socket, user, password } : { port: 6379, user, password }, redisRequests),
    },
    {
      name: 'juicefs-metadata',
      unit: 'ops/s',
      limit: 'the same volume mounted again with its metadata engine over the Unix socket',
      run: (mode: Mode) => juicefsMetadata(mode === 'limit' ? targets.unixMountpoint : node.mountpoint, files),
    },
  ];
}
