// Test support: damaged BPF objects, made reproducibly. `btfCrashRecipe` is the exact damage
// that crashed Debian 12's libbpf 1.1.2 inside bpf_object__load (issue 6, item 1), located
// through the section table and the BTF type table so that it survives edits of the source;
// `mutate` makes the fuzzers' variants (bit flips, truncations, section-table corruption,
// zeroed BTF, random ELF headers) from a seeded PRNG, so a failing case is replayed from its
// seed and index alone. Little-endian ELF64 only (what clang -target bpf writes here).

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  offset: number;
  size: number;
}

/** The section table of a well-formed little-endian ELF64 (our own objects: not for damaged input). */
export function elfSections(elf: Buffer): ElfSection[] {
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const entSize = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  const raw = Array.from({ length: count }, (_, index) => {
    const at = shoff + index * entSize;
    return {
      index,
      nameOff: elf.readUInt32LE(at),
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 24)),
      size: Number(elf.readBigUInt64LE(at + 32)),
    };
  });
  const names = raw[elf.readUInt16LE(0x3e)]?.offset ?? 0;
  const cstr = (at: number): string => elf.toString('latin1', at, elf.indexOf(0, at));
  return raw.map(({ nameOff, ...s }) => ({ ...s, name: cstr(names + nameOff) }));
}

export function section(elf: Buffer, name: string): ElfSection {
  const s = elfSections(elf).find((x) => x.name === name);
  if (!s) throw new Error(`the object has no ${name} section`);
  return s;
}

/** Extra bytes after the 12-byte btf_type of each BTF kind (linux/btf.h). */
function btfTypeExtra(kind: number, vlen: number): number {
  switch (kind) {
    case 1: // INT
    case 14: // VAR
    case 17: // DECL_TAG
      return 4;
    case 3: // ARRAY
      return 12;
    case 4: // STRUCT
    case 5: // UNION
    case 15: // DATASEC
    case 19: // ENUM64
      return vlen * 12;
    case 6: // ENUM
    case 13: // FUNC_PROTO
      return vlen * 8;
    default:
      return 0;
  }
}

interface BtfType {
  id: number;
  at: number;
  kind: number;
  vlen: number;
  name: string;
  sizeOrType: number;
}

/** A string of the object's .BTF string table. */
function btfString(elf: Buffer, off: number): string {
  const btf = section(elf, '.BTF').offset;
  const at = btf + elf.readUInt32LE(btf + 4) + elf.readUInt32LE(btf + 16) + off;
  return elf.toString('latin1', at, elf.indexOf(0, at));
}

/** Every type of the object's .BTF with its file offset (type ids start at 1). */
export function btfTypes(elf: Buffer): BtfType[] {
  const btf = section(elf, '.BTF').offset;
  const types = btf + elf.readUInt32LE(btf + 4) + elf.readUInt32LE(btf + 8);
  const typesEnd = types + elf.readUInt32LE(btf + 12);
  const out: BtfType[] = [];
  for (let at = types, id = 1; at < typesEnd; id++) {
    const info = elf.readUInt32LE(at + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    out.push({ id, at, kind, vlen, name: btfString(elf, elf.readUInt32LE(at)), sizeOrType: elf.readUInt32LE(at + 8) });
    at += 12 + btfTypeExtra(kind, vlen);
  }
  return out;
}

export interface BitFlip {
  /** Byte offset in the file. */
  byte: number;
  bit: number;
  why: string;
}

export function applyFlips(elf: Buffer, flips: BitFlip[]): Buffer {
  const out = Buffer.from(elf);
  for (const f of flips) out[f.byte] = (out[f.byte] ?? 0) ^ (1 << f.bit);
  return out;
}

const BTF_KIND_STRUCT = 4;

/** File offset of the type id of member `member` of `struct name` in .BTF. */
function memberTypeAt(elf: Buffer, types: BtfType[], name: string, member: string): number {
  const t = types.find((x) => x.kind === BTF_KIND_STRUCT && x.name === name);
  for (let i = 0; t && i < t.vlen; i++) {
    const at = t.at + 12 + i * 12;
    if (btfString(elf, elf.readUInt32LE(at)) === member) return at + 4;
  }
  throw new Error(`no member ${member} of struct ${name} in .BTF: is this bpf/bypass.bpf.o?`);
}

/**
 * The damage that made libbpf 1.1.2 segfault in bpf_object__load on both `bpf/verify` and
 * `bypass/attach` (found by flipping random bit pairs of build/bpf/bypass.bpf.o, one inside
 * .BTF: 14 of 1,500 pairs crashed 1.1.2 at load): bit 20 of the type id of one member of each
 * program's context struct, `bpf_sock_ops.op` and `sk_msg_md.size`, so that each names a type
 * past the end of the type table. Opening succeeds and the maps look right, so the agent's own
 * checks pass; 1.1.2's CO-RE relocation at load then dereferences the missing type.
 */
export function btfCrashRecipe(elf: Buffer): BitFlip[] {
  const types = btfTypes(elf);
  const bit20 = (at: number): BitFlip => ({ byte: at + 2, bit: 4, why: 'type id + 2^20' });
  return [
    { ...bit20(memberTypeAt(elf, types, 'bpf_sock_ops', 'op')), why: 'bpf_sock_ops.op: type id + 2^20 (.BTF)' },
    { ...bit20(memberTypeAt(elf, types, 'sk_msg_md', 'size')), why: 'sk_msg_md.size: type id + 2^20 (.BTF)' },
  ];
}

/** A small seeded PRNG (mulberry32): the same seed gives the same damaged objects. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[this.int(xs.length)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }
}

export type MutationKind =
  | 'bitflips'
  | 'btf-bitflips'
  | 'btf-ext-bitflips'
  | 'truncate'
  | 'section-table'
  | 'zero-btf'
  | 'zero-btf-ext'
  | 'elf-header'
  | 'btf-header';

export const MUTATION_KINDS: readonly MutationKind[] = [
  'bitflips',
  'btf-bitflips',
  'btf-ext-bitflips',
  'truncate',
  'section-table',
  'zero-btf',
  'zero-btf-ext',
  'elf-header',
  'btf-header',
];

export interface Mutant {
  kind: MutationKind;
  bytes: Buffer;
  /** What was done, enough to understand a failure (the seed and index replay it exactly). */
  what: string;
}

