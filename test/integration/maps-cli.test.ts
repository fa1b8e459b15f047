// Integration: `dfs-ebpf maps list|dump|update|delete` through a real agent on a local test
// node, against the real maps of test/fixtures/bpf/maps/maps.bpf.c (loaded and pinned with
// bpftool, so they are not ours): decoded dumps agree with `bpftool map dump -j` field by field
// (nested struct, nested arrays, bitfields, enum, char array, union; per-CPU values), and bad
// input gets a coded error that leaves the map unchanged while the agent keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDown } from '../../core/src/testnode';
import { upNode } from '../support/node';
import { runCli, type CliResult } from '../support/cli';
import { loopbackConnection, socketFd } from '../support/loopback';
import { compileMapsFixture } from '../support/mapsFixture';
import { builtAddon } from '../support/repo';

const NAME = 'dfsmaps';
const tmp = mkdtempSync(join(tmpdir(), 'dfs-maps-'));
const pins = `/sys/fs/bpf/dfs-test-maps-${process.pid}`;

const cli = (...args: string[]): Promise<CliResult> => runCli([...args, '--node', NAME]);

function bpftool(...args: string[]): unknown {
  return JSON.parse(execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })) as unknown;
}

function mapId(name: string): number {
  return (bpftool('map', 'show', 'pinned', join(pins, 'maps', name)) as { id: number }).id;
}

/** bpftool prints bitfields as "0x…" strings; ours are numbers. Compare as numbers. */
function normalise(v: unknown): unknown {
  if (typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v)) return Number(v);
  if (Array.isArray(v)) return v.map(normalise);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
  return v;
}

