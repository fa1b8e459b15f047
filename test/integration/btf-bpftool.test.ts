// Parity of the BTF codec (core/src/btf) with `bpftool map dump -j`: loads the map inspector's
// fixture (test/fixtures/bpf/maps/maps.bpf.c) with `bpftool prog loadall` into a pinned
// directory of its own, writes entries into fx_hash, fx_array and fx_percpu_hash with bytes
// our encoder made (bitfields, the enum with and without a name, nested arrays with 64-bit
// values past 2^53, the char array as text, as non-text and empty, the union), and checks,
// field by field, that decoding the raw bytes bpftool prints ("key"/"value") gives bpftool's
// "formatted" object. Where the conventions differ on purpose (codec.ts header: bitfields are
// numbers, not "0x…" strings; integers past 2^53 are decimal strings, where bpftool prints bare
// numbers that JSON.parse would round) bpftool's side is converted first, exactly.
// Needs root (loading BPF) and bpftool; skipped, saying which, without them. The pinned
// directory is removed in `after`, also when a test fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  BtfKind,
  codecFor,
  elfSection,
  parseBtf,
  shapeOf,
  type Btf,
  type JsonValue,
  type TypeShape,
} from '../../core/src/btf';
import { compileMapsFixture } from '../support/mapsFixture';

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to load BPF programs (bpftool prog loadall)';
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
  } catch {
    return 'bpftool is not installed';
  }
  if (!existsSync('/sys/fs/bpf')) return 'no BPF filesystem at /sys/fs/bpf';
  return false;
}

/**
 * JSON.parse that keeps integers of 16 digits or more exact, as decimal strings (bpftool prints
 * 2^64 - 1 as a bare number). Numbers inside strings are left alone.
 */
function parseExact(text: string): unknown {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    const m = /^-?\d{16,}(?![.eE\d])/.exec(text.slice(i, i + 48));
    if (!inString && m && !/[\d.]/.test(text[i - 1] ?? '')) {
      const n = BigInt(m[0]);
      out +=
        n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= -BigInt(Number.MAX_SAFE_INTEGER) ? m[0] : JSON.stringify(m[0]);
      i += m[0].length - 1;
      continue;
    }
    out += c;
  }
  return JSON.parse(out);
}

/** bpftool's "formatted" value in our conventions: bitfields' "0x…" become their value. */
function normalize(v: unknown, shape: TypeShape, bitSize?: number): unknown {
  if (bitSize !== undefined && typeof v === 'string' && /^0x[0-9a-f]+$/.test(v)) {
    const x = BigInt(v);
    return x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString();
  }
  if (Array.isArray(v) && shape.element) return v.map((x) => normalize(x, shape.element as TypeShape));
  if (v !== null && typeof v === 'object' && shape.fields) {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(shape.fields.map((f) => [f.key, normalize(o[f.key], f.shape, f.bitSize)]));
  }
  return v;
}

const hex = (bytes: Uint8Array): string[] => [...bytes].map((b) => b.toString(16).padStart(2, '0'));
const fromHex = (h: unknown): Uint8Array => Uint8Array.from((h as string[]).map((x) => parseInt(x, 16)));

interface DumpEntry {
  key: string[];
  value?: string[];
  values?: { cpu: number; value: string[] }[];
  formatted: { key: unknown; value?: unknown; values?: { cpu: number; value: unknown }[] };
}

