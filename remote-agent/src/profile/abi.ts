/**
 * The profiler's kernel ABI (bpf/profile.h) on the agent's side: sizes, constants, the syscall
 * table (index → name, in the order of `enum prof_sys`) and decoders of the raw map keys and
 * values. test/unit/profile-abi.test.ts compiles the header and fails when this file drifts.
 * All numbers are little-endian (the hosts we run on: x86_64, arm64).
 */

export const PROF_HIST_SLOTS = 32;
export const PROF_HIST_KEY_SIZE = 12;
export const PROF_HIST_SIZE = 16 + 8 * PROF_HIST_SLOTS;
export const PROF_ENDPOINT_SIZE = 8;
export const PROF_STACK_KEY_SIZE = 16;
export const PROF_STACK_VAL_SIZE = 16;
export const PROF_DROPS_SIZE = 48;
export const PROF_EVENT_SIZE = 56;
export const PROF_MAX_STACK_DEPTH = 127;

export const PROF_LAYER = { fuse: 0, syscall: 1, meta: 2, object: 3 } as const;
export const PROF_PHASE = { total: 0, queue: 1, daemon: 2 } as const;
export const PROF_KIND = { oncpu: 0, offcpu: 1, slow: 2 } as const;
export const PROF_AF_UNIX = 1;
export const PROF_AF_INET = 2;

/** `enum prof_sys`, in order: the syscall names of the syscall layer. */
export const PROF_SYSCALLS = [
  'read',
  'write',
  'pread64',
  'pwrite64',
  'readv',
  'writev',
  'fsync',
  'fdatasync',
  'getdents64',
  'newfstat',
  'close',
  'ftruncate',
  'fallocate',
  'openat',
  'newfstatat',
  'statx',
  'unlinkat',
  'mkdirat',
  'renameat2',
  'open',
  'newstat',
  'newlstat',
  'unlink',
  'mkdir',
  'rmdir',
  'rename',
  'sendto',
  'sendmsg',
  'recvfrom',
  'recvmsg',
] as const;

/** Size of prof_sysnr (syscall numbers at or above it are never measured). */
export const PROF_SYSNR_MAX = 512;

/**
 * Syscall numbers of each architecture for the prof_sys names (arch/x86/entry/syscalls/
 * syscall_64.tbl; arm64 uses the generic table, include/uapi/asm-generic/unistd.h, which has
 * no open/stat/lstat/unlink/mkdir/rmdir/rename). The agent writes them into prof_sysnr.
 */
export const SYSCALL_NUMBERS: Partial<
  Record<NodeJS.Architecture, Partial<Record<(typeof PROF_SYSCALLS)[number], number>>>
> = {
  x64: {
    read: 0,
    write: 1,
    open: 2,
    close: 3,
    newstat: 4,
    newfstat: 5,
    newlstat: 6,
    pread64: 17,
    pwrite64: 18,
    readv: 19,
    writev: 20,
    sendto: 44,
    recvfrom: 45,
    sendmsg: 46,
    recvmsg: 47,
    fsync: 74,
    fdatasync: 75,
    ftruncate: 77,
    rename: 82,
    mkdir: 83,
    rmdir: 84,
    unlink: 87,
    getdents64: 217,
    openat: 257,
    mkdirat: 258,
    newfstatat: 262,
    unlinkat: 263,
    fallocate: 285,
    renameat2: 316,
    statx: 332,
  },
  arm64: {
    mkdirat: 34,
    unlinkat: 35,
    ftruncate: 46,
    fallocate: 47,
    openat: 56,
    close: 57,
    getdents64: 61,
    read: 63,
    write: 64,
    readv: 65,
    writev: 66,
    pread64: 67,
    pwrite64: 68,
    newfstatat: 79,
    newfstat: 80,
    fsync: 82,
    fdatasync: 83,
    sendto: 206,
    recvfrom: 207,
    sendmsg: 211,
    recvmsg: 212,
    renameat2: 276,
    statx: 291,
  },
};

export interface HistKey {
  layer: number;
  phase: number;
  family: number;
  port: number;
  op: number;
}

export function decodeHistKey(b: Buffer): HistKey {
  return {
    layer: b.readUInt8(0),
    phase: b.readUInt8(1),
    family: b.readUInt8(2),
    port: b.readUInt16LE(4),
    op: b.readUInt32LE(8),
  };
}

