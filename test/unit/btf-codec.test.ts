// The BTF codec (core/src/btf) on what clang writes: test/fixtures/bpf/maps/maps.bpf.c (the map
// inspector's fixture) and btf_kinds.bpf.c, compiled here and read back from their .BTF
// sections. Proves: C names and sizes of every fx_* map's key and value; decoded JSON of
// hand-laid bytes (bitfields, enums, nested arrays, char arrays, unions, anonymous members,
// floats, 64/128-bit integers); the round trip decode → encode → decode of every fx_* map's
// key and value; the accepted input forms; every refusal with its exact path and reason; the
// webview shape and its table columns. Prints (does not assert) the time to decode 100,000
// entries of fx_bench (8-byte key, 16-byte value).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism, loadavg } from 'node:os';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../../core/src/errors';
import {
  BtfKind,
  cellValue,
  codecFor,
  elfSection,
  flattenColumns,
  parseBtf,
  shapeOf,
  type Btf,
  type JsonValue,
} from '../../core/src/btf';
import { Rng } from '../support/damage';
import { compileMapsFixture } from '../support/mapsFixture';

/** Compiles a fixture of test/fixtures/bpf/maps/ as the product builds BPF and returns its .BTF. */
function fixtureBtf(name: string): Btf {
  const fixture = compileMapsFixture(name);
  try {
    return parseBtf(elfSection(fixture.elf, '.BTF'));
  } finally {
    fixture.dispose();
  }
}

/** A BTF-defined map's key and value type ids, found as libbpf finds them (the .maps section). */
function mapTypes(btf: Btf, map: string): { key?: number; value?: number } {
  const variable = btf.types.find((t) => t.kind === BtfKind.Var && t.name === map);
  assert.ok(variable && variable.kind === BtfKind.Var, `no map ${map}`);
  const def = btf.type(variable.type);
  assert.ok(def.kind === BtfKind.Struct);
  const target = (member: string): number | undefined => {
    const m = def.members.find((x) => x.name === member);
    const ptr = m ? btf.type(m.type) : undefined;
    return ptr?.kind === BtfKind.Ptr ? ptr.type : undefined;
  };
  return { key: target('key'), value: target('value') };
}

function refuses(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DfsError, `not a DfsError: ${String(err)}`);
    assert.equal(err.code, ErrorCode.BadRequest);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

const maps = fixtureBtf('maps');
const kinds = fixtureBtf('btf_kinds');
const record = mapTypes(maps, 'fx_hash').value ?? -1;
const FX_MAPS = [
  'fx_hash',
  'fx_array',
  'fx_percpu_hash',
  'fx_percpu_array',
  'fx_lru',
  'fx_sockhash',
  'fx_hist',
  'fx_bench',
];

/** struct fx_record laid out by hand (offsets from the C layout), independent of the codec. */
function recordBytes(r: {
  addr: number;
  port: number;
  proto: number;
  bytes: bigint[];
  kind: number;
  enabled: number;
  weight: number;
  spare: number;
  state: number;
  delta: number;
  label: number[];
  tag: number;
}): Uint8Array {
  const b = new Uint8Array(88);
  const v = new DataView(b.buffer);
  v.setUint32(0, r.addr, true);
  v.setUint16(4, r.port, true);
  b[6] = r.proto;
  r.bytes.forEach((x, i) => v.setBigUint64(8 + i * 8, x, true));
  v.setUint32(56, (r.kind | (r.enabled << 4) | (r.weight << 5) | (r.spare << 16)) >>> 0, true);
  v.setInt32(60, r.state, true);
  v.setInt32(64, r.delta, true);
  b.set(r.label, 68);
  v.setUint32(80, r.tag, true);
  return b;
}

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

