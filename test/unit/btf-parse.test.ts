// core/src/btf on BTF built by hand, byte by byte (a small writer below): every kind with its
// fields, C names and sizes, including those clang 14 does not write (ENUM64, char-encoded and
// old-style bitfield integers, a DATASEC with the sizes the kernel fills in, a 2-byte float);
// their codecs; and the damage the parser must name: big-endian and bad headers, sections out
// of range, unknown kinds, dangling references, loops (typedef, by value, by name) and chains
// deeper than MAX_DEPTH, each a DfsError(BadRequest) with a message saying what is wrong.
// Last, the running kernel's BTF (/sys/kernel/btf/vmlinux, when there is one): a real producer's
// every kind, ENUM64 included, named and compiled without an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../../core/src/errors';
import {
  BtfKind,
  MAX_DEPTH,
  MAX_SHAPE_NODES,
  cellValue,
  codecFor,
  flattenColumns,
  parseBtf,
  shapeOf,
  type BtfType,
  type TypeShape,
} from '../../core/src/btf';

/** A BTF writer for tests: types get ids in the order they are added, from 1. */
class BtfWriter {
  private readonly strings: number[] = [0];
  private readonly offsets = new Map<string, number>([['', 0]]);
  private readonly words: number[][] = [];

  str(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const off = this.strings.length;
    this.strings.push(...new TextEncoder().encode(s), 0);
    this.offsets.set(s, off);
    return off;
  }
  /** Adds a raw record: name, kind, vlen, kind_flag, size-or-type, extra words. */
  raw(name: string, kind: number, vlen: number, kflag: boolean, sizeOrType: number, extra: number[] = []): number {
    this.words.push([this.str(name), ((kflag ? 1 : 0) << 31) | (kind << 24) | vlen, sizeOrType, ...extra]);
    return this.words.length;
  }
  int(name: string, size: number, bits = size * 8, encoding = 0, offset = 0): number {
    return this.raw(name, BtfKind.Int, 0, false, size, [((encoding << 24) | (offset << 16) | bits) >>> 0]);
  }
  ref(kind: BtfKind, type: number, name = ''): number {
    return this.raw(name, kind, 0, false, type);
  }
  array(elem: number, index: number, length: number): number {
    return this.raw('', BtfKind.Array, 0, false, 0, [elem, index, length]);
  }
  composite(
    kind: BtfKind.Struct | BtfKind.Union,
    name: string,
    size: number,
    members: [string, number, number, number?][],
  ): number {
    const kflag = members.some((m) => (m[3] ?? 0) > 0);
    const extra = members.flatMap(([n, type, bitOffset, bitSize]) => [
      this.str(n),
      type,
      kflag ? (((bitSize ?? 0) << 24) | bitOffset) >>> 0 : bitOffset,
    ]);
    return this.raw(name, kind, members.length, kflag, size, extra);
  }
  enum32(name: string, size: number, values: [string, number][], signed: boolean): number {
    return this.raw(
      name,
      BtfKind.Enum,
      values.length,
      signed,
      size,
      values.flatMap(([n, v]) => [this.str(n), v >>> 0]),
    );
  }
  enum64(name: string, values: [string, bigint][], signed: boolean): number {
    const extra = values.flatMap(([n, v]) => {
      const u = BigInt.asUintN(64, v);
      return [this.str(n), Number(u & 0xffffffffn), Number(u >> 32n)];
    });
    return this.raw(name, BtfKind.Enum64, values.length, signed, 8, extra);
  }
  proto(ret: number, params: [string, number][]): number {
    return this.raw(
      '',
      BtfKind.FuncProto,
      params.length,
      false,
      ret,
      params.flatMap(([n, t]) => [this.str(n), t]),
    );
  }
  variable(name: string, type: number): number {
    return this.raw(name, BtfKind.Var, 0, false, type, [1]);
  }
  datasec(name: string, size: number, vars: [number, number, number][]): number {
    return this.raw(name, BtfKind.Datasec, vars.length, false, size, vars.flat());
  }
  bytes(): Uint8Array {
    const types = this.words.flat();
    const out = new Uint8Array(24 + types.length * 4 + this.strings.length);
    const view = new DataView(out.buffer);
    view.setUint16(0, 0xeb9f, true);
    out[2] = 1;
    view.setUint32(4, 24, true);
    view.setUint32(8, 0, true);
    view.setUint32(12, types.length * 4, true);
    view.setUint32(16, types.length * 4, true);
    view.setUint32(20, this.strings.length, true);
    types.forEach((w, i) => view.setUint32(24 + i * 4, w >>> 0, true));
    out.set(this.strings, 24 + types.length * 4);
    return out;
  }
}

