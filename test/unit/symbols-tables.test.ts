// The symbolizer's small parsers (remote-agent/src/symbols/): /proc/PID/maps lines (paths with
// spaces, deleted files, malformed lines), /proc/kallsyms (text symbols only, zero addresses of
// an unprivileged reader skipped, module symbols, the last symbol's bounded extent), the ELF
// reader's refusals of what is not ELF64, and Symbolizer.kernel on a kallsyms fixture.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bufferSource, floorIndex, parseElf, symbolAt } from '../../remote-agent/src/symbols/elf';
import { GoPclnTable } from '../../remote-agent/src/symbols/gopclntab';
import { kernelSymbolAt, parseKallsyms } from '../../remote-agent/src/symbols/kallsyms';
import { mappingAt, parseMaps } from '../../remote-agent/src/symbols/procMaps';
import { Symbolizer } from '../../remote-agent/src/symbols';

test('maps: lines parse into sorted mappings; deleted files and paths with spaces are kept', () => {
  const maps = parseMaps(
    [
      '7f0000001000-7f0000002000 r-xp 00001000 fd:01 42 /usr/lib/with space/libx.so (deleted)',
      '00400000-00401000 r--p 00000000 fd:01 7 /bin/juicefs',
      '00401000-03a37000 r-xp 00001000 fd:01 7 /bin/juicefs',
      'garbage line',
      '7ffd0000-7ffd1000 r-xp 00000000 00:00 0                          [vdso]',
      'c000000000-c000400000 rw-p 00000000 00:00 0 ',
      'ffff-eeee r-xp 0 00:00 0 /bad/range',
    ].join('\n'),
  );
  assert.deepEqual(
    maps.map((m) => m.path),
    ['/bin/juicefs', '/bin/juicefs', '[vdso]', '', '/usr/lib/with space/libx.so'],
  );
  const lib = maps.at(-1)!;
  assert.equal(lib.deleted, true);
  assert.equal(lib.offset, 0x1000);
  assert.equal(mappingAt(maps, 0x401234)?.offset, 0x1000);
  assert.equal(mappingAt(maps, 0x3a37000), undefined, 'end is exclusive');
  assert.equal(mappingAt(maps, 0x3ff000), undefined);
});

const KALLSYMS = [
  'ffffffff81000000 T _stext',
  'ffffffff81200000 T vfs_read',
  'ffffffff81200400 t vfs_write_helper',
  'ffffffff81300000 D some_data',
  '0000000000000000 T zero_addr_symbol',
  'ffffffffc0100000 t fuse_request_send\t[fuse]',
  'ffffffff81200100 W weak_text',
].join('\n');

test('kallsyms: text symbols only, sorted, zero addresses skipped, module names read', () => {
  const k = parseKallsyms(KALLSYMS);
  assert.deepEqual(k.names, ['_stext', 'vfs_read', 'weak_text', 'vfs_write_helper', 'fuse_request_send']);
  assert.equal(k.modules[4], 'fuse');
  assert.equal(k.names[kernelSymbolAt(k, 0xffffffff81200005n)], 'vfs_read');
  assert.equal(k.names[kernelSymbolAt(k, 0xffffffff81300010n)], 'vfs_write_helper', 'data symbols are not frames');
  assert.equal(kernelSymbolAt(k, 0xffffffff80000000n), -1);
  assert.equal(k.names[kernelSymbolAt(k, 0xffffffffc0100010n)], 'fuse_request_send');
  assert.equal(kernelSymbolAt(k, 0xffffffffc0200000n), -1, 'far past the last symbol is unknown');
  assert.equal(parseKallsyms('0000000000000000 T a\n0000000000000000 t b\n').names.length, 0);
});

