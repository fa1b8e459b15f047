/**
 * A BPF object's own line info, read from its ELF in pure TypeScript (no Node, no DOM): the
 * `.BTF.ext` line_info records (instruction → file name, line, source text) that clang writes
 * with `-g` and the kernel prints as `; text @ file:line`. The log parser falls back to them
 * when a kernel's annotations do not name the line (parse.ts).
 *
 * Instruction numbers in the ELF are per section; the kernel numbers the program as libbpf
 * loads it: the program's own function first, then each static subprogram it calls appended
 * in the order libbpf finds them. `btfLineInfo(elf, section, program)` replays that layout.
 *
 * The object is untrusted bytes (any file the user verifies, possibly damaged): every read is
 * bounds-checked against the file and against the section it belongs to, every loop is bounded
 * by the bytes it walks, and a damaged ELF, .BTF or .BTF.ext (or a program or section that is not
 * there) means "no line info" (an empty list), never an exception: line info is only the last
 * fallback for locations, and must never hide the kernel's verdict.
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
/** bpf_line_info: insn_off, file_name_off, line_off, line_col. */
const LINE_INFO_SIZE = 16;
const SHT_REL = 9;
const STT_FUNC = 2;
const SHN_LORESERVE = 0xff00;
const BTF_MAGIC = 0xeb9f;
const INSN_SIZE = 8;
const UTF8 = new TextDecoder();
const CALL = 0x85; // BPF_JMP | BPF_CALL
const LD_IMM64 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const PSEUDO_CALL = 1; // src_reg of a call to a BPF subprogram
const PSEUDO_FUNC = 4; // src_reg of ld_imm64 loading a subprogram's address (callbacks)

/** The object is damaged: a read or a structure falls outside the bytes it must lie in. */
class Damaged extends Error {}

/** [start, end) byte range of the file; every structure is read inside one. */
interface Range {
  start: number;
  end: number;
}

/** A little- or big-endian ELF64 object, read on demand, every read checked. */
class Elf {
  readonly view: DataView;
  readonly little: boolean;
  readonly sections: Section[] = [];
  private readonly whole: Range;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.whole = { start: 0, end: bytes.length };
    if (bytes.length < 64 || this.view.getUint32(0) !== 0x7f454c46 || bytes[4] !== 2) {
      throw new Damaged('not a 64-bit ELF object');
    }
    this.little = bytes[5] === 1;
    const shoff = this.u64(0x28);
    const shentsize = this.u16(0x3a);
    const count = this.u16(0x3c);
    if (count > 0 && shentsize < 64) throw new Damaged('section headers too small');
    this.range(shoff, count * shentsize);
    const raw = Array.from({ length: count }, (_, i) => shoff + i * shentsize).map((at) => ({
      nameOff: this.u32(at),
      type: this.u32(at + 4),
      offset: this.u64(at + 24),
      size: this.u64(at + 32),
      link: this.u32(at + 40),
      info: this.u32(at + 44),
    }));
    const names = raw[this.u16(0x3e)];
    const namesRange = names && this.isRange(names.offset, names.size) ? this.range(names.offset, names.size) : null;
    for (const s of raw) {
      this.sections.push({ ...s, name: namesRange ? this.cstring(namesRange, s.nameOff) : '' });
    }
  }

  /** Whether [at, at + len) lies inside the file. */
  isRange(at: number, len: number, within: Range = this.whole): boolean {
    return (
      Number.isSafeInteger(at) && Number.isSafeInteger(len) && len >= 0 && at >= within.start && at + len <= within.end
    );
  }

  /** The range [at, at + len), which must lie inside `within` (the file by default). */
  range(at: number, len: number, within: Range = this.whole): Range {
    if (!this.isRange(at, len, within))
      throw new Damaged(`bytes ${at}+${len} lie outside ${within.start}..${within.end}`);
    return { start: at, end: at + len };
  }

  /** A section's bytes, which must lie inside the file. */
  body(s: Section): Range {
    return this.range(s.offset, s.size);
  }

  u8(at: number, within?: Range): number {
    this.range(at, 1, within);
    return this.view.getUint8(at);
  }
  u16(at: number, within?: Range): number {
    this.range(at, 2, within);
    return this.view.getUint16(at, this.little);
  }
  u32(at: number, within?: Range): number {
    this.range(at, 4, within);
    return this.view.getUint32(at, this.little);
  }
  i32(at: number, within?: Range): number {
    this.range(at, 4, within);
    return this.view.getInt32(at, this.little);
  }
  /** A u64 as a Number; values above 2^53 are damage (no object of ours is that large). */
  u64(at: number, within?: Range): number {
    this.range(at, 8, within);
    const v = this.view.getBigUint64(at, this.little);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Damaged(`u64 at ${at} is too large`);
    return Number(v);
  }

  /** The NUL-terminated string at `off` in the string table `table` (unterminated: damage). */
  cstring(table: Range, off: number): string {
    const at = table.start + off;
    this.range(at, 0, table);
    const end = this.bytes.subarray(at, table.end).indexOf(0);
    if (end < 0) throw new Damaged(`unterminated string at ${at}`);
    return UTF8.decode(this.bytes.subarray(at, at + end));
  }

  section(name: string): Section | undefined {
    return this.sections.find((s) => s.name === name);
  }

  symbols(): ElfSymbol[] {
    const table = this.sections.find((s) => s.type === SHT_SYMTAB);
    const strings = table ? this.sections[table.link] : undefined;
    if (!table || !strings) return [];
    const body = this.body(table);
    const names = this.body(strings);
    return Array.from({ length: Math.floor(table.size / 24) }, (_, i) => body.start + i * 24).map((at) => ({
      name: this.cstring(names, this.u32(at, body)),
      type: this.u8(at + 4, body) & 0xf,
      shndx: this.u16(at + 6, body),
      value: this.u64(at + 8, body),
      size: this.u64(at + 16, body),
    }));
  }

  /** Relocations of section `index`: byte offset in it → symbol index. */
  relocations(index: number): Map<number, number> {
    const out = new Map<number, number>();
    for (const rel of this.sections.filter((s) => s.type === SHT_REL && s.info === index)) {
      const body = this.body(rel);
      for (let at = body.start; at + 16 <= body.end; at += 16) {
        out.set(this.u64(at, body), Number(this.view.getBigUint64(at + 8, this.little) >> 32n));
      }
    }
    return out;
  }
}