/** Asserts `fn` throws a DfsError(BadRequest) whose message matches. */
function refuses(fn: () => unknown, message: RegExp, what = ''): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DfsError, `${what}: not a DfsError: ${String(err)}`);
    assert.equal(err.code, ErrorCode.BadRequest, what);
    assert.match(err.message, message, what);
    return true;
  });
}

/** One of every kind, as a kernel would hand it over. */
function everyKind(): { raw: Uint8Array; ids: Record<string, number> } {
  const w = new BtfWriter();
  const ids: Record<string, number> = {};
  ids.u32 = w.int('unsigned int', 4);
  ids.typedefU32 = w.ref(BtfKind.Typedef, ids.u32, '__u32');
  ids.ptr = w.ref(BtfKind.Ptr, ids.typedefU32);
  ids.index = w.int('__ARRAY_SIZE_TYPE__', 4);
  ids.arr = w.array(ids.typedefU32, ids.index, 3);
  ids.arr2 = w.array(ids.arr, ids.index, 2);
  ids.struct = w.composite(BtfKind.Struct, 'pair', 8, [
    ['a', ids.typedefU32, 0],
    ['b', ids.typedefU32, 32],
  ]);
  ids.union = w.composite(BtfKind.Union, 'either', 4, [
    ['x', ids.u32, 0],
    ['y', ids.u32, 0],
  ]);
  ids.enum = w.enum32(
    'state',
    4,
    [
      ['S_NEG', -1],
      ['S_ONE', 1],
    ],
    true,
  );
  ids.fwd = w.raw('later', BtfKind.Fwd, 0, true, 0); // kind_flag: a union
  ids.volatile = w.ref(BtfKind.Volatile, ids.u32);
  ids.const = w.ref(BtfKind.Const, ids.volatile);
  ids.restrict = w.ref(BtfKind.Restrict, ids.ptr);
  ids.proto = w.proto(ids.u32, [
    ['ctx', ids.ptr],
    ['', 0],
  ]);
  ids.func = w.raw('handler', BtfKind.Func, 1, false, ids.proto);
  ids.var = w.variable('counter', ids.typedefU32);
  ids.datasec = w.datasec('.bss', 16, [[ids.var, 8, 4]]);
  ids.float = w.raw('double', BtfKind.Float, 0, false, 8);
  ids.declTag = w.raw('dfs', BtfKind.DeclTag, 0, false, ids.struct, [1]);
  ids.typeTag = w.ref(BtfKind.TypeTag, ids.u32, 'user');
  ids.enum64 = w.enum64(
    'big',
    [
      ['B_HUGE', 1n << 60n],
      ['B_TWO', 2n],
    ],
    false,
  );
  return { raw: w.bytes(), ids };
}

