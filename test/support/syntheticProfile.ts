// Test support: deterministic synthetic Profiles shaped like a JuiceFS I/O path (FUSE server
// loop → fileSystem op → VFS → meta / chunk store → Redis / object client → net → syscall →
// kernel frames with `_[k]`), latency-weighted, with every unique-stack count asked for
// (depth 8–40, as in shared/reference/flame-render-anchor.md), plus histograms for every
// layer (FUSE per opcode with total/queue/daemon phases). Used by the profile unit tests,
// the viewer bench and its screenshots. `variant: 'after'` makes a second profile of the same
// shape where the metadata path got faster and the object path slower (for diff views).
import type { LatencyHistogram, Profile, ProfileStack, StackKind } from '../../protocol/src';

/** mulberry32: a small seeded PRNG, so every run draws the same profile. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JFS = 'github.com/juicedata/juicefs/pkg';
const PATHS: { ops: string[]; kernel: string[]; kind: StackKind; weight: number; tag: 'meta' | 'object' | 'cache' }[] =
  [
    {
      ops: [
        `${JFS}/fuse.(*fileSystem).Lookup`,
        `${JFS}/vfs.(*VFS).Lookup`,
        `${JFS}/meta.(*baseMeta).Lookup`,
        `${JFS}/meta.(*redisMeta).doLookup`,
      ],
      kernel: ['entry_SYSCALL_64_after_hwframe_[k]', 'do_syscall_64_[k]', '__x64_sys_recvfrom_[k]', 'tcp_recvmsg_[k]'],
      kind: 'offcpu',
      weight: 3,
      tag: 'meta',
    },
    {
      ops: [
        `${JFS}/fuse.(*fileSystem).GetAttr`,
        `${JFS}/vfs.(*VFS).GetAttr`,
        `${JFS}/meta.(*baseMeta).GetAttr`,
        `${JFS}/meta.(*redisMeta).doGetAttr`,
      ],
      kernel: ['entry_SYSCALL_64_after_hwframe_[k]', 'do_syscall_64_[k]', '__x64_sys_sendto_[k]', 'tcp_sendmsg_[k]'],
      kind: 'oncpu',
      weight: 2,
      tag: 'meta',
    },
    {
      ops: [
        `${JFS}/fuse.(*fileSystem).Read`,
        `${JFS}/vfs.(*VFS).Read`,
        `${JFS}/vfs.(*fileReader).Read`,
        `${JFS}/chunk.(*rChunk).ReadAt`,
        `${JFS}/chunk.(*cachedStore).load`,
        `${JFS}/object.(*redisStore).Get`,
      ],
      kernel: [
        'entry_SYSCALL_64_after_hwframe_[k]',
        'do_syscall_64_[k]',
        '__x64_sys_read_[k]',
        'sock_read_iter_[k]',
        'tcp_recvmsg_[k]',
      ],
      kind: 'slow',
      weight: 5,
      tag: 'object',
    },
    {
      ops: [
        `${JFS}/fuse.(*fileSystem).Write`,
        `${JFS}/vfs.(*VFS).Write`,
        `${JFS}/vfs.(*fileWriter).Write`,
        `${JFS}/chunk.(*wChunk).upload`,
        'github.com/aws/aws-sdk-go/aws/request.(*Request).Send',
      ],
      kernel: [
        'entry_SYSCALL_64_after_hwframe_[k]',
        'do_syscall_64_[k]',
        '__x64_sys_write_[k]',
        'tcp_sendmsg_locked_[k]',
      ],
      kind: 'offcpu',
      weight: 4,
      tag: 'object',
    },
    {
      ops: [
        `${JFS}/fuse.(*fileSystem).Read`,
        `${JFS}/vfs.(*VFS).Read`,
        `${JFS}/chunk.(*diskCache).load`,
        'os.(*File).ReadAt',
      ],
      kernel: [
        'entry_SYSCALL_64_after_hwframe_[k]',
        'do_syscall_64_[k]',
        '__x64_sys_pread64_[k]',
        'ext4_file_read_iter_[k]',
        'filemap_read_[k]',
      ],
      kind: 'oncpu',
      weight: 2,
      tag: 'cache',
    },
  ];

const MIDDLE = [
  'github.com/redis/go-redis/v9.(*baseClient).process',
  'github.com/redis/go-redis/v9.(*baseClient).withConn',
  'github.com/redis/go-redis/v9/internal/pool.(*Conn).WithReader',
  'github.com/redis/go-redis/v9/internal/proto.(*Reader).ReadReply',
  'bufio.(*Reader).fill',
  'net.(*conn).Read',
  'net.(*netFD).Read',
  'internal/poll.(*FD).Read',
  'runtime.mallocgc',
  'runtime.gcAssistAlloc',
  'runtime.mapaccess2_faststr',
  'sync.(*Mutex).Lock',
  'sync.(*Mutex).lockSlow',
  'runtime.semacquire1',
  'encoding/binary.Read',
  'crypto/md5.block',
  'hash/crc32.ieeeCLMUL',
  'github.com/juicedata/juicefs/pkg/utils.(*Cond).WaitWithTimeout',
];

export interface SyntheticOptions {
  stacks: number;
  seed?: number;
  node?: string;
  variant?: 'before' | 'after';
  /** Extra distinct helper names to draw from (more makes more unique stacks cheaper). */
  helpers?: number;
}

