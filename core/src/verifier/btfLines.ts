/**
 * A BPF object's own line info, read from its ELF in pure TypeScript (no Node, no DOM): the
 * `.BTF.ext` line_info records (instruction → file name, line, source text) that clang writes
 * with `-g` and the kernel prints as `; text @ file:line`. The log parser falls back to them
 * when a kernel's annotations do not name the line (parse.ts).
 *
 * Instruction numbers in the ELF are per section; the kernel numbers the program as libbpf
 * loads it: the program's own function first, then each static subprogram it calls appended
 * in the order libbpf finds them. `btfLineInfo(elf, section, program)` replays that layout.
 */

export interface BtfLineInfo {
  /** Instruction index (8-byte units; ld_imm64 counts as 2). */
  insn: number;
  /** The file's basename, as the kernel prints it. */
  file: string;
  /** 1-based; 0 for compiler-made code without a line. */
  line: number;
  /** The source line as recorded in BTF. */
  text: string;
}

interface Section {
  name: string;
  type: number;
  offset: number;
  size: number;
  link: number;
  info: number;
}

interface ElfSymbol {
  name: string;
  type: number;
  shndx: number;
  value: number;
  size: number;
}

const SHT_SYMTAB = 2;
const SHT_REL = 9;
const STT_FUNC = 2;
const BTF_MAGIC = 0xeb9f;
const INSN_SIZE = 8;
const UTF8 = new TextDecoder();
const CALL = 0x85; // BPF_JMP | BPF_CALL
const LD_IMM64 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const PSEUDO_CALL = 1; // src_reg of a call to a BPF subprogram
const PSEUDO_FUNC = 4; // src_reg of ld_imm64 loading a subprogram's address (callbacks)

/** A little- or big-endian ELF64 object, read on demand. */
class Elf {
  readonly view: DataView;
  readonly little: boolean;
  readonly sections: Section[] = [];

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 64 || this.view.getUint32(0) !== 0x7f454c46 || bytes[4] !== 2) {
      throw new Error('not a 64-bit ELF object');
    }
    this.little = bytes[5] === 1;
    const shoff = this.u64(0x28);
    const shentsize = this.u16(0x3a);
    const count = this.u16(0x3c);
    const raw = Array.from({ length: count }, (_, i) => shoff + i * shentsize).map((at) => ({
      nameOff: this.u32(at),
      type: this.u32(at + 4),
      offset: this.u64(at + 24),
      size: this.u64(at + 32),
      link: this.u32(at + 40),
      info: this.u32(at + 44),
    }));
    const names = raw[this.u16(0x3e)];
    for (const s of raw) {
      this.sections.push({ ...s, name: names ? this.cstring(names.offset + s.nameOff) : '' });
    }
  }

  u16(at: number): number {
    return this.view.getUint16(at, this.little);
  }
  u32(at: number): number {
    return this.view.getUint32(at, this.little);
  }
  i32(at: number): number {
    return this.view.getInt32(at, this.little);
  }
  u64(at: number): number {
    return Number(this.view.getBigUint64(at, this.little));
  }

  cstring(at: number): string {
    let end = at;
    while (end < this.bytes.length && this.bytes[end] !== 0) end++;
    return UTF8.decode(this.bytes.subarray(at, end));
  }

  section(name: string): Section | undefined {
    return this.sections.find((s) => s.name === name);
  }

  symbols(): ElfSymbol[] {
    const table = this.sections.find((s) => s.type === SHT_SYMTAB);
    const strings = table ? this.sections[table.link] : undefined;
    if (!table || !strings) return [];
    return Array.from({ length: Math.floor(table.size / 24) }, (_, i) => table.offset + i * 24).map((at) => ({
      name: this.cstring(strings.offset + this.u32(at)),
      type: (this.bytes[at + 4] ?? 0) & 0xf,
      shndx: this.u16(at + 6),
      value: this.u64(at + 8),
      size: this.u64(at + 16),
    }));
  }

  /** Relocations of section `index`: byte offset in it → symbol index. */
  relocations(index: number): Map<number, number> {
    const out = new Map<number, number>();
    for (const rel of this.sections.filter((s) => s.type === SHT_REL && s.info === index)) {
      for (let at = rel.offset; at + 16 <= rel.offset + rel.size; at += 16) {
        out.set(this.u64(at), Number(this.view.getBigUint64(at + 8, this.little) >> 32n));
      }
    }
    return out;
  }
}