test('every kind parses into its fields, C name and size', () => {
  const { raw, ids } = everyKind();
  const btf = parseBtf(raw);
  const t = (id: number | undefined): BtfType => btf.type(id ?? -1);
  assert.equal(btf.count, Object.keys(ids).length + 1);
  assert.deepEqual(t(ids.u32), {
    kind: BtfKind.Int,
    id: ids.u32,
    name: 'unsigned int',
    size: 4,
    bits: 32,
    bitOffset: 0,
    signed: false,
    char: false,
    bool: false,
  });
  assert.deepEqual(t(ids.arr), {
    kind: BtfKind.Array,
    id: ids.arr,
    name: '',
    type: ids.typedefU32,
    indexType: ids.index,
    length: 3,
  });
  assert.deepEqual(t(ids.enum), {
    kind: BtfKind.Enum,
    id: ids.enum,
    name: 'state',
    size: 4,
    signed: true,
    values: [
      { name: 'S_NEG', value: -1n },
      { name: 'S_ONE', value: 1n },
    ],
  });
  assert.deepEqual(t(ids.enum64), {
    kind: BtfKind.Enum64,
    id: ids.enum64,
    name: 'big',
    size: 8,
    signed: false,
    values: [
      { name: 'B_HUGE', value: 1n << 60n },
      { name: 'B_TWO', value: 2n },
    ],
  });
  assert.deepEqual(t(ids.fwd), { kind: BtfKind.Fwd, id: ids.fwd, name: 'later', union: true });
  assert.deepEqual(t(ids.proto), {
    kind: BtfKind.FuncProto,
    id: ids.proto,
    name: '',
    type: ids.u32,
    params: [
      { name: 'ctx', type: ids.ptr },
      { name: '', type: 0 },
    ],
  });
  assert.deepEqual(t(ids.func), { kind: BtfKind.Func, id: ids.func, name: 'handler', type: ids.proto, linkage: 1 });
  assert.deepEqual(t(ids.datasec), {
    kind: BtfKind.Datasec,
    id: ids.datasec,
    name: '.bss',
    size: 16,
    vars: [{ type: ids.var, offset: 8, size: 4 }],
  });
  assert.deepEqual(t(ids.declTag), {
    kind: BtfKind.DeclTag,
    id: ids.declTag,
    name: 'dfs',
    type: ids.struct,
    componentIdx: 1,
  });

  const names: [number | undefined, string, number | null][] = [
    [ids.u32, 'unsigned int', 4],
    [ids.typedefU32, '__u32', 4],
    [ids.ptr, '__u32 *', 8],
    [ids.arr, '__u32[3]', 12],
    [ids.arr2, '__u32[2][3]', 24],
    [ids.struct, 'struct pair', 8],
    [ids.union, 'union either', 4],
    [ids.enum, 'enum state', 4],
    [ids.fwd, 'union later', null],
    [ids.volatile, 'volatile unsigned int', 4],
    [ids.const, 'const volatile unsigned int', 4],
    [ids.restrict, '__u32 *restrict', 8],
    [ids.proto, 'unsigned int (__u32 *, ...)', null],
    [ids.func, 'unsigned int handler(__u32 *, ...)', null],
    [ids.var, '__u32 counter', 4],
    [ids.datasec, 'SEC(".bss")', 16],
    [ids.float, 'double', 8],
    [ids.declTag, '__attribute__((btf_decl_tag("dfs")))', null],
    [ids.typeTag, 'unsigned int', 4],
    [ids.enum64, 'enum big', 8],
    [0, 'void', null],
  ];
  for (const [id, name, size] of names) {
    assert.equal(btf.typeName(id ?? -1), name);
    if (size === null) refuses(() => btf.sizeOf(id ?? -1), /has no size/);
    else assert.equal(btf.sizeOf(id ?? -1), size, name);
  }
  assert.equal(btf.resolve(ids.const ?? -1), ids.u32);
  assert.equal(btf.find('pair', BtfKind.Struct), ids.struct);
  refuses(() => btf.type(btf.count), /BTF has no type \d+/);
});