export function syntheticProfile(o: SyntheticOptions): Profile {
  const rnd = prng(o.seed ?? 1);
  const helpers = Array.from(
    { length: o.helpers ?? 400 },
    (_, i) => `${JFS}/${['meta', 'chunk', 'vfs', 'object', 'utils'][i % 5]}.helper${i}`,
  );
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const seen = new Set<string>();
  const bases: { frames: string[]; path: (typeof PATHS)[number] }[] = [];
  const stacks: ProfileStack[] = [];
  const totalW = PATHS.reduce((s, p) => s + p.weight, 0);
  let guard = 0;
  while (stacks.length < o.stacks && guard++ < o.stacks * 20) {
    let r = rnd() * totalW;
    let path = PATHS.find((p) => (r -= p.weight) < 0) ?? PATHS[0]!;
    const depth = 8 + Math.floor(rnd() * 33);
    let frames: string[];
    const base = bases.length > 20 && rnd() < 0.93 ? bases[Math.floor(rnd() * bases.length)] : undefined;
    if (base) path = base.path;
    const kernelTail = rnd() < 0.7 ? path.kernel.slice(0, 1 + Math.floor(rnd() * path.kernel.length)) : [];
    if (base) {
      // Most stacks are an earlier one cut a little higher and grown a little differently, so
      // they share long prefixes as real ones do (the anchor's 100,000 stacks made ~370,000 nodes).
      frames = base.frames.slice(0, Math.max(7, base.frames.length - 1 - Math.floor(rnd() * 3)));
      const grow = 1 + Math.floor(rnd() * 3);
      for (let g = 0; g < grow && frames.length < 36; g++) frames.push(rnd() < 0.5 ? pick(MIDDLE) : pick(helpers));
    } else {
      frames = [
        'juicefs',
        'runtime.goexit',
        'github.com/hanwen/go-fuse/v2/fuse.(*Server).loop',
        'github.com/hanwen/go-fuse/v2/fuse.(*Server).handleRequest',
      ];
      frames.push(...path.ops.slice(0, 1 + Math.floor(rnd() * path.ops.length)));
      while (frames.length + kernelTail.length < depth) frames.push(rnd() < 0.5 ? pick(MIDDLE) : pick(helpers));
    }
    const user = frames.slice();
    frames.push(...kernelTail);
    frames.length = Math.min(frames.length, 40);
    const key = frames.join(';');
    if (seen.has(key)) continue;
    seen.add(key);
    bases.push({ frames: user, path });
    // Latency-weighted: a log-normal-ish request time, µs to tens of ms.
    let ns = Math.round(Math.exp(9 + rnd() * 4 + rnd() * 3));
    if (o.variant === 'after') ns = Math.round(ns * (path.tag === 'meta' ? 0.45 : path.tag === 'object' ? 1.6 : 1));
    stacks.push({ frames, total_ns: ns, count: 1 + Math.floor(rnd() * 20), kind: path.kind });
  }
  return {
    version: 1,
    node: o.node ?? 'dfsnode0',
    mountpoint: '/mnt/jfs',
    juicefs: '1.4.0',
    started_at: '2026-11-26T12:00:00.000Z',
    duration_s: 30,
    histograms: syntheticHistograms(rnd, o.variant ?? 'before'),
    stacks,
    sources: { [`${JFS}/fuse.(*fileSystem).Read`]: { file: 'pkg/fuse/fuse.go', line: 312 } },
    drops: { events: 0, stacks: 3, inflight: 0 },
    cost: [
      { name: 'fuse_send', run_cnt: 120_000, run_time_ns: 48_000_000 },
      { name: 'fuse_end', run_cnt: 120_000, run_time_ns: 61_000_000 },
    ],
    config: { stacks: true, slow_request_us: 10_000 },
  };
}

