/**
 * The benchmark workloads, each bounded and self-stopping:
 *  - redis-small: redis-benchmark against the node's metadata Redis (SET+GET, 16-byte values,
 *    50 clients), run inside the node's network namespace and cgroup so its sockets are the
 *    kind the bypass sees; DB 15 keeps JuiceFS's own data untouched.
 *  - juicefs-metadata: a metadata-heavy burst on the JuiceFS mount (create, stat, rename,
 *    unlink of empty files, 16 in flight), timed per operation; every op is a metadata
 *    transaction between the JuiceFS daemon and Redis.
 */

import { mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { exec } from '../util/exec';
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

export async function redisSmall(node: LocalNodeRef, requests: number): Promise<Sample> {
  const [file, args] = inNode(node, [
    'redis-benchmark',
    '-h',
    '127.0.0.1',
    '-p',
    '6379',
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
  ]);
  const { stdout } = await exec(file, args, { timeoutMs: 300_000 });
  const rows = parseRedisBenchmarkCsv(stdout);
  if (rows.length === 0) throw new Error(`redis-benchmark printed no results: ${stdout.slice(0, 200)}`);
  const mean = (f: (r: CsvRow) => number): number => rows.reduce((s, r) => s + f(r), 0) / rows.length;
  return { value: mean((r) => r.rps), p50_ms: mean((r) => r.p50), p99_ms: mean((r) => r.p99) };
}

export async function juicefsMetadata(node: LocalNodeRef, files: number, parallel = 16): Promise<Sample> {
  const dir = join(node.mountpoint, `.dfs-bench-${process.pid}-${Date.now()}`);
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