/** Reads the string table of `.BTF` and the line_info blocks of `.BTF.ext`, per section name. */
function readLineInfo(elf: Elf): Map<string, BtfLineInfo[]> {
  const btfSection = elf.section('.BTF');
  const extSection = elf.section('.BTF.ext');
  const out = new Map<string, BtfLineInfo[]>();
  if (!btfSection || !extSection) return out;
  const btf = elf.body(btfSection);
  const ext = elf.body(extSection);
  if (elf.u16(btf.start, btf) !== BTF_MAGIC || elf.u16(ext.start, ext) !== BTF_MAGIC) {
    throw new Damaged('.BTF or .BTF.ext has a bad magic number');
  }
  // btf_header: magic, version, flags, hdr_len, type_off, type_len, str_off, str_len.
  const btfData = btf.start + elf.u32(btf.start + 4, btf);
  const strings = elf.range(btfData + elf.u32(btf.start + 16, btf), elf.u32(btf.start + 20, btf), btf);
  const str = (off: number): string => elf.cstring(strings, off);

  // btf_ext_header: magic, version, flags, hdr_len, func_info_off, func_info_len, line_info_off, line_info_len.
  const extData = ext.start + elf.u32(ext.start + 4, ext);
  const lines = elf.range(extData + elf.u32(ext.start + 16, ext), elf.u32(ext.start + 20, ext), ext);
  if (lines.end <= lines.start) return out;
  const recordSize = elf.u32(lines.start, lines);
  if (recordSize < LINE_INFO_SIZE) throw new Damaged(`line_info records of ${recordSize} bytes`);
  for (let at = lines.start + 4; at + 8 <= lines.end;) {
    const section = str(elf.u32(at, lines));
    const count = elf.u32(at + 4, lines);
    at += 8;
    const block = elf.range(at, count * recordSize, lines); // also bounds the loop below
    const records = out.get(section) ?? [];
    for (; at < block.end; at += recordSize) {
      const path = str(elf.u32(at + 4, block));
      records.push({
        insn: elf.u32(at, block) / INSN_SIZE,
        file: path.slice(path.lastIndexOf('/') + 1),
        line: elf.u32(at + 12, block) >>> 10,
        text: str(elf.u32(at + 8, block)),
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
  body: Range,
  i: number,
): { section: number; insn: number } | null {
  const at = body.start + i * INSN_SIZE;
  const code = elf.u8(at, body);
  const regs = elf.u8(at + 1, body);
  const src = elf.little ? regs >> 4 : regs & 0xf;
  const isCall = code === CALL && src === PSEUDO_CALL;
  if (!isCall && !(code === LD_IMM64 && src === PSEUDO_FUNC)) return null;
  const imm = elf.i32(at + 4, body);
  const symIndex = relocations.get(i * INSN_SIZE);
  // A call within its own section has no relocation: imm is relative to the next instruction.
  if (symIndex === undefined) return { section, insn: i + imm + 1 };
  const sym = symbols[symIndex];
  if (!sym || sym.shndx === 0) return null; // an extern (a kfunc), not a subprogram
  // As libbpf computes it: calls count from the symbol plus imm + 1, addresses add imm in bytes.
  return { section: sym.shndx, insn: isCall ? sym.value / INSN_SIZE + imm + 1 : (sym.value + imm) / INSN_SIZE };
}

/** The functions of each section, sorted by start, each checked to lie inside its section. */
function functionsBySection(elf: Elf, symbols: ElfSymbol[]): Map<number, ElfSymbol[]> {
  const out = new Map<number, ElfSymbol[]>();
  for (const fn of symbols) {
    // Only functions defined in a real section (not undefined, absolute or common).
    if (fn.type !== STT_FUNC || fn.shndx === 0 || fn.shndx >= SHN_LORESERVE) continue;
    const sec = elf.sections[fn.shndx];
    if (!sec || fn.value % INSN_SIZE !== 0 || fn.size % INSN_SIZE !== 0 || fn.value + fn.size > sec.size) {
      throw new Damaged(`function ${fn.name} lies outside its section`);
    }
    out.set(fn.shndx, [...(out.get(fn.shndx) ?? []), fn]);
  }
  for (const fns of out.values()) fns.sort((a, b) => a.value - b.value);
  return out;
}

/** The function of `fns` (sorted by start) whose instructions include `insn`. */
function functionAt(fns: ElfSymbol[] | undefined, insn: number): ElfSymbol | undefined {
  let lo = 0;
  let hi = (fns?.length ?? 0) - 1;
  let found: ElfSymbol | undefined;
  while (fns && lo <= hi) {
    const mid = (lo + hi) >> 1;
    const fn = fns[mid];
    if (!fn) break;
    if (fn.value / INSN_SIZE <= insn) {
      found = fn;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found && insn < (found.value + found.size) / INSN_SIZE ? found : undefined;
}

/**
 * libbpf's layout of one program: its function, then every static subprogram it reaches, each
 * appended once, the first time a call or callback address names it, and walked right away
 * (a depth-first walk, kept on an explicit stack: a damaged object may chain many functions).
 * Null when the section has no function of that name.
 */
function layout(elf: Elf, sectionIndex: number, program: string): Piece[] | null {
  const symbols = elf.symbols();
  const functions = functionsBySection(elf, symbols);
  const main = functions.get(sectionIndex)?.find((s) => s.name === program);
  if (!main) return null;
  const pieces: Piece[] = [];
  const placed = new Set<ElfSymbol>();
  let loaded = 0;
  interface Walk {
    fn: ElfSymbol;
    piece: Piece;
    body: Range;
    relocations: Map<number, number>;
    next: number;
  }
  const stack: Walk[] = [];
  const place = (fn: ElfSymbol): void => {
    const sec = elf.sections[fn.shndx];
    if (!sec) throw new Damaged(`function ${fn.name} in no section`);
    const piece = { section: fn.shndx, start: fn.value / INSN_SIZE, count: fn.size / INSN_SIZE, loadAt: loaded };
    pieces.push(piece);
    placed.add(fn);
    loaded += piece.count;
    stack.push({ fn, piece, body: elf.body(sec), relocations: elf.relocations(fn.shndx), next: piece.start });
  };
  place(main);
  for (let top = stack.at(-1); top; top = stack.at(-1)) {
    if (top.next >= top.piece.start + top.piece.count) {
      stack.pop();
      continue;
    }
    const target = subprogramTarget(elf, symbols, top.relocations, top.fn.shndx, top.body, top.next++);
    const callee = target ? functionAt(functions.get(target.section), target.insn) : undefined;
    if (callee && !placed.has(callee)) place(callee);
  }
  return pieces;
}

/**
 * The line info of an ELF section, with instruction numbers relative to the section; or, when
 * `program` is given, of that program as the kernel numbers it (its function rebased to 0 and
 * its static subprograms appended). Records are in instruction order. Empty when the object
 * has none, or is damaged, or has no such section or program (see the header).
 */
export function btfLineInfo(elf: Uint8Array, section: string, program?: string): BtfLineInfo[] {
  try {
    const file = new Elf(elf);
    const bySection = readLineInfo(file);
    if (program === undefined) return bySection.get(section) ?? [];
    const sectionIndex = file.sections.findIndex((s) => s.name === section);
    const pieces = sectionIndex < 0 ? null : layout(file, sectionIndex, program);
    const out: BtfLineInfo[] = [];
    for (const piece of pieces ?? []) {
      for (const record of bySection.get(file.sections[piece.section]?.name ?? '') ?? []) {
        if (record.insn >= piece.start && record.insn < piece.start + piece.count) {
          out.push({ ...record, insn: record.insn - piece.start + piece.loadAt });
        }
      }
    }
    return out;
  } catch (err) {
    if (err instanceof Damaged) return [];
    throw err;
  }
}