describe('decode equals bpftool map dump -j', { skip: skipReason() }, () => {
  const pinned = join('/sys/fs/bpf', `dfs-btf-test-${process.pid}-${Date.now().toString(36)}`);
  let btf: Btf;

  before(() => {
    const fixture = compileMapsFixture();
    try {
      btf = parseBtf(elfSection(fixture.elf, '.BTF'));
      mkdirSync(pinned);
      execFileSync(
        'bpftool',
        ['prog', 'loadall', fixture.path, join(pinned, 'progs'), 'pinmaps', join(pinned, 'maps')],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
    } finally {
      fixture.dispose();
    }
  });

  after(() => {
    // Unpinning is all it takes: nothing else holds the programs or maps.
    rmSync(pinned, { recursive: true, force: true });
  });

  /** Key and value type ids of a map, from the .maps section as libbpf reads them. */
  function mapTypes(map: string): { key: number; value: number } {
    const variable = btf.types.find((t) => t.kind === BtfKind.Var && t.name === map);
    const def = variable?.kind === BtfKind.Var ? btf.type(variable.type) : undefined;
    assert.ok(def?.kind === BtfKind.Struct, map);
    const target = (name: string): number => {
      const ptr = btf.type(def.members.find((m) => m.name === name)?.type ?? -1);
      assert.ok(ptr.kind === BtfKind.Ptr);
      return ptr.type;
    };
    return { key: target('key'), value: target('value') };
  }

  function update(map: string, key: Uint8Array, value: Uint8Array): void {
    execFileSync(
      'bpftool',
      ['map', 'update', 'pinned', join(pinned, 'maps', map), 'key', 'hex', ...hex(key), 'value', 'hex', ...hex(value)],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
  }

  function dump(map: string): DumpEntry[] {
    const text = execFileSync('bpftool', ['-j', 'map', 'dump', 'pinned', join(pinned, 'maps', map)], {
      encoding: 'utf8',
    });
    return parseExact(text) as DumpEntry[];
  }

  /** Field by field: our decode of bpftool's raw bytes equals bpftool's formatted value. */
  function same(ours: JsonValue, theirs: unknown, shape: TypeShape, what: string): void {
    const expected = normalize(theirs, shape);
    if (shape.fields && ours !== null && typeof ours === 'object' && !Array.isArray(ours)) {
      assert.deepEqual(Object.keys(ours), Object.keys(expected as object), `${what}: field names`);
      for (const k of Object.keys(ours))
        assert.deepEqual(ours[k], (expected as Record<string, unknown>)[k], `${what}.${k}`);
    } else assert.deepEqual(ours, expected, what);
  }

  const records = [
    {
      key: { addr: 0x0100007f, port: 6379, proto: 6, pad: 0 },
      value: {
        peer: { addr: 0x0100007f, port: 6379, proto: 6, pad: 0 },
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
        tag: { as_u32: 0x01020304 },
      },
    },
    {
      key: { addr: 0x0200000a, port: 80, proto: 17, pad: 1 },
      value: {
        peer: { addr: 0xffffffff, port: 65535, proto: 255, pad: 255 },
        bytes: [
          ['9007199254740991', 0, '0x8000000000000000'],
          [0, 0, 0],
        ],
        kind: 0,
        enabled: 0,
        weight: 1,
        spare: 0xffff,
        state: 3,
        delta: -2147483648,
        label: [1, 2, 65, -23, 0, 0, 0, 0, 0, 0, 0, 127],
        tag: { as_bytes: [255, 0, 128, 1] },
      },
    },
    {
      key: { addr: 0, port: 0, proto: 0, pad: 0 },
      value: {
        peer: { addr: 0, port: 0, proto: 0, pad: 0 },
        bytes: [
          [0, 0, 0],
          [0, 0, 0],
        ],
        kind: 15,
        enabled: 1,
        weight: 0,
        spare: 0,
        state: 'FX_IDLE',
        delta: 2147483647,
        label: 'abcdefghijk',
        tag: { as_u32: 0 },
      },
    },
  ];

  test('fx_hash: struct fx_endpoint keys, struct fx_record values', () => {
    const { key, value } = mapTypes('fx_hash');
    const keys = codecFor(btf, key);
    const values = codecFor(btf, value);
    for (const r of records) update('fx_hash', keys.encode(r.key, 'key'), values.encode(r.value, 'value'));
    const entries = dump('fx_hash');
    assert.equal(entries.length, records.length);
    const keyShape = shapeOf(btf, key);
    const valueShape = shapeOf(btf, value);
    for (const e of entries) {
      same(keys.decode(fromHex(e.key)), e.formatted.key, keyShape, 'key');
      same(
        values.decode(fromHex(e.value)),
        e.formatted.value,
        valueShape,
        `value of ${JSON.stringify(e.formatted.key)}`,
      );
    }
    // And what bpftool read is what we wrote (our decode of our encode, through the kernel).
    const byPort = new Map(entries.map((e) => [(keys.decode(fromHex(e.key)) as { port: number }).port, e]));
    const second = byPort.get(80) ?? assert.fail();
    const decoded = values.decode(fromHex(second.value)) as Record<string, JsonValue>;
    assert.equal(decoded.state, 3);
    assert.deepEqual(decoded.label, [1, 2, 65, -23, 0, 0, 0, 0, 0, 0, 0, 127]);
    assert.deepEqual(decoded.bytes, [
      [9007199254740991, 0, '9223372036854775808'],
      [0, 0, 0],
    ]);
  });

  test('fx_array: __u32 keys, every slot (unset ones are zeros: label "" and FX_IDLE)', () => {
    const { key, value } = mapTypes('fx_array');
    const keys = codecFor(btf, key);
    const values = codecFor(btf, value);
    update('fx_array', keys.encode(3, 'key'), values.encode(records[0]?.value, 'value'));
    update('fx_array', keys.encode('0xf', 'key'), values.encode(records[2]?.value, 'value'));
    const entries = dump('fx_array');
    assert.equal(entries.length, 16);
    const valueShape = shapeOf(btf, value);
    for (const e of entries) {
      same(keys.decode(fromHex(e.key)), e.formatted.key, shapeOf(btf, key), 'key');
      same(values.decode(fromHex(e.value)), e.formatted.value, valueShape, `slot ${String(e.formatted.key)}`);
    }
    const zero = values.decode(fromHex(entries[0]?.value)) as Record<string, JsonValue>;
    assert.equal(zero.label, '');
    assert.equal(zero.state, 'FX_IDLE');
  });

  test('fx_percpu_hash: one struct fx_counter per CPU', () => {
    const { key, value } = mapTypes('fx_percpu_hash');
    const keys = codecFor(btf, key);
    const values = codecFor(btf, value);
    update(
      'fx_percpu_hash',
      keys.encode(1, 'key'),
      values.encode({ packets: '9007199254740993', bytes: 1500 }, 'value'),
    );
    update(
      'fx_percpu_hash',
      keys.encode(2, 'key'),
      values.encode({ packets: 0, bytes: '0xffffffffffffffff' }, 'value'),
    );
    const entries = dump('fx_percpu_hash');
    assert.equal(entries.length, 2);
    const valueShape = shapeOf(btf, value);
    for (const e of entries) {
      same(keys.decode(fromHex(e.key)), e.formatted.key, shapeOf(btf, key), 'key');
      assert.ok(e.values && e.formatted.values && e.values.length === e.formatted.values.length && e.values.length > 0);
      e.values.forEach((cpu, i) => {
        same(
          values.decode(fromHex(cpu.value)),
          e.formatted.values?.[i]?.value,
          valueShape,
          `cpu ${cpu.cpu} of ${String(e.formatted.key)}`,
        );
      });
    }
    const one = entries.find((e) => keys.decode(fromHex(e.key)) === 1) ?? assert.fail();
    assert.deepEqual(values.decode(fromHex(one.values?.[0]?.value)), { packets: '9007199254740993', bytes: 1500 });
  });
});