test('codecs of the kinds clang 14 does not write: ENUM64, a sized DATASEC, char and old-style bitfield ints', () => {
  const w = new BtfWriter();
  const u32 = w.int('unsigned int', 4);
  const e64 = w.enum64(
    'big',
    [
      ['B_HUGE', (1n << 60n) + 1n],
      ['B_NEG', -2n],
    ],
    true,
  );
  const ch = w.int('char8', 1, 8, 2);
  const b = w.int('_Bool', 1, 8, 4);
  const s128 = w.int('__int128', 16, 128, 1);
  const nibble = w.int('unsigned int', 4, 3, 0, 0); // an old-style bitfield type: 3 bits
  const old = w.composite(BtfKind.Struct, 'old', 4, [
    ['lo', nibble, 0],
    ['hi', nibble, 5],
  ]);
  const half = w.raw('_Float16', BtfKind.Float, 0, false, 2);
  const v1 = w.variable('first', u32);
  const v2 = w.variable('second', e64);
  const sec = w.datasec('.data', 24, [
    [v1, 0, 4],
    [v2, 16, 8],
  ]);
  const btf = parseBtf(w.bytes());

  const big = codecFor(btf, e64);
  const le = (x: bigint, n: number): Uint8Array =>
    Uint8Array.from({ length: n }, (_, i) => Number((BigInt.asUintN(n * 8, x) >> BigInt(8 * i)) & 0xffn));
  assert.equal(big.decode(le((1n << 60n) + 1n, 8)), 'B_HUGE');
  assert.equal(big.decode(le(-2n, 8)), 'B_NEG');
  assert.equal(big.decode(le(1n << 62n, 8)), (1n << 62n).toString()); // no enumerator: the number, as a string past 2^53
  assert.equal(big.decode(le(-5n, 8)), -5);
  assert.deepEqual(big.encode('B_HUGE', 'value'), le((1n << 60n) + 1n, 8));
  assert.deepEqual(big.encode('-5', 'value'), le(-5n, 8));

  const c = codecFor(btf, ch);
  assert.equal(c.decode(Uint8Array.of(0x41)), 'A');
  assert.equal(c.decode(Uint8Array.of(0x01)), '\u0001');
  assert.deepEqual(c.encode('\u0001', 'value'), Uint8Array.of(1));
  assert.deepEqual(c.encode(66, 'value'), Uint8Array.of(66));
  refuses(() => c.encode('AB', 'value'), /^value: "AB" is not one character/);

  const flag = codecFor(btf, b);
  assert.equal(flag.decode(Uint8Array.of(2)), true);
  assert.deepEqual(flag.encode(false, 'v'), Uint8Array.of(0));
  refuses(() => flag.encode('yes', 'v.flag'), /^v\.flag: expected true or false for _Bool, got "yes"/);

  const wide = codecFor(btf, s128);
  assert.equal(wide.decode(le(-3n, 16)), -3);
  assert.equal(wide.decode(le(-(1n << 100n), 16)), (-(1n << 100n)).toString());
  assert.deepEqual(wide.encode((1n << 126n).toString(), 'value'), le(1n << 126n, 16));
  refuses(() => wide.encode((1n << 127n).toString(), 'value'), /does not fit a 128-bit signed integer/);

  const o = codecFor(btf, old);
  assert.deepEqual(o.decode(le(0b101_00_110n, 4)), { lo: 6, hi: 5 });
  assert.deepEqual(o.encode({ lo: 6, hi: 5 }, 'value'), le(0b101_00_110n, 4));
  refuses(
    () => o.encode({ lo: 8, hi: 0 }, 'value'),
    /^value\.lo: 8 does not fit a 3-bit unsigned bitfield \(0\.\.7\)$/,
  );

  assert.equal(codecFor(btf, half).decode(Uint8Array.of(0x00, 0x3c)), '0x3c00');
  refuses(
    () => codecFor(btf, half).encode(1, 'value.h'),
    /^value\.h: _Float16 is a 2-byte float, which cannot be written$/,
  );

  const data = codecFor(btf, sec);
  const bytes = new Uint8Array(24);
  bytes.set(le(7n, 4), 0);
  bytes.set(le(-2n, 8), 16);
  assert.deepEqual(data.decode(bytes), { first: 7, second: 'B_NEG' });
  assert.deepEqual(data.encode({ first: 7, second: 'B_NEG' }, 'value'), bytes);
  refuses(() => data.encode({ first: 7 }, 'value'), /^value: missing variable second of SEC\("\.data"\)/);
  assert.deepEqual(
    shapeOf(btf, sec).fields?.map((f) => [f.key, f.offset]),
    [
      ['first', 0],
      ['second', 16],
    ],
  );
});