async function ok(...args: string[]): Promise<unknown> {
  const r = await cli(...args, '--json');
  assert.equal(r.code, 0, `dfs-ebpf ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as unknown;
}

const KEY = { addr: 0x0100007f, port: 6379, proto: 6, pad: 0 };
const VALUE = {
  peer: { addr: 0x0200000a, port: 9000, proto: 17, pad: 0 },
  bytes: [
    [1, 2, 3],
    [4, 5, 2 ** 40],
  ],
  kind: 9,
  enabled: 1,
  weight: 2047,
  spare: 65535,
  state: 'FX_FAILED',
  delta: -12345,
  label: 'meta-redis',
  tag: { as_u32: 0x01020304, as_bytes: [4, 3, 2, 1] },
};

before(async () => {
  const fixture = compileMapsFixture();
  try {
    execFileSync('bpftool', ['prog', 'loadall', fixture.path, pins, 'pinmaps', join(pins, 'maps')]);
  } finally {
    fixture.dispose();
  }
  await upNode(NAME);
});

after(async () => {
  rmSync(pins, { recursive: true, force: true });
  rmSync(tmp, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

test('maps list shows every kind with its sizes, as the kernel says', async () => {
  const { maps } = (await ok('maps', 'list')) as {
    maps: {
      id: number;
      name: string;
      type: string;
      key_size: number;
      value_size: number;
      max_entries: number;
      ours: boolean;
    }[];
  };
  const want: Record<string, [string, number, number, number]> = {
    fx_hash: ['hash', 8, 88, 1024],
    fx_array: ['array', 4, 88, 16],
    fx_percpu_hash: ['percpu_hash', 4, 16, 256],
    fx_percpu_array: ['percpu_array', 4, 8, 8],
    fx_lru: ['lru_hash', 8, 16, 65536],
    fx_sockhash: ['sockhash', 8, 8, 64],
    fx_ringbuf: ['ringbuf', 0, 0, 65536],
    fx_hist: ['array', 4, 272, 4],
    fx_bench: ['hash', 8, 16, 100000],
  };
  for (const [name, [type, k, v, max]] of Object.entries(want)) {
    const m = maps.find((x) => x.name === name && x.id === mapId(name));
    assert.ok(m, `${name} is listed`);
    assert.deepEqual([m.type, m.key_size, m.value_size, m.max_entries], [type, k, v, max], name);
    assert.equal(m.ours, false, `${name} was loaded by bpftool, not by us`);
  }
});

test('a struct value with nested arrays, bitfields, an enum and a union: written by us, read by bpftool', async () => {
  const id = String(mapId('fx_hash'));
  await ok('maps', 'update', id, JSON.stringify(KEY), JSON.stringify(VALUE), '--yes');
  const theirs = bpftool('map', 'dump', 'id', id) as { formatted: { key: unknown; value: unknown } }[];
  const ours = (await ok('maps', 'dump', id)) as { entries: { key: unknown; value: unknown }[] };
  assert.equal(ours.entries.length, 1);
  assert.deepEqual(ours.entries[0], { key: KEY, value: VALUE });
  assert.deepEqual(normalise(theirs[0]?.formatted), ours.entries[0], 'bpftool decodes the same fields');
});

test('per-CPU values: one element per CPU, as bpftool shows them', async () => {
  const id = String(mapId('fx_percpu_hash'));
  const cpus = Number(execFileSync('nproc', ['--all'], { encoding: 'utf8' }).trim());
  const value = Array.from({ length: cpus }, (_, c) => ({ packets: 10 + c, bytes: 1000 * (c + 1) }));
  await ok('maps', 'update', id, '7', JSON.stringify(value), '--yes');
  const ours = (await ok('maps', 'dump', id)) as { entries: { key: unknown; value: unknown[] }[] };
  assert.deepEqual(ours.entries, [{ key: 7, value }]);
  const theirs = bpftool('map', 'dump', 'id', id) as { formatted: { values: { cpu: number; value: unknown }[] } }[];
  assert.deepEqual(
    theirs[0]?.formatted.values.map((x) => x.value),
    value,
  );
});

test('array, LRU and histogram maps dump whole; a ring buffer is refused with a clear reason', async () => {
  const arr = (await ok('maps', 'dump', String(mapId('fx_array')))) as { entries: unknown[] };
  assert.equal(arr.entries.length, 16, 'an array has every slot');
  const lruId = String(mapId('fx_lru'));
  for (let k = 0; k < 10; k++)
    await ok('maps', 'update', lruId, String(k * 1000), JSON.stringify({ packets: k, bytes: k * 2 }), '--yes');
  const lru = (await ok('maps', 'dump', lruId)) as { entries: { key: number }[] };
  assert.deepEqual(
    lru.entries.map((e) => e.key).sort((a, b) => a - b),
    Array.from({ length: 10 }, (_, k) => k * 1000),
  );
  const ring = await cli('maps', 'dump', String(mapId('fx_ringbuf')), '--json');
  assert.notEqual(ring.code, 0);
  assert.match(ring.stderr, /ringbuf.*no entries to list/);
});

test('bad input: coded errors, the map unchanged, the agent still serving', async () => {
  const id = String(mapId('fx_hash'));
  const before = bpftool('map', 'dump', 'id', id);
  const wrongBitfield = await cli(
    'maps',
    'update',
    id,
    JSON.stringify(KEY),
    JSON.stringify({ ...VALUE, weight: 4096 }),
    '--yes',
  );
  assert.equal(wrongBitfield.code, 1);
  assert.match(wrongBitfield.stderr, /value\.weight.*4096.*\[BadRequest\]/);
  const wrongType = await cli(
    'maps',
    'update',
    id,
    JSON.stringify(KEY),
    JSON.stringify({ ...VALUE, state: 'FX_NOPE' }),
    '--yes',
  );
  assert.match(wrongType.stderr, /value\.state.*\[BadRequest\]/);
  const missing = await cli('maps', 'delete', id, JSON.stringify({ ...KEY, port: 1 }), '--yes');
  assert.match(missing.stderr, /no such key.*\[NotFound\]/);
  const notOurs = await cli('maps', 'delete', id, JSON.stringify(KEY));
  assert.match(notOurs.stderr, /not ours.*--yes.*\[PermissionDenied\]/);
  const gone = await cli('maps', 'dump', '4000000000');
  assert.match(gone.stderr, /no map with id 4000000000.*\[NotFound\]/);
  const notJson = await cli('maps', 'update', id, '{', '{}', '--yes');
  assert.match(notJson.stderr, /KEY is not JSON.*\[BadRequest\]/);
  assert.deepEqual(bpftool('map', 'dump', 'id', id), before, 'nothing was written');
  // Still serving: a delete that is right goes through.
  await ok('maps', 'delete', id, JSON.stringify(KEY), '--yes');
  assert.deepEqual(bpftool('map', 'dump', 'id', id), []);
});

test('a map without BTF: hex keys and values both ways, a clear error for anything else', async () => {
  const pin = join(pins, 'nobtf');
  execFileSync('bpftool', [
    'map',
    'create',
    pin,
    'type',
    'hash',
    'key',
    '4',
    'value',
    '8',
    'entries',
    '16',
    'name',
    'dfs_nobtf',
  ]);
  const id = String((bpftool('map', 'show', 'pinned', pin) as { id: number }).id);
  await ok('maps', 'update', id, '"0x01000000"', '"0x0200000000000000"', '--yes');
  const ours = (await ok('maps', 'dump', id)) as { entries: unknown[] };
  assert.deepEqual(ours.entries, [{ key: '0x01000000', value: '0x0200000000000000' }]);
  const theirs = bpftool('map', 'dump', 'id', id) as { key: string[]; value: string[] }[];
  assert.deepEqual(theirs[0]?.key, ['0x01', '0x00', '0x00', '0x00']);
  const wrong = await cli('maps', 'update', id, '1', '{"count":2}', '--yes');
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /key: this map has no BTF, so give "0x" and 8 hex digits \(4 bytes\).*\[BadRequest\]/);
  const short = await cli('maps', 'update', id, '"0x01000000"', '"0x02"', '--yes');
  assert.match(short.stderr, /value: this map has no BTF.*16 hex digits \(8 bytes\).*\[BadRequest\]/);
  assert.equal((bpftool('map', 'dump', 'id', id) as unknown[]).length, 1, 'nothing else was written');
});

test('a sockhash dumps as keys and socket cookies, the same cookies the kernel hands out', async () => {
  // Sockets enter a sockhash from user space by fd; the test holds both ends of a real
  // loopback connection and puts them in through the addon (bpftool cannot).
  const addon = builtAddon();
  const fd = addon.openPinned(join(pins, 'maps', 'fx_sockhash'));
  const { server, client, peer } = await loopbackConnection();
  const keys = [client, peer].map((socket, i) => {
    const key = Buffer.alloc(8);
    key.writeUInt32LE(0x0100007f); // fx_endpoint.addr
    key.writeUInt16LE(socket.localPort ?? 0, 4);
    key.writeUInt8(i, 6);
    const value = Buffer.alloc(8);
    value.writeBigUInt64LE(BigInt(socketFd(socket)));
    addon.mapUpdate(fd, key, value, 0);
    return { key };
  });
  try {
    const cookies = keys.map(({ key }) => addon.mapLookup(fd, key, 8)?.readBigUInt64LE(0));
    // The kernel keeps no BTF for socket maps (libbpf creates them without it), so keys and
    // values come as hex; a value is the socket's cookie, little-endian.
    const dumped = (await ok('maps', 'dump', String(mapId('fx_sockhash')))) as {
      entries: { key: string; value: string }[];
    };
    assert.deepEqual(dumped.entries.map((e) => e.key).sort(), keys.map(({ key }) => `0x${key.toString('hex')}`).sort());
    for (const [i, k] of keys.entries()) {
      const e = dumped.entries.find((x) => x.key === `0x${k.key.toString('hex')}`);
      assert.equal(
        Buffer.from(e?.value.slice(2) ?? '', 'hex').readBigUInt64LE(0),
        cookies[i],
        'the value is the socket cookie',
      );
    }
  } finally {
    for (const { key } of keys) addon.mapDelete(fd, key);
    addon.closeFd(fd);
    client.destroy();
    peer.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