export interface HistValue {
  count: number;
  sumNs: number;
  slots: number[];
}

/** A per-CPU prof_hist value (every CPU's slot, each rounded up to 8 bytes) summed over the CPUs. */
export function sumPerCpuHist(b: Buffer): HistValue {
  const out: HistValue = { count: 0, sumNs: 0, slots: new Array<number>(PROF_HIST_SLOTS).fill(0) };
  const stride = Math.ceil(PROF_HIST_SIZE / 8) * 8;
  for (let off = 0; off + PROF_HIST_SIZE <= b.length; off += stride) {
    out.count += Number(b.readBigUInt64LE(off));
    out.sumNs += Number(b.readBigUInt64LE(off + 8));
    for (let s = 0; s < PROF_HIST_SLOTS; s++) {
      out.slots[s] = (out.slots[s] ?? 0) + Number(b.readBigUInt64LE(off + 16 + 8 * s));
    }
  }
  return out;
}

/** Upper bound (µs) of a histogram slot: slot 0 holds <= 1 µs, slot k (2^(k-1), 2^k] µs. */
export const slotLeUs = (slot: number): number => 2 ** slot;

export function endpointKey(ep: { ip4: string | null; port: number }): Buffer {
  const b = Buffer.alloc(PROF_ENDPOINT_SIZE);
  if (ep.ip4 === null) {
    b.writeUInt16LE(PROF_AF_UNIX, 6);
    return b;
  }
  b.set(ep.ip4.split('.').map(Number), 0); // network order: the bytes in address order
  b.writeUInt16LE(ep.port, 4);
  b.writeUInt16LE(PROF_AF_INET, 6);
  return b;
}

/** IPv4 of a prof_hist_key.op holding an address in network order. */
export function ip4OfOp(op: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(op, 0);
  return [...b].join('.');
}

export interface StackKey {
  kstack: number;
  ustack: number;
  kind: number;
}

export function decodeStackKey(b: Buffer): StackKey {
  return { kstack: b.readInt32LE(0), ustack: b.readInt32LE(4), kind: b.readUInt32LE(8) };
}

export function decodeStackVal(b: Buffer): { totalNs: number; count: number } {
  return { totalNs: Number(b.readBigUInt64LE(0)), count: Number(b.readBigUInt64LE(8)) };
}

/** The instruction pointers of a stack-trace map value (zero-terminated). */
export function decodeStackTrace(b: Buffer): bigint[] {
  const out: bigint[] = [];
  for (let off = 0; off + 8 <= b.length; off += 8) {
    const ip = b.readBigUInt64LE(off);
    if (ip === 0n) break;
    out.push(ip);
  }
  return out;
}

export interface Drops {
  events: number;
  stacks: number;
  aggs: number;
  inflight: number;
  calls: number;
  hists: number;
}

/** The per-CPU prof_drops slot summed over the CPUs. */
export function sumDrops(b: Buffer): Drops {
  const d: Drops = { events: 0, stacks: 0, aggs: 0, inflight: 0, calls: 0, hists: 0 };
  const fields = ['events', 'stacks', 'aggs', 'inflight', 'calls', 'hists'] as const;
  for (let off = 0; off + PROF_DROPS_SIZE <= b.length; off += PROF_DROPS_SIZE) {
    fields.forEach((f, i) => (d[f] += Number(b.readBigUInt64LE(off + 8 * i))));
  }
  return d;
}

export interface SlowEvent {
  unique: bigint;
  totalNs: number;
  queueNs: number;
  daemonNs: number;
  opcode: number;
  requesterTgid: number;
  replyTid: number;
  kstack: number;
  ustack: number;
}

export function decodeEvent(b: Buffer): SlowEvent | null {
  if (b.length < PROF_EVENT_SIZE) return null;
  return {
    unique: b.readBigUInt64LE(0),
    totalNs: Number(b.readBigUInt64LE(8)),
    queueNs: Number(b.readBigUInt64LE(16)),
    daemonNs: Number(b.readBigUInt64LE(24)),
    opcode: b.readUInt32LE(32),
    requesterTgid: b.readUInt32LE(36),
    replyTid: b.readUInt32LE(40),
    kstack: b.readInt32LE(44),
    ustack: b.readInt32LE(48),
  };
}