function flipRandomBits(rng: Rng, out: Buffer, from: number, size: number, count: number): string[] {
  const done: string[] = [];
  for (let i = 0; i < count && size > 0; i++) {
    const byte = from + rng.int(size);
    const bit = rng.int(8);
    out[byte] = (out[byte] ?? 0) ^ (1 << bit);
    done.push(`0x${byte.toString(16)}.${bit}`);
  }
  return done;
}

/** One damaged variant of `elf` (a well-formed object); `rng` decides what and where. */
export function mutate(elf: Buffer, rng: Rng, kind: MutationKind = rng.pick(MUTATION_KINDS)): Mutant {
  const out = Buffer.from(elf);
  const sections = elfSections(elf);
  const named = (n: string): ElfSection | undefined => sections.find((s) => s.name === n);
  const btf = named('.BTF');
  const ext = named('.BTF.ext');
  switch (kind) {
    case 'bitflips': {
      const flips = flipRandomBits(rng, out, 0, out.length, 1 + rng.int(4));
      return { kind, bytes: out, what: `flipped ${flips.join(' ')}` };
    }
    case 'btf-bitflips':
    case 'btf-ext-bitflips': {
      const s = kind === 'btf-bitflips' ? btf : ext;
      if (!s) return mutate(elf, rng, 'bitflips');
      // One bit inside the section (the reported case) plus 0..2 anywhere.
      const flips = [
        ...flipRandomBits(rng, out, s.offset, s.size, 1 + rng.int(2)),
        ...flipRandomBits(rng, out, 0, out.length, rng.int(3)),
      ];
      return { kind, bytes: out, what: `flipped ${flips.join(' ')} (${s.name} at 0x${s.offset.toString(16)})` };
    }
    case 'truncate': {
      const len = rng.next() < 0.3 ? rng.int(128) : rng.int(out.length);
      return { kind, bytes: out.subarray(0, len), what: `truncated to ${len} bytes` };
    }
    case 'section-table': {
      const shoff = Number(elf.readBigUInt64LE(0x28));
      const entSize = elf.readUInt16LE(0x3a);
      const s = rng.pick(sections);
      const at = shoff + s.index * entSize;
      // offset (24), size (32), link (40), info (44), name (0), type (4), entsize (56)
      const field = rng.pick([0, 4, 24, 32, 40, 44, 56]);
      const wide = field === 24 || field === 32 || field === 56;
      const value = rng.pick([0, 1, 0xffffffff, out.length, out.length + 1, rng.int(out.length * 2), 0x7fffffff]);
      if (wide) out.writeBigUInt64LE(BigInt(value) * (rng.next() < 0.1 ? 1n << 32n : 1n), at + field);
      else out.writeUInt32LE(value >>> 0, at + field);
      return { kind, bytes: out, what: `section ${s.index} (${s.name}) field +${field} = ${value}` };
    }
    case 'zero-btf':
    case 'zero-btf-ext': {
      const s = kind === 'zero-btf' ? btf : ext;
      if (!s) return mutate(elf, rng, 'truncate');
      const whole = rng.next() < 0.5;
      const from = whole ? 0 : rng.int(s.size);
      const len = whole ? s.size : 1 + rng.int(s.size - from);
      out.fill(0, s.offset + from, s.offset + from + len);
      return { kind, bytes: out, what: `zeroed ${s.name}[${from}..${from + len})` };
    }
    case 'elf-header': {
      const n = 1 + rng.int(6);
      const done: string[] = [];
      for (let i = 0; i < n; i++) {
        const at = rng.int(64);
        out[at] = rng.int(256);
        done.push(`[${at}]=${out[at]}`);
      }
      return { kind, bytes: out, what: `ELF header ${done.join(' ')}` };
    }
    case 'btf-header': {
      const s = rng.next() < 0.5 ? btf : ext;
      if (!s) return mutate(elf, rng, 'elf-header');
      const field = 4 * rng.int(Math.min(8, s.size >> 2));
      const value = rng.pick([0, 1, 0xffffffff, s.size, s.size + 4, rng.int(1 << 16), 0x80000000]);
      out.writeUInt32LE(value >>> 0, s.offset + field);
      return { kind, bytes: out, what: `${s.name} header +${field} = ${value}` };
    }
  }
}