/** Log2 histogram of `n` latencies drawn around `centerUs`. */
function hist(
  rnd: () => number,
  n: number,
  centerUs: number,
  spread: number,
): { buckets: { le_us: number; count: number }[]; sum_ns: number } {
  const m = new Map<number, number>();
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const us = centerUs * Math.exp((rnd() + rnd() + rnd() - 1.5) * spread);
    sum += us * 1000;
    const le = us <= 1 ? 1 : 2 ** Math.ceil(Math.log2(us));
    m.set(le, (m.get(le) ?? 0) + 1);
  }
  return {
    buckets: [...m.entries()].sort((a, b) => a[0] - b[0]).map(([le_us, count]) => ({ le_us, count })),
    sum_ns: Math.round(sum),
  };
}

function syntheticHistograms(rnd: () => number, variant: 'before' | 'after'): LatencyHistogram[] {
  const out: LatencyHistogram[] = [];
  const metaScale = variant === 'after' ? 0.6 : 1;
  const fuse: [string, number, number][] = [
    ['LOOKUP', 4000, 180 * metaScale],
    ['GETATTR', 6000, 90 * metaScale],
    ['READ', 3000, 900],
    ['WRITE', 1500, 1500],
    ['CREATE', 300, 700 * metaScale],
  ];
  for (const [op, n, c] of fuse) {
    const total = hist(rnd, n, c, 2.2);
    out.push({ layer: 'fuse', op, count: n, ...total });
    const q = hist(rnd, n, c * 0.15, 1.5);
    out.push({ layer: 'fuse', op, phase: 'queue', count: n, ...q });
    const d = hist(rnd, n, c * 0.8, 2);
    out.push({ layer: 'fuse', op, phase: 'daemon', count: n, ...d });
  }
  for (const [op, n, c] of [
    ['read', 3200, 950],
    ['write', 1600, 1400],
    ['openat', 500, 260],
  ] as const) {
    out.push({ layer: 'syscall', op, count: n, ...hist(rnd, n, c, 2) });
  }
  out.push({ layer: 'meta', op: 'unix /run/dfs/redis.sock', count: 9000, ...hist(rnd, 9000, 70 * metaScale, 1.6) });
  out.push({ layer: 'object', op: 'redis 10.0.0.1:6380', count: 1200, ...hist(rnd, 1200, 2500, 1.8) });
  out.push({ layer: 'block', op: 'nvme0n1', count: 800, ...hist(rnd, 800, 300, 1.5) });
  return out;
}