test('types without bytes have no codec, and a DATASEC from an object (sizes not filled in) says why', () => {
  const { raw, ids } = everyKind();
  const btf = parseBtf(raw);
  refuses(() => codecFor(btf, ids.fwd ?? -1), /^union later \(a forward declaration\) has no bytes/);
  refuses(() => codecFor(btf, ids.func ?? -1), /\(a function\) has no bytes/);
  refuses(() => codecFor(btf, ids.proto ?? -1), /\(a function prototype\) has no bytes/);
  refuses(() => codecFor(btf, 0), /^void \(a void\) has no bytes/);
  refuses(() => shapeOf(btf, ids.func ?? -1), /has no size/);
  refuses(() => codecFor(btf, ids.ptr ?? -1).encode(0, 'key'), /^key: __u32 \* is a pointer, which cannot be written$/);

  const w = new BtfWriter();
  const u32 = w.int('unsigned int', 4);
  const v = w.variable('x', u32);
  const sec = w.datasec('.bss', 0, [[v, 0, 4]]);
  refuses(
    () => codecFor(parseBtf(w.bytes()), sec),
    /lies outside the section's 0 bytes \(an object's \.BTF: libbpf fills section sizes in at load\)/,
  );
});

test('an array of 2^32 - 1 empty structs is refused, not decoded into billions of values', () => {
  const w = new BtfWriter();
  const empty = w.composite(BtfKind.Struct, 'empty', 0, []);
  const index = w.int('int', 4);
  const huge = w.array(empty, index, 0xffffffff);
  const btf = parseBtf(w.bytes());
  assert.equal(btf.sizeOf(huge), 0);
  refuses(() => codecFor(btf, huge), /decodes to more than \d+ JSON values/);
  assert.deepEqual(flattenColumns(shapeOf(btf, huge), 4).at(-1)?.kind, 'json');
});

test('damaged headers and sections are named', () => {
  const { raw } = everyKind();
  const patch = (fn: (v: DataView, b: Uint8Array) => void): Uint8Array => {
    const b = Uint8Array.from(raw);
    fn(new DataView(b.buffer), b);
    return b;
  };
  const typeLen = new DataView(raw.buffer).getUint32(12, true);
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', raw.subarray(0, 10), /^damaged BTF: 10 bytes, shorter than the 24-byte header$/],
    ['big-endian', patch((v) => v.setUint16(0, 0xeb9f, false)), /big-endian BTF/],
    ['bad magic', patch((v) => v.setUint16(0, 0x1234, true)), /bad magic 0x1234/],
    ['version 2', patch((_v, b) => (b[2] = 2)), /version 2/],
    ['header length past the end', patch((v) => v.setUint32(4, 0xffffffff, true)), /header length 4294967295/],
    [
      'type section of 4 GiB',
      patch((v) => v.setUint32(12, 0xffffffff, true)),
      /type section \(4294967295 bytes at 0\) runs past/,
    ],
    ['string section of 4 GiB', patch((v) => v.setUint32(20, 0xffffffff, true)), /string section \(4294967295 bytes/],
    ['overlapping sections', patch((v) => v.setUint32(16, 8, true)), /overlap/],
    ['unterminated strings', patch((v, b) => (b[b.length - 1] = 0x41)), /string section must start and end with a NUL/],
    ['unknown kind', patch((v) => v.setUint32(24 + 4, 25 << 24, true)), /type 1 has unknown kind 25/],
    ['unused info bits', patch((v) => v.setUint32(24 + 4, (1 << 24) | (1 << 20), true)), /unused info bits/],
    ['name past the strings', patch((v) => v.setUint32(24, 0x7fffffff, true)), /names string 2147483647, past the/],
    ['int of 200 bits', patch((v) => v.setUint32(24 + 12, 200, true)), /has 200 bits at bit 0 in 4 bytes/],
    ['type cut off', patch((v) => v.setUint32(12, typeLen - 4, true)), /runs 4 bytes past the type section|is cut off/],
  ];
  for (const [what, bytes, message] of cases) refuses(() => parseBtf(bytes), message, what);
});