test('Symbolizer.kernel names with the _[k] suffix and never drops a frame', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dfs-sym-'));
  writeFileSync(join(dir, 'kallsyms'), KALLSYMS);
  const s = new Symbolizer({ kallsymsPath: join(dir, 'kallsyms') });
  assert.deepEqual(
    s.kernel([0xffffffff81200005n, 0x10n, 0xffffffffc0100001n, -1n]).map((f) => f.name),
    ['vfs_read_[k]', '[kernel]+0x10_[k]', 'fuse_request_send_[k]', '[kernel]+0xffffffffffffffff_[k]'],
  );
  const none = new Symbolizer({ kallsymsPath: join(dir, 'missing') });
  assert.deepEqual(
    none.kernel([0xffffffff81200005n]).map((f) => f.name),
    ['[kernel]+0xffffffff81200005_[k]'],
  );
});

test('ELF reader: not ELF64 LE, empty and truncated inputs are refused without an exception', () => {
  assert.equal(parseElf(bufferSource(Buffer.alloc(0))), undefined);
  assert.equal(parseElf(bufferSource(Buffer.from('#!/bin/sh\necho hi\n'))), undefined);
  const elf32 = Buffer.alloc(64);
  elf32.write('\x7fELF', 0, 'latin1');
  elf32[4] = 1;
  elf32[5] = 1;
  assert.equal(parseElf(bufferSource(elf32)), undefined);
  // A bare ELF64 header whose tables point outside the file: parsed, with no sections.
  const bare = Buffer.alloc(64);
  bare.write('\x7fELF', 0, 'latin1');
  bare[4] = 2;
  bare[5] = 1;
  bare.writeUInt32LE(0xffff_fff0, 40); // e_shoff
  bare.writeUInt16LE(64, 58);
  bare.writeUInt16LE(30, 60);
  bare.writeUInt16LE(56, 54);
  bare.writeUInt16LE(9, 56);
  bare.writeUInt32LE(4096, 32); // e_phoff
  const parsed = parseElf(bufferSource(bare));
  assert.ok(parsed);
  assert.equal(parsed.sections.length, 0);
  assert.equal(parsed.programHeaders.length, 0);
});

test('symbol lookup: floor search, sizes respected, sized symbols win over aliases', () => {
  assert.equal(floorIndex([10, 20, 30], 5), -1);
  assert.equal(floorIndex([10, 20, 30], 20), 1);
  assert.equal(floorIndex([10, 20, 30], 99), 2);
  const syms = {
    addrs: Float64Array.from([0x1000, 0x1000, 0x2000]),
    sizes: Float64Array.from([0x100, 0, 0]),
    names: ['sized', 'alias', 'unsized'],
  };
  assert.equal(symbolAt(syms, 0x1010), 'sized');
  assert.equal(symbolAt(syms, 0x1200), undefined, 'past the size of the only symbol there');
  assert.equal(symbolAt(syms, 0x2fff), 'unsized');
  assert.equal(symbolAt(syms, 0xfff), undefined);
});

test('pcln header: old Go magics are "unsupported", others "not-pcln" or "damaged", never thrown', () => {
  const h = Buffer.alloc(72);
  h.writeUInt32LE(0xfffffffa, 0);
  assert.deepEqual(pick(GoPclnTable.parse(h)), 'unsupported-version');
  h.writeUInt32LE(0xfffffffb, 0);
  assert.deepEqual(pick(GoPclnTable.parse(h)), 'unsupported-version');
  h.writeUInt32LE(0x12345678, 0);
  assert.deepEqual(pick(GoPclnTable.parse(h)), 'not-pcln');
  h.writeUInt32LE(0xfffffff1, 0);
  h[6] = 1;
  h[7] = 8;
  h.writeUInt32LE(1_000_000, 8); // nfunc with no room for its table
  assert.deepEqual(pick(GoPclnTable.parse(h)), 'damaged');
  assert.deepEqual(pick(GoPclnTable.parse(h.subarray(0, 30))), 'damaged');
  assert.deepEqual(pick(GoPclnTable.parse(Buffer.alloc(3))), 'not-pcln');
});

function pick(r: ReturnType<typeof GoPclnTable.parse>): string {
  return r.ok ? 'ok' : r.reason;
}