/** Reads the string table of `.BTF` and the line_info blocks of `.BTF.ext`, per section name. */
function readLineInfo(elf: Elf): Map<string, BtfLineInfo[]> {
  const btf = elf.section('.BTF');
  const ext = elf.section('.BTF.ext');
  const out = new Map<string, BtfLineInfo[]>();
  if (!btf || !ext) return out;
  const magicOk = (at: number): boolean => elf.u16(at) === BTF_MAGIC;
  if (!magicOk(btf.offset) || !magicOk(ext.offset)) throw new Error('.BTF or .BTF.ext has a bad magic number');
  const strings = btf.offset + elf.u32(btf.offset + 4) + elf.u32(btf.offset + 16);
  const str = (off: number): string => elf.cstring(strings + off);

  const start = ext.offset + elf.u32(ext.offset + 4) + elf.u32(ext.offset + 16);
  const end = start + elf.u32(ext.offset + 20);
  if (end <= start) return out;
  const recordSize = elf.u32(start);
  for (let at = start + 4; at + 8 <= end;) {
    const section = str(elf.u32(at));
    const count = elf.u32(at + 4);
    at += 8;
    const records = out.get(section) ?? [];
    for (let i = 0; i < count; i++, at += recordSize) {
      const path = str(elf.u32(at + 4));
      records.push({
        insn: elf.u32(at) / INSN_SIZE,
        file: path.slice(path.lastIndexOf('/') + 1),
        line: elf.u32(at + 12) >>> 10,
        text: str(elf.u32(at + 8)),
      });
    }
    out.set(section, records);
  }
  return out;
}

/** One function placed in the loaded program: its section, its range there, where it lands. */
interface Piece {
  section: number;
  start: number;
  count: number;
  loadAt: number;
}

/** Where instruction `i` of a section points into a subprogram (a call, or a callback address), if it does. */
function subprogramTarget(
  elf: Elf,
  symbols: ElfSymbol[],
  relocations: Map<number, number>,
  section: number,
  i: number,
): { section: number; insn: number } | null {
  const at = (elf.sections[section]?.offset ?? 0) + i * INSN_SIZE;
  const code = elf.bytes[at] ?? 0;
  const regs = elf.bytes[at + 1] ?? 0;
  const src = elf.little ? regs >> 4 : regs & 0xf;
  const isCall = code === CALL && src === PSEUDO_CALL;
  if (!isCall && !(code === LD_IMM64 && src === PSEUDO_FUNC)) return null;
  const imm = elf.i32(at + 4);
  const symIndex = relocations.get(i * INSN_SIZE);
  // A call within its own section has no relocation: imm is relative to the next instruction.
  if (symIndex === undefined) return { section, insn: i + imm + 1 };
  const sym = symbols[symIndex];
  if (!sym || sym.shndx === 0) return null; // an extern (a kfunc), not a subprogram
  // As libbpf computes it: calls count from the symbol plus imm + 1, addresses add imm in bytes.
  return { section: sym.shndx, insn: isCall ? sym.value / INSN_SIZE + imm + 1 : (sym.value + imm) / INSN_SIZE };
}

/**
 * libbpf's layout of one program: its function, then every static subprogram it reaches, each
 * appended once, the first time a call or callback address names it, and walked right away.
 */
function layout(elf: Elf, sectionIndex: number, program: string): Piece[] {
  const symbols = elf.symbols();
  const functions = symbols.filter((s) => s.type === STT_FUNC);
  const main = functions.find((s) => s.shndx === sectionIndex && s.name === program);
  if (!main) throw new Error(`no program ${program} in section ${elf.sections[sectionIndex]?.name ?? sectionIndex}`);
  const pieces: Piece[] = [];
  const placed = new Set<ElfSymbol>();
  let loaded = 0;
  const append = (fn: ElfSymbol): void => {
    const piece = { section: fn.shndx, start: fn.value / INSN_SIZE, count: fn.size / INSN_SIZE, loadAt: loaded };
    pieces.push(piece);
    placed.add(fn);
    loaded += piece.count;
    const relocations = elf.relocations(fn.shndx);
    for (let i = piece.start; i < piece.start + piece.count; i++) {
      const target = subprogramTarget(elf, symbols, relocations, fn.shndx, i);
      const callee = target
        ? functions.find(
            (s) =>
              s.shndx === target.section &&
              target.insn >= s.value / INSN_SIZE &&
              target.insn < (s.value + s.size) / INSN_SIZE,
          )
        : undefined;
      if (callee && !placed.has(callee)) append(callee);
    }
  };
  append(main);
  return pieces;
}

/**
 * The line info of an ELF section, with instruction numbers relative to the section; or, when
 * `program` is given, of that program as the kernel numbers it (its function rebased to 0 and
 * its static subprograms appended). Records are in instruction order.
 */
export function btfLineInfo(elf: Uint8Array, section: string, program?: string): BtfLineInfo[] {
  const file = new Elf(elf);
  const bySection = readLineInfo(file);
  if (program === undefined) return bySection.get(section) ?? [];
  const sectionIndex = file.sections.findIndex((s) => s.name === section);
  if (sectionIndex < 0) throw new Error(`no section ${section}`);
  const out: BtfLineInfo[] = [];
  for (const piece of layout(file, sectionIndex, program)) {
    for (const record of bySection.get(file.sections[piece.section]?.name ?? '') ?? []) {
      if (record.insn >= piece.start && record.insn < piece.start + piece.count) {
        out.push({ ...record, insn: record.insn - piece.start + piece.loadAt });
      }
    }
  }
  return out;
}