test('every fx_* map: C names and sizes of key and value', () => {
  const expected: Record<string, [string, number, string, number]> = {
    fx_hash: ['struct fx_endpoint', 8, 'struct fx_record', 88],
    fx_array: ['__u32', 4, 'struct fx_record', 88],
    fx_percpu_hash: ['__u32', 4, 'struct fx_counter', 16],
    fx_percpu_array: ['__u32', 4, '__u64', 8],
    fx_lru: ['__u64', 8, 'struct fx_counter', 16],
    fx_sockhash: ['struct fx_endpoint', 8, '__u64', 8],
    fx_hist: ['__u32', 4, 'struct fx_hist', 272],
    fx_bench: ['__u64', 8, 'struct fx_counter', 16],
  };
  for (const map of FX_MAPS) {
    const { key, value } = mapTypes(maps, map);
    const [keyName, keySize, valueName, valueSize] = expected[map] ?? assert.fail(map);
    assert.equal(maps.typeName(key ?? -1), keyName, map);
    assert.equal(maps.sizeOf(key ?? -1), keySize, map);
    assert.equal(maps.typeName(value ?? -1), valueName, map);
    assert.equal(codecFor(maps, value ?? -1).size, valueSize, map);
  }
  const fields = Object.fromEntries(
    (maps.type(record) as { members: { name: string; type: number }[] }).members.map((m) => [
      m.name,
      maps.typeName(m.type),
    ]),
  );
  assert.deepEqual(fields, {
    peer: 'struct fx_endpoint',
    bytes: '__u64[2][3]',
    kind: '__u32',
    enabled: '__u32',
    weight: '__u32',
    spare: '__u32',
    state: 'enum fx_state',
    delta: '__s32',
    label: 'char[12]',
    tag: 'union (anon)',
  });
});