test('dangling references, loops and over-deep chains are refused', () => {
  const dangling = new BtfWriter();
  dangling.ref(BtfKind.Ptr, 7);
  refuses(() => parseBtf(dangling.bytes()), /type 1 \(pointer\) refers to type 7; the last is 1/);

  const self = new BtfWriter();
  self.ref(BtfKind.Typedef, 1, 'loop_t');
  refuses(() => parseBtf(self.bytes()), /type 1 \(typedef loop_t\) refers back to itself \(by value: 1 → 1\)/);

  const pair = new BtfWriter();
  pair.ref(BtfKind.Typedef, 2, 'a_t');
  pair.ref(BtfKind.Const, 1);
  refuses(() => parseBtf(pair.bytes()), /refers back to itself \(by value: (1 → 2 → 1|2 → 1 → 2)\)/);

  const byValue = new BtfWriter();
  byValue.composite(BtfKind.Struct, 'nest', 4, [['self', 1, 0]]);
  refuses(() => parseBtf(byValue.bytes()), /struct nest\) refers back to itself/);

  const byName = new BtfWriter(); // const → pointer → const …: sizes are fine, the C name never ends
  byName.ref(BtfKind.Ptr, 2);
  byName.ref(BtfKind.Const, 1);
  refuses(() => parseBtf(byName.bytes()), /refers back to itself \(by name/);

  const list = new BtfWriter(); // a struct pointing at itself is fine
  const node = list.composite(BtfKind.Struct, 'node', 8, [['next', 2, 0]]);
  list.ref(BtfKind.Ptr, node);
  const btf = parseBtf(list.bytes());
  assert.equal(btf.typeName(node), 'struct node');
  assert.deepEqual(codecFor(btf, node).decode(new Uint8Array(8)), { next: 0 });

  const deep = new BtfWriter();
  deep.int('int', 4);
  for (let i = 0; i <= MAX_DEPTH + 1; i++) deep.ref(BtfKind.Typedef, i + 1, `t${i}`);
  refuses(() => parseBtf(deep.bytes()), new RegExp(`types nest more than ${MAX_DEPTH} deep`));

  const long = new BtfWriter(); // a chain of 100,000 typedefs: refused without exhausting the stack
  long.int('int', 4);
  for (let i = 0; i < 100_000; i++) long.ref(BtfKind.Typedef, i + 1, 't');
  refuses(() => parseBtf(long.bytes()), /nest more than/);
});

test('layouts that do not fit are refused: members outside their struct, arrays over 4 GiB, bad bitfields', () => {
  const outside = new BtfWriter();
  const u32 = outside.int('unsigned int', 4);
  outside.composite(BtfKind.Struct, 's', 4, [['x', u32, 32]]);
  refuses(() => parseBtf(outside.bytes()), /struct s\): member x \(32 bits at bit 32\) lies outside its 4 bytes/);

  const huge = new BtfWriter();
  const u64 = huge.int('unsigned long', 8);
  huge.array(u64, u64, 0xffffffff);
  refuses(() => parseBtf(huge.bytes()), /is 4294967295 × 8 bytes, over 4 GiB/);

  const wide = new BtfWriter();
  const u8 = wide.int('unsigned char', 1);
  const s = wide.composite(BtfKind.Struct, 's', 4, [['x', u8, 0, 12]]);
  refuses(() => codecFor(parseBtf(wide.bytes()), s), /member x is 12 bits of a 8-bit unsigned char/);

  const order = new BtfWriter();
  const int = order.int('int', 4);
  order.composite(BtfKind.Struct, 'back', 8, [
    ['b', int, 32],
    ['a', int, 0],
  ]);
  refuses(() => parseBtf(order.bytes()), /member a at bit 0 comes before the member before it \(bit 32\)/);

  const ofStruct = new BtfWriter();
  const inner = ofStruct.composite(BtfKind.Struct, 'in', 4, []);
  const bad = ofStruct.composite(BtfKind.Struct, 'out', 4, [['x', inner, 0, 3]]);
  refuses(
    () => codecFor(parseBtf(ofStruct.bytes()), bad),
    /member x is a bitfield of struct in, not of an integer or enum/,
  );
});

