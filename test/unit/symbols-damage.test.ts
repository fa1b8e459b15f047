// Damaged binaries never break the symbolizer (remote-agent/src/symbols/): a zero-length file,
// a non-ELF file, truncated binaries, flipped bytes in the pcln header and function table, an
// ELF without .gopclntab, all mapped into a fake /proc (procRoot) so that Symbolizer.user runs
// its real path; frames come back one per address as module+0xOFFSET. Then a bounded in-process
// fuzz: 2,000 seeded variants of the stripped cgo fixture (bytes flipped where the readers
// look: ELF and section headers, pcln header, function table, _func records, pc tables,
// moduledata; plus truncations) through the readers' own entry points, which must neither
// throw nor answer anything but a name or "unknown". Needs Go for the fixture (goBinaries.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  bufferSource,
  fileSource,
  functionSymbols,
  parseElf,
  sectionData,
  symbolAt,
  type ElfFile,
} from '../../remote-agent/src/symbols/elf';
import { GoPclnTable } from '../../remote-agent/src/symbols/gopclntab';
import { ModuleSymbols } from '../../remote-agent/src/symbols/module';
import { Symbolizer } from '../../remote-agent/src/symbols';
import { buildGoFixtures } from '../support/goBinaries';

const bins = buildGoFixtures();
const stripped = readFileSync(bins.externalStripped);
const elf = parseElf(bufferSource(stripped))!;
const pcln = sectionData(elf, '.gopclntab')!;
const text = elf.sections.find((s) => s.name === '.text')!;
const good = ModuleSymbols.read(bufferSource(stripped));

/** File offsets of a few Go functions of the fixture (resolved on the intact binary). */
function fileOffsetsOfKnownCode(): number[] {
  const table = good.pcln!;
  const out: number[] = [];
  for (const f of table.functions()) {
    if (!/^main\.|^runtime\.(goexit|mcall|gopark)$/.test(f.name)) continue;
    out.push(f.entry - text.addr + text.offset, f.entry + 1 - text.addr + text.offset);
  }
  return out;
}

test('damaged files mapped into a process give module+offset frames, never an exception', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dfs-sym-damage-'));
  const bin = (name: string, bytes: Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const flipped = (at: number, len: number): Buffer => {
    const b = Buffer.from(stripped);
    for (let i = 0; i < len; i++) b[at + i] = b[at + i]! ^ 0xff;
    return b;
  };
  const noPcln = Buffer.from(stripped);
  // Rename ".gopclntab" in the section-name table: an ELF without the pcln section.
  const at = noPcln.indexOf('.gopclntab\0');
  assert.ok(at > 0);
  noPcln.write('.gopclnxxx', at, 'latin1');
  const cases = {
    empty: bin('empty', Buffer.alloc(0)),
    script: bin('script', Buffer.from('#!/bin/sh\nexit 0\n'.repeat(1000))),
    'truncated-half': bin('truncated-half', stripped.subarray(0, stripped.length >> 1)),
    'truncated-header': bin('truncated-header', stripped.subarray(0, 40)),
    'pcln-magic': bin('pcln-magic', flipped(pcln.header.offset, 4)),
    'pcln-nfunc': bin('pcln-nfunc', flipped(pcln.header.offset + 8, 8)),
    'no-pcln': bin('no-pcln', noPcln),
  };
  const good2 = bin('intact', stripped);
  const offsets = fileOffsetsOfKnownCode();
  assert.ok(offsets.length >= 6);
  // A fake /proc: maps for pid 4242 with each file mapped at its own base; root -> '/'.
  const proc = join(dir, 'proc');
  mkdirSync(join(proc, '4242'), { recursive: true });
  symlinkSync('/', join(proc, '4242', 'root'));
  const all = { ...cases, intact: good2 };
  let base = 0x10_0000_0000;
  const bases = new Map<string, number>();
  const lines: string[] = [];
  for (const path of Object.values(all)) {
    bases.set(path, base);
    const inode = statSync(path).ino;
    lines.push(`${base.toString(16)}-${(base + 0x1000_0000).toString(16)} r-xp 00000000 fd:01 ${inode} ${path}`);
    base += 0x1000_0000;
  }
  writeFileSync(join(proc, '4242', 'maps'), lines.join('\n') + '\n');
  const s = new Symbolizer({ procRoot: proc });
  for (const [what, path] of Object.entries(cases)) {
    const addrs = offsets.map((o) => BigInt(bases.get(path)! + o));
    const frames = s.user(4242, addrs);
    assert.equal(frames.length, addrs.length, what);
    assert.deepEqual(
      frames.map((f) => f.name),
      offsets.map((o) => `${basename(path)}+0x${o.toString(16)}`),
      what,
    );
  }
  // The intact copy names the same offsets (the fake /proc itself works).
  const named = s.user(
    4242,
    offsets.map((o) => BigInt(bases.get(good2)! + o)),
  );
  assert.ok(named.some((f) => f.name === 'main.main'));
  assert.ok(named.every((f) => !f.name.startsWith('intact+')));
  // A binary replaced since it was mapped (another inode at the path, or marked deleted) is not read.
  mkdirSync(join(proc, '4243'));
  symlinkSync('/', join(proc, '4243', 'root'));
  const inode = statSync(good2).ino;
  writeFileSync(
    join(proc, '4243', 'maps'),
    [
      `1000000000-1010000000 r-xp 00000000 fd:01 ${inode + 1} ${good2}`,
      `2000000000-2010000000 r-xp 00000000 fd:01 ${inode} ${good2} (deleted)`,
    ].join('\n'),
  );
  const o = offsets[0]!;
  assert.deepEqual(
    s.user(4243, [BigInt(0x10_0000_0000 + o), BigInt(0x20_0000_0000 + o)]).map((f) => f.name),
    [`intact+0x${o.toString(16)}`, `intact+0x${o.toString(16)}`],
  );
  // Addresses outside every mapping, and a pid that does not exist.
  assert.deepEqual(
    s.user(4242, [0x10n, 2n ** 64n - 1n]).map((f) => f.name),
    ['[unknown]+0x10', '[unknown]+0xffffffffffffffff'],
  );
  assert.deepEqual(
    s.user(999_999_999, [0x1234n]).map((f) => f.name),
    ['[unknown]+0x1234'],
  );
});