test('struct fx_record decodes like bpftool: bitfields, enum, nested arrays, char array, union', () => {
  const codec = codecFor(maps, record);
  const bytes = recordBytes({
    addr: 0x0100007f,
    port: 6379,
    proto: 6,
    bytes: [1n, 2n, 3n, 4n, 2n ** 53n, 2n ** 64n - 1n],
    kind: 9,
    enabled: 1,
    weight: 2047,
    spare: 0xbeef,
    state: 7,
    delta: -5,
    label: ascii('redis\0'),
    tag: 0x01020304,
  });
  const expected = {
    peer: { addr: 16777343, port: 6379, proto: 6, pad: 0 },
    bytes: [
      [1, 2, 3],
      [4, '9007199254740992', '18446744073709551615'],
    ],
    kind: 9,
    enabled: 1,
    weight: 2047,
    spare: 0xbeef,
    state: 'FX_FAILED',
    delta: -5,
    label: 'redis',
    tag: { as_u32: 0x01020304, as_bytes: [4, 3, 2, 1] },
  };
  assert.deepEqual(codec.decode(bytes), expected);
  assert.deepEqual(codec.encode(expected, 'value'), bytes);
  // The same at an offset (how a batch of entries is read), and an enum value without a name.
  const batch = new Uint8Array(100);
  const other = recordBytes({
    ...{ addr: 0, port: 0, proto: 0, bytes: [0n, 0n, 0n, 0n, 0n, 0n] },
    kind: 0,
    enabled: 0,
    weight: 0,
    spare: 0,
    state: 3,
    delta: 0,
    label: [1, 2, 0x41],
    tag: 0,
  });
  batch.set(other, 12);
  const decoded = codec.decode(batch, 12) as Record<string, JsonValue>;
  assert.equal(decoded.state, 3);
  assert.deepEqual(decoded.label, [1, 2, 65, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // not printable text: numbers
  assert.deepEqual(codec.encode(decoded, 'value'), other);
  refuses(() => codec.decode(batch, 13), 'struct fx_record needs 88 bytes at offset 13, but there are 100');
  refuses(() => codec.decode(batch, -1), /needs 88 bytes at offset -1/);
});

test('round trips of every fx_* map key and value: decode → encode → decode is the identity', () => {
  const rng = new Rng(0xb7f);
  for (const map of FX_MAPS) {
    const { key, value } = mapTypes(maps, map);
    for (const [what, id] of [
      ['key', key],
      ['value', value],
    ] as const) {
      const codec = codecFor(maps, id ?? -1);
      for (let i = 0; i < 200; i++) {
        const bytes = Uint8Array.from({ length: codec.size }, () => (i % 3 === 0 ? rng.int(4) : rng.int(256)));
        const json = codec.decode(bytes);
        const again = codec.encode(JSON.parse(JSON.stringify(json)), what);
        assert.deepEqual(codec.decode(again), json, `${map} ${what} ${JSON.stringify(json)}`);
      }
    }
  }
  // Bytes without padding or text after a NUL come back byte for byte.
  const counter = codecFor(maps, mapTypes(maps, 'fx_bench').value ?? -1);
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
  assert.deepEqual(counter.encode(counter.decode(bytes), 'value'), bytes);
});

test('encode accepts numbers, decimal and 0x strings, enums by name or number, char arrays from strings', () => {
  const codec = codecFor(maps, record);
  const value = {
    peer: { addr: '0x7f000001', port: '6379', proto: 6, pad: 0 },
    bytes: [
      ['0', '0x10', 2],
      [3, '18446744073709551615', '0xFFFFFFFFFFFFFFFF'],
    ],
    kind: '0xf',
    enabled: 1,
    weight: '2047',
    spare: 0,
    state: 1,
    delta: '-2147483648',
    label: 'hello world',
    tag: { as_bytes: [1, 2, 3, 4] },
  };
  const decoded = codec.decode(codec.encode(value, 'value')) as Record<string, JsonValue>;
  assert.deepEqual(decoded.peer, { addr: 0x7f000001, port: 6379, proto: 6, pad: 0 });
  assert.deepEqual(decoded.bytes, [
    [0, 16, 2],
    [3, '18446744073709551615', '18446744073709551615'],
  ]);
  assert.equal(decoded.kind, 15);
  assert.equal(decoded.state, 'FX_BUSY');
  assert.equal(decoded.delta, -2147483648);
  assert.equal(decoded.label, 'hello world');
  assert.deepEqual(decoded.tag, { as_u32: 0x04030201, as_bytes: [1, 2, 3, 4] });
  // A union given every member (as decoded) is accepted when they agree.
  assert.deepEqual((codec.decode(codec.encode(decoded, 'value')) as Record<string, JsonValue>).tag, decoded.tag);
});

test('encode refuses with the exact path and reason, and returns nothing', () => {
  const codec = codecFor(maps, record);
  const good = codec.decode(
    recordBytes({
      addr: 1,
      port: 2,
      proto: 3,
      bytes: [0n, 0n, 0n, 0n, 0n, 0n],
      kind: 1,
      enabled: 0,
      weight: 5,
      spare: 0,
      state: 0,
      delta: 0,
      label: [0],
      tag: 0,
    }),
  ) as Record<string, JsonValue>;
  const peer = good.peer as Record<string, JsonValue>;
  const w = (patch: Record<string, unknown>): unknown => ({ ...good, ...patch });
  const cases: [unknown, string | RegExp][] = [
    ['x', 'value: expected an object (struct fx_record), got "x"'],
    [[], 'value: expected an object (struct fx_record), got an array of 0'],
    [w({ weight: 4096 }), 'value.weight: 4096 does not fit an 11-bit unsigned bitfield (0..2047)'],
    [w({ enabled: -1 }), 'value.enabled: -1 does not fit a 1-bit unsigned bitfield (0..1)'],
    [w({ kind: '0x10' }), 'value.kind: 16 does not fit a 4-bit unsigned bitfield (0..15)'],
    [w({ peer: { ...peer, port: 70000 } }), 'value.peer.port: 70000 does not fit a 16-bit unsigned integer (0..65535)'],
    [
      w({ delta: 2147483648 }),
      'value.delta: 2147483648 does not fit a 32-bit signed integer (-2147483648..2147483647)',
    ],
    [w({ delta: 1.5 }), 'value.delta: 1.5 is not an integer (a 32-bit signed integer)'],
    [
      w({ delta: true }),
      'value.delta: expected an integer for a 32-bit signed integer (a number, a decimal string or a "0x…" string), got true',
    ],
    [
      w({ delta: '12abc' }),
      'value.delta: "12abc" is not an integer (a 32-bit signed integer: a number, a decimal string or a "0x…" string)',
    ],
    [
      w({
        bytes: [
          [0, 0, 2 ** 60],
          [0, 0, 0],
        ],
      }),
      `value.bytes[0][2]: ${2 ** 60} is beyond 2^53 and may have lost digits as a JSON number; give it as a decimal string`,
    ],
    [
      w({
        bytes: [
          [0, 0, '18446744073709551616'],
          [0, 0, 0],
        ],
      }),
      'value.bytes[0][2]: 18446744073709551616 does not fit a 64-bit unsigned integer (0..18446744073709551615)',
    ],
    [
      w({
        bytes: [
          [0, 0, -1],
          [0, 0, 0],
        ],
      }),
      /^value\.bytes\[0\]\[2\]: -1 does not fit a 64-bit unsigned integer/,
    ],
    [w({ bytes: [[1, 2, 3]] }), 'value.bytes: expected 2 elements (__u64[2][3]), got 1'],
    [
      w({
        bytes: [
          [1, 2, 3],
          [4, 5],
        ],
      }),
      'value.bytes[1]: expected 3 elements (__u64[3]), got 2',
    ],
    [w({ bytes: 'abc' }), 'value.bytes: expected an array of 2 (__u64[2][3]), got "abc"'],
    [
      w({ peer: { addr: 1, port: 2, prot: 6 } }),
      'value.peer: unknown field "prot"; missing fields proto, pad of struct fx_endpoint (its fields: addr, port, proto, pad)',
    ],
    [
      { peer },
      'value: missing fields bytes, kind, enabled, weight, spare, state, delta, label, tag of struct fx_record (its fields: peer, bytes, kind, enabled, weight, spare, state, delta, label, tag)',
    ],
    [
      w({ state: 'FX_DONE' }),
      'value.state: unknown enumerator "FX_DONE" of enum fx_state (FX_IDLE, FX_BUSY, FX_FAILED)',
    ],
    [w({ state: 2 ** 32 }), 'value.state: 4294967296 does not fit enum fx_state (4 bytes) (-2147483648..4294967295)'],
    [
      w({ state: null }),
      'value.state: expected an integer for enum fx_state (a number, a decimal string or a "0x…" string), got null',
    ],
    [w({ label: 'hello world!' }), 'value.label: "hello world!" is 12 characters; char[12] holds at most 11 and a NUL'],
    [
      w({ label: 'tab\there' }),
      'value.label: character U+0009 at index 3 is not printable ASCII, so it would not read back as text; give char[12] as an array of numbers',
    ],
    [w({ label: [1, 2] }), 'value.label: expected 12 elements (char[12]), got 2'],
    [
      w({ label: [...Array<number>(11).fill(0), 128] }),
      'value.label[11]: 128 does not fit an 8-bit signed integer (-128..127)',
    ],
    [
      w({ tag: { as_u32: 1, as_bytes: [2, 0, 0, 0] } }),
      'value.tag: members as_u32 and as_bytes of union (anon) disagree: a union holds one value, give one member',
    ],
    [w({ tag: {} }), 'value.tag: give one member of union (anon) (its members: as_u32, as_bytes)'],
    [w({ tag: { as_word: 1 } }), 'value.tag: unknown member "as_word" of union (anon) (its members: as_u32, as_bytes)'],
    [w({ tag: 5 }), 'value.tag: expected an object (union (anon)), got 5'],
  ];
  for (const [value, message] of cases) refuses(() => codec.encode(value, 'value'), message);
  // The good value still encodes (no state left behind by the refusals).
  assert.equal(codec.encode(good, 'value').length, 88);
  // A key codec labels its errors with the caller's path.
  const endpoint = codecFor(maps, mapTypes(maps, 'fx_hash').key ?? -1);
  refuses(
    () => endpoint.encode({ addr: 1, port: 2, proto: 3 }, 'key'),
    'key: missing field pad of struct fx_endpoint (its fields: addr, port, proto, pad)',
  );
});

test('btf_kinds.bpf.c: bool, chars, 128-bit, signed and enum bitfields, floats, pointers, anonymous members', () => {
  const all = kinds.find('kx_all', BtfKind.Struct) ?? -1;
  const codec = codecFor(kinds, all);
  assert.equal(codec.size, 208);
  const b = new Uint8Array(208);
  const v = new DataView(b.buffer);
  b[0] = 1;
  v.setInt8(1, -1);
  v.setInt8(2, 0x41);
  b[3] = 200;
  v.setInt16(4, -300, true);
  v.setBigInt64(8, -(2n ** 60n), true);
  v.setBigUint64(16, 5n, true);
  v.setBigUint64(24, 1n, true); // u128 = 2^64 + 5
  v.setBigInt64(32, -7n, true);
  v.setBigInt64(40, -1n, true); // s128 = -7
  v.setUint32(48, (0b11011 | (14 << 5) | (0x123456 << 9)) >>> 0, true); // sbits -5, ebits 0b1110, ubits
  v.setFloat32(52, 1.5, true);
  v.setFloat64(56, -2.25, true);
  v.setUint32(64, 42, true);
  v.setBigUint64(72, 0xffff888000001000n, true);
  v.setFloat32(104, 2, true);
  v.setUint16(108, 1, true);
  v.setUint16(110, 2, true);
  v.setInt32(112, -2, true);
  [1, 2, 3, 4].forEach((x, i) => v.setUint32(116 + i * 4, x, true));
  b.set(ascii('hi'), 132);
  for (let i = 0; i < 8; i++) v.setBigUint64(144 + i * 8, BigInt(i), true);
  assert.deepEqual(codec.decode(b), {
    flag: true,
    sc: -1,
    c: 65, // plain char is a signed integer in BTF: a number, as bpftool prints it
    uc: 200,
    s16: -300,
    s64: (-(2n ** 60n)).toString(),
    u128: (2n ** 64n + 5n).toString(),
    s128: -7,
    sbits: -5,
    ebits: 'KX_NEG',
    ubits: 0x123456,
    f32: 1.5,
    f64: -2.25,
    cv: 42,
    rp: 0xffff888000001000n.toString(),
    up: 0,
    opaque: 0,
    cb: 0,
    '': { u: 0x40000000, f: 2 },
    '(anon 2)': { lo: 1, hi: 2 },
    sign: 'KX_NEG',
    grid: [
      [1, 2],
      [3, 4],
    ],
    name: 'hi',
    buckets: [0, 1, 2, 3, 4, 5, 6, 7],
  });
  const decoded = codec.decode(b) as Record<string, JsonValue>;
  refuses(() => codec.encode(decoded, 'value'), 'value.rp: int * is a pointer, which cannot be written');
  refuses(
    () => codecFor(kinds, kinds.find('kx_touch', BtfKind.Func) ?? -1),
    'int kx_touch(void *) (a function) has no bytes to decode or encode',
  );
  refuses(
    () => codecFor(kinds, kinds.find('kx_opaque', BtfKind.Fwd) ?? -1),
    'struct kx_opaque (a forward declaration) has no bytes to decode or encode',
  );
  // Without the pointers, the rest of the kinds round-trip.
  const names = [
    'flag',
    'sc',
    'c',
    'uc',
    's16',
    's64',
    'u128',
    's128',
    'sbits',
    'ebits',
    'ubits',
    'f32',
    'f64',
    'cv',
    'sign',
    'grid',
    'name',
    'buckets',
  ];
  const members = (kinds.type(all) as { members: { name: string; type: number; bitSize: number }[] }).members;
  for (const name of names) {
    const m = members.find((x) => x.name === name) ?? assert.fail(name);
    if (m.bitSize > 0) continue; // bitfields are covered through fx_record
    const c = codecFor(kinds, m.type);
    assert.deepEqual(c.decode(c.encode(decoded[name], name)), decoded[name], name);
  }
  const sign = codecFor(kinds, kinds.find('kx_sign', BtfKind.Enum) ?? -1);
  assert.deepEqual(sign.encode('KX_NEG', 'v'), Uint8Array.of(0xfe, 0xff, 0xff, 0xff));
  assert.deepEqual(sign.encode(-2, 'v'), Uint8Array.of(0xfe, 0xff, 0xff, 0xff));
  assert.equal(sign.decode(Uint8Array.of(0xff, 0xff, 0xff, 0xff)), -1); // unnamed: signed, as bpftool reads enums
  const f32 = codecFor(kinds, kinds.find('float', BtfKind.Float) ?? -1);
  assert.equal(f32.decode(f32.encode('NaN', 'v')), 'NaN');
  assert.equal(f32.decode(f32.encode('-Infinity', 'v')), '-Infinity');
  refuses(() => f32.encode(1e39, 'v'), 'v: 1e+39 does not fit a 32-bit float');
});

test('shapes for the webview: fields, bit widths, enum values, histograms, columns', () => {
  const shape = shapeOf(maps, record);
  assert.equal(shape.kind, 'struct');
  assert.equal(shape.size, 88);
  assert.deepEqual(
    shape.fields?.map((f) => [f.key, f.offset, f.bitOffset, f.bitSize ?? 0, f.shape.kind, f.shape.name]),
    [
      ['peer', 0, 0, 0, 'struct', 'struct fx_endpoint'],
      ['bytes', 8, 64, 0, 'array', '__u64[2][3]'],
      ['kind', 56, 448, 4, 'int', '__u32'],
      ['enabled', 56, 452, 1, 'int', '__u32'],
      ['weight', 56, 453, 11, 'int', '__u32'],
      ['spare', 58, 464, 16, 'int', '__u32'],
      ['state', 60, 480, 0, 'enum', 'enum fx_state'],
      ['delta', 64, 512, 0, 'int', '__s32'],
      ['label', 68, 544, 0, 'array', 'char[12]'],
      ['tag', 80, 640, 0, 'union', 'union (anon)'],
    ],
  );
  const state = shape.fields?.find((f) => f.key === 'state')?.shape;
  assert.deepEqual(state?.values, [
    { name: 'FX_IDLE', value: 0 },
    { name: 'FX_BUSY', value: 1 },
    { name: 'FX_FAILED', value: 7 },
  ]);
  assert.equal(shape.fields?.find((f) => f.key === 'label')?.shape.chars, true);
  assert.equal(shape.fields?.find((f) => f.key === 'bytes')?.shape.element?.length, 3);
  assert.equal(shape.log2Histogram, undefined);
  assert.deepEqual(JSON.parse(JSON.stringify(shape)), shape, 'serialisable');

  const hist = shapeOf(maps, mapTypes(maps, 'fx_hist').value ?? -1);
  assert.equal(hist.log2Histogram, true);
  assert.equal(hist.histogramField, 'slots');
  assert.equal(shapeOf(maps, mapTypes(maps, 'fx_bench').value ?? -1).log2Histogram, undefined);
  assert.equal(shapeOf(kinds, kinds.find('kx_all', BtfKind.Struct) ?? -1).histogramField, 'buckets');

  const columns = flattenColumns(shape);
  assert.deepEqual(
    columns.map((c) => c.path),
    [
      'peer.addr',
      'peer.port',
      'peer.proto',
      'peer.pad',
      'bytes[0][0]',
      'bytes[0][1]',
      'bytes[0][2]',
      'bytes[1][0]',
      'bytes[1][1]',
      'bytes[1][2]',
      'kind',
      'enabled',
      'weight',
      'spare',
      'state',
      'delta',
      'label',
      'tag.as_u32',
      'tag.as_bytes[0]',
      'tag.as_bytes[1]',
      'tag.as_bytes[2]',
      'tag.as_bytes[3]',
    ],
  );
  assert.deepEqual(columns.find((c) => c.path === 'bytes[1][2]')?.keys, ['bytes', 1, 2]);
  assert.equal(columns.find((c) => c.path === 'weight')?.bitSize, 11);
  const value = codecFor(maps, record).decode(
    recordBytes({
      addr: 1,
      port: 2,
      proto: 3,
      bytes: [0n, 0n, 0n, 0n, 0n, 9n],
      kind: 1,
      enabled: 0,
      weight: 5,
      spare: 0,
      state: 1,
      delta: 0,
      label: ascii('ab\0'),
      tag: 0,
    }),
  );
  assert.equal(cellValue(value, columns.find((c) => c.path === 'bytes[1][2]') ?? assert.fail()), 9);
  assert.equal(cellValue(value, columns.find((c) => c.path === 'state') ?? assert.fail()), 'FX_BUSY');

  // fx_hist has 34 leaves: all fit 64 columns; with 10, count and sum_ns, then the rest as JSON.
  assert.equal(flattenColumns(hist).length, 34);
  const few = flattenColumns(hist, 10);
  assert.deepEqual(
    few.map((c) => c.path),
    ['count', 'sum_ns', '…'],
  );
  assert.deepEqual(few[2]?.except, ['count', 'sum_ns']);
  const histValue = codecFor(maps, mapTypes(maps, 'fx_hist').value ?? -1).decode(new Uint8Array(272));
  assert.deepEqual(cellValue(histValue, few[2] ?? assert.fail()), { slots: Array<number>(32).fill(0) });
  // A scalar value is one column with an empty path; an anonymous member is keyed "".
  assert.deepEqual(
    flattenColumns(shapeOf(maps, mapTypes(maps, 'fx_lru').key ?? -1)).map((c) => [c.path, c.kind]),
    [['', 'int']],
  );
  const kxColumns = flattenColumns(shapeOf(kinds, kinds.find('kx_all', BtfKind.Struct) ?? -1)).map((c) => c.path);
  assert.ok(kxColumns.includes('[""].u') && kxColumns.includes('["(anon 2)"].hi'), kxColumns.join(' '));
});

test('decoding 100,000 fx_bench entries (8-byte key, 16-byte value): time printed as a diagnostic', (t) => {
  const { key, value } = mapTypes(maps, 'fx_bench');
  const keys = codecFor(maps, key ?? -1);
  const values = codecFor(maps, value ?? -1);
  const n = 100_000;
  const entry = keys.size + values.size;
  const raw = new Uint8Array(n * entry);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < n; i++) {
    view.setBigUint64(i * entry, BigInt(i) * 2654435761n, true);
    view.setBigUint64(i * entry + 8, BigInt(i * 3), true);
    view.setBigUint64(i * entry + 16, BigInt(i) * 1500n, true);
  }
  // Keys and values kept, as the inspector keeps a page of them to send to the webview.
  const decodeAll = (): [JsonValue[], JsonValue[]] => {
    const k = new Array<JsonValue>(n);
    const v = new Array<JsonValue>(n);
    for (let i = 0; i < n; i++) {
      k[i] = keys.decode(raw, i * entry);
      v[i] = values.decode(raw, i * entry + 8);
    }
    return [k, v];
  };
  // Wall time, and this process's CPU time (steadier when other work shares the machine).
  const wall: number[] = [];
  const cpu: number[] = [];
  let last: [JsonValue[], JsonValue[]] = [[], []];
  for (let round = 0; round < 7; round++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    last = decodeAll();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  assert.equal(last[0][99_999], 99_999 * 2654435761);
  assert.deepEqual(last[1][99_999], { packets: 299_997, bytes: 149_998_500 });
  const median = (xs: number[]): string => ([...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN).toFixed(1);
  t.diagnostic(
    `decode of 100,000 entries (budget: well under 50 ms): wall first ${wall[0]?.toFixed(1)} ms, ` +
      `median ${median(wall)} ms, best ${Math.min(...wall).toFixed(1)} ms of 7; CPU median ${median(cpu)} ms ` +
      `(load average ${loadavg()[0]?.toFixed(1)} on ${availableParallelism()} CPUs)`,
  );
});