test('columns: a big array shows what fits and the rest as JSON; a shape past its node budget is elided', () => {
  const w = new BtfWriter();
  const u64 = w.int('unsigned long long', 8);
  const index = w.int('int', 4);
  const big = w.array(u64, index, 100);
  const members: [string, number, number][] = Array.from({ length: 100 }, (_, i) => [`f${i}`, u64, i * 64]);
  const inner = w.composite(BtfKind.Struct, 'inner', 800, members);
  const outer = w.composite(
    BtfKind.Struct,
    'outer',
    80_000,
    Array.from({ length: 100 }, (_, i): [string, number, number] => [`s${i}`, inner, i * 6400]),
  );
  const btf = parseBtf(w.bytes());

  const columns = flattenColumns(shapeOf(btf, big));
  assert.equal(columns.length, 64);
  assert.deepEqual(columns[62], { path: '[62]', keys: [62], kind: 'int', name: 'unsigned long long' });
  const rest = columns[63] ?? assert.fail();
  assert.equal(rest.kind, 'json');
  assert.equal(rest.except?.length, 63);
  const value = Array.from({ length: 100 }, (_, i) => i);
  assert.deepEqual(cellValue(value, rest), value.slice(63));
  assert.equal(cellValue(value, columns[5] ?? assert.fail()), 5);

  const shape = shapeOf(btf, outer);
  const nodes = (s: TypeShape): number => 1 + (s.fields ?? []).reduce((n, f) => n + nodes(f.shape), 0);
  assert.ok(nodes(shape) <= MAX_SHAPE_NODES + 200, `${nodes(shape)} nodes`);
  assert.equal(shape.fields?.at(-1)?.shape.elided, true);
  assert.equal(shape.fields?.[0]?.shape.elided, undefined);
  // Members of 100 leaves do not fit 63 columns; elided ones are one JSON cell each.
  const elided = shape.fields?.filter((f) => f.shape.elided).map((f) => f.key) ?? [];
  const outerColumns = flattenColumns(shape);
  assert.deepEqual(
    outerColumns.slice(0, -1).map((c) => [c.path, c.kind]),
    elided.map((k) => [k, 'struct']),
  );
  assert.deepEqual(outerColumns.at(-1)?.except, elided);
});

test("the running kernel's own BTF (pahole's, with ENUM64): every type named, every struct and union compiled", (t) => {
  const path = '/sys/kernel/btf/vmlinux';
  if (!existsSync(path)) return t.skip(`${path} is absent (a kernel without CONFIG_DEBUG_INFO_BTF)`);
  const t0 = performance.now();
  const btf = parseBtf(readFileSync(path));
  const parsed = performance.now() - t0;
  const seen = new Set<BtfKind>();
  let composites = 0;
  for (let id = 1; id < btf.count; id++) {
    const type = btf.type(id);
    seen.add(type.kind);
    assert.ok(btf.typeName(id).length > 0);
    if (type.kind === BtfKind.Struct || type.kind === BtfKind.Union) {
      codecFor(btf, id);
      composites++;
    }
    if (type.kind === BtfKind.Enum64) {
      const codec = codecFor(btf, id);
      const first = type.values[0];
      if (first) assert.equal(codec.decode(codec.encode(first.name, 'value')), first.name);
    }
  }
  t.diagnostic(
    `${btf.count - 1} types (${composites} structs and unions) parsed in ${parsed.toFixed(0)} ms; kinds: ${[...seen].map((k) => BtfKind[k]).join(', ')}`,
  );
});
