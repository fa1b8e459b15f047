// core/src/verifier/btfLines.ts on damaged objects (issue 6, item 7): the reader used to throw
// raw JavaScript errors ("Offset is outside the bounds of the DataView", "no section sockops")
// that made the CLI lose the kernel's verdict. Now every damaged ELF, .BTF or .BTF.ext, and
// every missing section or program, reads as "no line info": named cases first, then a seeded
// fuzz over the committed fixture objects (the seed is printed: a failure replays exactly).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { btfLineInfo, type BtfLineInfo } from '../../core/src/verifier/btfLines';
import { elfSections, mutate, Rng, section } from '../support/damage';
import { repoRoot } from '../support/repo';

const logDir = join(repoRoot(process.cwd()), 'test/fixtures/verifier-logs');
const fixtures = [
  { file: 'subprog_fault.bpf.o', section: 'tracepoint/syscalls/sys_enter_read', program: 'count_reads' },
  { file: 'bad_return_cgroup_sock.bpf.o', section: 'cgroup/sock_create', program: 'deny_raw' },
];
const load = (file: string): Buffer => readFileSync(join(logDir, file));

function sectionHeader(elf: Buffer, name: string): number {
  const s = section(elf, name);
  return Number(elf.readBigUInt64LE(0x28)) + s.index * elf.readUInt16LE(0x3a);
}

function wellFormed(records: BtfLineInfo[]): void {
  assert.ok(Array.isArray(records));
  for (const r of records) {
    assert.ok(Number.isFinite(r.insn) && Number.isFinite(r.line), JSON.stringify(r));
    assert.equal(typeof r.file, 'string');
    assert.equal(typeof r.text, 'string');
  }
}

test('the intact fixtures still have their line info', () => {
  for (const f of fixtures) {
    const elf = load(f.file);
    assert.ok(btfLineInfo(elf, f.section, f.program).length > 0, f.file);
    assert.ok(btfLineInfo(elf, f.section).length > 0, f.file);
  }
});

test('named damage reads as no line info, never an exception', () => {
  const { file, section: sec, program } = fixtures[0] ?? assert.fail();
  const cases: [string, (elf: Buffer) => Buffer][] = [
    [
      '.BTF.ext placed past the end of the file',
      (e) => (e.writeBigUInt64LE(BigInt(e.length + 64), sectionHeader(e, '.BTF.ext') + 24), e),
    ],
    ['.BTF size far beyond the file', (e) => (e.writeBigUInt64LE(1n << 40n, sectionHeader(e, '.BTF') + 32), e)],
    ['line_info_len of 4 GiB', (e) => (e.writeUInt32LE(0xffffffff, section(e, '.BTF.ext').offset + 20), e)],
    [
      'line_info records of 0 bytes',
      (e) => {
        const ext = section(e, '.BTF.ext').offset;
        e.writeUInt32LE(0, ext + e.readUInt32LE(ext + 4) + e.readUInt32LE(ext + 16));
        return e;
      },
    ],
    ['BTF string offset past the table', (e) => (e.writeUInt32LE(0x7fffffff, section(e, '.BTF').offset + 16), e)],
    ['the section header table past the end', (e) => (e.writeBigUInt64LE(BigInt(e.length), 0x28), e)],
    ['a truncated object', (e) => e.subarray(0, Math.floor(e.length / 2))],
    ['an empty buffer', () => Buffer.alloc(0)],
    ['zeroed .BTF', (e) => e.fill(0, section(e, '.BTF').offset, section(e, '.BTF').offset + section(e, '.BTF').size)],
    [
      'a function symbol larger than its section',
      (e) => {
        const symtab = elfSections(e).find((s) => s.type === 2) ?? assert.fail();
        for (let at = symtab.offset; at < symtab.offset + symtab.size; at += 24) {
          if ((e[at + 4] ?? 0) % 16 === 2) e.writeBigUInt64LE(1n << 40n, at + 16);
        }
        return e;
      },
    ],
  ];
  for (const [what, damage] of cases) {
    const elf = damage(load(file));
    let records: BtfLineInfo[] = [];
    assert.doesNotThrow(() => (records = btfLineInfo(elf, sec, program)), what);
    wellFormed(records);
    assert.doesNotThrow(() => btfLineInfo(elf, sec), what);
  }
  // A section or program the object does not have (the CLI passes the agent's names).
  assert.deepEqual(btfLineInfo(load(file), 'sockops', 'bypass_sockops'), []);
  assert.deepEqual(btfLineInfo(load(file), sec, 'no_such_program'), []);
});

test('fuzz: damaged variants of the fixtures never throw', (t) => {
  const seed = Number(process.env.DFS_FUZZ_SEED ?? 0x6b7f1e) >>> 0;
  const perFixture = 4000;
  t.diagnostic(`seed ${seed} (replay: DFS_FUZZ_SEED=${seed}), ${perFixture} variants per fixture`);
  const rng = new Rng(seed);
  let withLines = 0;
  for (const f of fixtures) {
    const elf = load(f.file);
    for (let i = 0; i < perFixture; i++) {
      const m = mutate(elf, rng);
      let records: BtfLineInfo[] = [];
      assert.doesNotThrow(
        () => (records = btfLineInfo(m.bytes, f.section, f.program)),
        `${f.file} variant ${i} (${m.kind}: ${m.what})`,
      );
      wellFormed(records);
      if (records.length > 0) withLines++;
    }
  }
  t.diagnostic(`${withLines} of ${fixtures.length * perFixture} variants still had line info`);
});