/** xorshift32: the same variants on every run; a failure names its seed and index. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

test('fuzz: 2,000 damaged variants of a stripped cgo Go binary: no exception, only names or unknown', (t) => {
  const SEED = 0x5eed_0007;
  const rand = prng(SEED);
  const buf = Buffer.from(stripped); // mutated in place, restored after each variant
  const ph = pcln.header;
  const table = good.pcln!;
  const shoff = Number(buf.readBigUInt64LE(40));
  const functabOff = ph.offset + table.functab;
  const moduleSection = elf.sections.find((s) => s.name === '.go.module');
  // Regions the readers look at, each with a weight.
  const regions: Array<[start: number, len: number]> = [
    [0, 64],
    [shoff, buf.length - shoff],
    [ph.offset, 72],
    [functabOff, (table.nfunc + 1) * 8],
    [functabOff + (table.nfunc + 1) * 8, 200_000],
    [ph.offset, ph.size],
    ...(moduleSection ? [[moduleSection.offset, moduleSection.size] as [number, number]] : []),
  ];
  const pcs: number[] = [];
  for (let i = 0; i < 40; i++) pcs.push(table.textStart + Math.floor(rand() * (table.textEnd - table.textStart)));
  pcs.push(0, -1, 2 ** 53, table.textEnd, table.textStart - 1);
  const started = Date.now();
  let named = 0;
  let unknown = 0;
  for (let variant = 0; variant < 2000; variant++) {
    const saved: Array<[number, number]> = [];
    let view: Buffer = buf;
    if (variant % 10 === 9) {
      view = buf.subarray(0, Math.floor(rand() * buf.length)); // truncation
    } else {
      const flips = 1 + Math.floor(rand() * 8);
      for (let f = 0; f < flips; f++) {
        const [start, len] = regions[Math.floor(rand() * regions.length)]!;
        const at = Math.min(buf.length - 1, start + Math.floor(rand() * len));
        saved.push([at, buf[at]!]);
        buf[at] = rand() < 0.5 ? buf[at]! ^ (1 << Math.floor(rand() * 8)) : Math.floor(rand() * 256);
      }
    }
    try {
      const e: ElfFile | undefined = parseElf(bufferSource(view));
      const syms = e ? functionSymbols(e) : undefined;
      const sec = e ? sectionData(e, '.gopclntab') : undefined;
      const parsed = sec ? GoPclnTable.parse(sec.data, { textStart: table.textStart }) : undefined;
      const mod = ModuleSymbols.read(bufferSource(view));
      assert.ok(
        mod.go.kind === 'go' || !mod.go.detail.startsWith('unreadable'),
        `variant ${variant}: ${JSON.stringify(mod.go)}`,
      );
      for (const pc of pcs) {
        const direct = parsed?.ok ? parsed.table.lookup(pc) : undefined;
        if (direct) assert.equal(typeof direct.name, 'string');
        if (syms) symbolAt(syms, pc);
        mod.vaddrOfOffset(pc - text.addr + text.offset);
        const n = mod.nameAt(pc);
        if (n) {
          assert.ok(n.name.length > 0);
          named++;
        } else unknown++;
      }
      if (parsed?.ok) for (const _ of parsed.table.functions()) void _;
    } catch (err) {
      assert.fail(`seed ${SEED} variant ${variant}: ${err instanceof Error ? err.stack : String(err)}`);
    } finally {
      for (const [at, byte] of saved.reverse()) buf[at] = byte;
    }
  }
  assert.ok(buf.equals(stripped), 'every variant was restored');
  t.diagnostic(`2000 variants in ${((Date.now() - started) / 1000).toFixed(1)} s; ${named} names, ${unknown} unknown`);
});

test('a file read with pread gives the same module as the same bytes in memory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dfs-sym-copy-'));
  const p = join(dir, 'c');
  copyFileSync(bins.externalStripped, p);
  const source = fileSource(p)!;
  const fromFile = ModuleSymbols.read(source);
  source.close();
  assert.equal(fromFile.go.kind, 'go');
  assert.deepEqual(fromFile.go, good.go);
  const pc = good.pcln!.textStart + 0x1234;
  assert.deepEqual(fromFile.nameAt(pc), good.nameAt(pc));
});
