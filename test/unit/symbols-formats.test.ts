// Format variants the Go reader (remote-agent/src/symbols/) must handle that the local Go
// toolchain does not build by itself, made by editing the fixture's bytes (goBinaries.ts):
// a PIE whose moduledata holds zeros on disk (a linker that leaves RELA targets unwritten:
// the words come from the R_X86_64_RELATIVE relocations), and a table with the Go 1.18–1.19
// magic (same fields for names and lines; no inline-tree expansion).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bufferSource, parseElf, sectionData } from '../../remote-agent/src/symbols/elf';
import { PCLN_MAGIC_118 } from '../../remote-agent/src/symbols/gopclntab';
import { ModuleSymbols } from '../../remote-agent/src/symbols/module';
import { buildGoFixtures } from '../support/goBinaries';

const bins = buildGoFixtures();

/** A spread of PCs over the text: entries and inside functions. */
function samplePcs(mod: ModuleSymbols): number[] {
  const table = mod.pcln!;
  const out: number[] = [];
  let i = 0;
  for (const f of table.functions()) if (i++ % 7 === 0) out.push(f.entry, f.entry + 3);
  return out;
}

test('PIE: moduledata found through its RELATIVE relocations when the file holds zeros there', () => {
  const intact = readFileSync(bins.pieStripped);
  const good = ModuleSymbols.read(bufferSource(intact));
  assert.equal(good.go.kind, 'go');
  const zeroed = Buffer.from(intact);
  const elf = parseElf(bufferSource(zeroed))!;
  const moduledata = elf.sections.find((s) => s.name === '.go.module');
  assert.ok(moduledata, 'the fixture has a .go.module section (Go ≥ 1.26)');
  // Zero every word of moduledata that a RELATIVE relocation fills (its pointers); lengths stay.
  const rela = elf.sections.find((s) => s.name === '.rela.dyn')!;
  let cleared = 0;
  for (let at = rela.offset; at + 24 <= rela.offset + rela.size; at += 24) {
    const where = Number(zeroed.readBigUInt64LE(at));
    if (zeroed.readUInt32LE(at + 8) !== 8 /* R_X86_64_RELATIVE */) continue;
    if (where < moduledata.addr || where >= moduledata.addr + moduledata.size) continue;
    zeroed.fill(0, where - moduledata.addr + moduledata.offset, where - moduledata.addr + moduledata.offset + 8);
    cleared++;
  }
  assert.ok(cleared > 10, `${cleared} relocated words cleared`);
  const mod = ModuleSymbols.read(bufferSource(zeroed));
  assert.deepEqual(mod.go, good.go);
  for (const pc of samplePcs(good)) assert.deepEqual(mod.nameAt(pc), good.nameAt(pc));
});

test('Go 1.18–1.19 magic: the same names and lines, no inline expansion; older magics: no Go names', () => {
  const intact = readFileSync(bins.externalStripped);
  const good = ModuleSymbols.read(bufferSource(intact));
  const pcln = sectionData(parseElf(bufferSource(intact))!, '.gopclntab')!;
  const old = Buffer.from(intact);
  old.writeUInt32LE(PCLN_MAGIC_118, pcln.header.offset);
  const mod = ModuleSymbols.read(bufferSource(old));
  assert.equal(mod.go.kind === 'go' && mod.go.version, '1.18');
  let inlined = 0;
  for (const pc of samplePcs(good)) {
    const a = good.pcln!.lookup(pc);
    const b = mod.pcln!.lookup(pc);
    if (!a || !b) {
      assert.equal(b, a, `0x${pc.toString(16)}`); // past the end of text: unknown in both
      continue;
    }
    assert.equal(b.name, a.name);
    assert.equal(`${b.file}:${b.line}`, `${a.file}:${a.line}`);
    assert.equal(b.inlined, undefined);
    if (a.inlined) inlined++;
  }
  assert.ok(inlined > 0, 'the 1.20 reading of the same table does expand some inlined PCs');
  old.writeUInt32LE(0xfffffffa, pcln.header.offset); // Go 1.16–1.17
  const older = ModuleSymbols.read(bufferSource(old));
  assert.deepEqual(older.go, { kind: 'none', detail: 'pcln magic 0xfffffffa (Go < 1.18)' });
  assert.equal(older.nameAt(good.pcln!.textStart + 16), undefined);
});
