/**
 * Go's pcln table (.gopclntab), the one symbol table a stripped Go binary keeps: function
 * entries and names, and per-PC file and line. Formats of Go 1.18–1.19 (magic 0xfffffff0) and
 * 1.20+ (0xfffffff1); older magics are answered "unsupported", never misread.
 *
 * Layout (src/runtime/symtab.go, pcHeader): magic u32, pad u8 u8, minLC u8, ptrSize u8, then
 * ptrSize words nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset,
 * pclnOffset (offsets from the header). At pclnOffset, nfunc+1 (entryOff u32, funcOff u32)
 * pairs sorted by entry (the last entry's entryOff is the end of text); at pclnOffset+funcOff a
 * _func: entryOff, nameOff (into funcnametab), args, deferreturn, pcsp, pcfile, pcln (into
 * pctab), npcdata, cuOffset, [startLine, 1.20+], funcID, flag, pad, nfuncdata.
 *
 * The text base is runtime.text, NOT the .text section's address: with external linking (cgo,
 * JuiceFS's release) .text begins with C start-up code, and a reader that adds entry offsets
 * to .text names every frame after the wrong function. The header's textStart holds it when
 * the linker wrote it; Go 1.26 and 1.27 write 0 there (our fixture, JuiceFS 1.4.2), and a PIE
 * may leave it to a relocation, so the caller finds it (goText.ts) and passes it to `parse`.
 *
 * Every access is bounds-checked; pc-value tables are decoded only for the PCs asked for, with
 * a bounded number of steps. Inlined calls (Go 1.20+ only, when moduledata.gofunc was found):
 * `lookup` still answers the physical function as `name` (entries and addr2line agree on it)
 * and adds `inlined`, the logical frames at the PC, innermost first, each with its file:line.
 * Without the inline tree, a PC in inlined code gets the physical function's name with the
 * inlined body's file:line (what pcfile/pcln say).
 */

import { cString } from './elf';
import { PcValueTables } from './pcvalue';

export const PCLN_MAGIC_118 = 0xfffffff0;
export const PCLN_MAGIC_120 = 0xfffffff1;
/** Go 1.2–1.15 and 1.16–1.17: recognised so that we can say what we do not read. */
const OLD_MAGICS = new Set([0xfffffffb, 0xfffffffa]);

export interface GoFunc {
  name: string;
  /** Virtual address of the function's entry. */
  entry: number;
  /** Source position of the PC asked for, when the tables have it. */
  file?: string;
  line?: number;
  /**
   * Go 1.20+ with the inline tree found: when the PC is in code inlined into this function,
   * the logical frames, innermost first: the inlined function at the PC's own file:line, then
   * each enclosing call at its call site, ending with this function (`name`). Absent when the
   * PC is not in inlined code.
   */
  inlined?: InlinedFrame[];
}

export interface InlinedFrame {
  name: string;
  file?: string;
  line?: number;
}

export type PclnParse =
  | { ok: true; table: GoPclnTable }
  | { ok: false; reason: 'not-pcln' | 'unsupported-version' | 'damaged'; detail: string };

const MAX_NFUNC = 50_000_000;
const MAX_INLINE_DEPTH = 64;
/** internal/abi/symtab.go */
const PCDATA_INL_TREE_INDEX = 2;
const FUNCDATA_INL_TREE = 3;

export class GoPclnTable {
  private readonly names = new Map<number, string>();
  private readonly files = new Map<number, string>();
  private readonly pcv: PcValueTables;
  /** Entry offsets of the nfunc+1 functab rows, copied once: the binary search's array. */
  private readonly entries: Uint32Array;

  private constructor(
    private readonly buf: Buffer,
    readonly version: '1.18' | '1.20',
    readonly textStart: number,
    readonly nfunc: number,
    minLC: number,
    /** Offset of funcnametab from the header. */
    readonly funcnametab: number,
    private readonly cutab: number,
    private readonly filetab: number,
    pctab: number,
    /** Offset of the function table from the header (pclnOffset). */
    readonly functab: number,
    /** Offset in this section of go:func.* (moduledata.gofunc), which holds the inline trees. */
    private readonly gofuncOffset: number | undefined,
  ) {
    this.pcv = new PcValueTables(buf, pctab, minLC);
    this.entries = new Uint32Array(nfunc + 1);
    for (let i = 0; i <= nfunc; i++) this.entries[i] = buf.readUInt32LE(functab + i * 8);
  }

  /**
   * Reads the header of a pcln table. `textStart` overrides the header's value (a PIE's
   * relocated value); never pass the .text section address here.
   */
  static parse(buf: Buffer, opts: { textStart?: number; gofuncOffset?: number } = {}): PclnParse {
    if (buf.length < 8) return { ok: false, reason: 'not-pcln', detail: 'shorter than a pcln header' };
    const magic = buf.readUInt32LE(0);
    if (OLD_MAGICS.has(magic))
      return { ok: false, reason: 'unsupported-version', detail: `pcln magic 0x${magic.toString(16)} (Go < 1.18)` };
    if (magic !== PCLN_MAGIC_118 && magic !== PCLN_MAGIC_120)
      return { ok: false, reason: 'not-pcln', detail: `magic 0x${magic.toString(16)}` };
    const minLC = buf[6]!;
    const ptrSize = buf[7]!;
    if (buf[4] !== 0 || buf[5] !== 0 || (minLC !== 1 && minLC !== 2 && minLC !== 4) || (ptrSize !== 4 && ptrSize !== 8))
      return { ok: false, reason: 'damaged', detail: 'bad pcln header pad/minLC/ptrSize' };
    const word = (i: number): number | undefined => readWord(buf, 8 + i * ptrSize, ptrSize);
    const fields = [0, 1, 2, 3, 4, 5, 6, 7].map(word);
    if (fields.some((f) => f === undefined)) return { ok: false, reason: 'damaged', detail: 'pcln header truncated' };
    const [nfunc, , headerText, funcname, cu, filetab, pctab, functab] = fields as number[];
    if (nfunc! <= 0 || nfunc! > MAX_NFUNC) return { ok: false, reason: 'damaged', detail: `nfunc ${nfunc}` };
    for (const off of [funcname!, cu!, filetab!, pctab!, functab!]) {
      if (off >= buf.length) return { ok: false, reason: 'damaged', detail: 'pcln table offset outside the section' };
    }
    if (functab! + (nfunc! + 1) * 8 > buf.length)
      return { ok: false, reason: 'damaged', detail: 'function table outside the section' };
    const textStart = opts.textStart ?? headerText!;
    return {
      ok: true,
      table: new GoPclnTable(
        buf,
        magic === PCLN_MAGIC_118 ? '1.18' : '1.20',
        textStart,
        nfunc!,
        minLC,
        funcname!,
        cu!,
        filetab!,
        pctab!,
        functab!,
        opts.gofuncOffset !== undefined && opts.gofuncOffset >= 0 && opts.gofuncOffset < buf.length
          ? opts.gofuncOffset
          : undefined,
      ),
    };
  }

  /** End of the text the table covers (the sentinel entry). */
  get textEnd(): number {
    return this.textStart + this.entries[this.nfunc]!;
  }

  /** Entry address of function i (0 ≤ i < nfunc). */
  entryAt(i: number): number {
    return this.textStart + this.entries[i]!;
  }

  /** Every function, in table order: for tests and tools, not for the hot path. */
  *functions(): Generator<{ entry: number; name: string }> {
    for (let i = 0; i < this.nfunc; i++) {
      const f = this.funcAt(i);
      if (f) yield { entry: this.entryAt(i), name: this.nameOf(f) };
    }
  }

  /**
   * The function holding `pc` and, when `withLine`, the file:line of `pc`. undefined when pc
   * is outside the table or the table is damaged around it.
   */
  lookup(pc: number, withLine = true): GoFunc | undefined {
    if (!(pc >= this.textStart)) return undefined;
    const off = pc - this.textStart;
    if (off >= 0x1_0000_0000) return undefined;
    // Binary search over the nfunc entries (a damaged, unsorted table still ends: log2 steps).
    let lo = 0;
    let hi = this.nfunc - 1;
    let idx = -1;
    const entries = this.entries;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (entries[mid]! <= off) {
        idx = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (idx < 0) return undefined;
    const entryOff = entries[idx]!;
    const endOff = entries[idx + 1]!;
    if (off >= endOff) return undefined; // past the end of text, or an unsorted (damaged) table
    const f = this.funcAt(idx);
    if (!f || f.entryOff !== entryOff) return undefined;
    const result: GoFunc = { name: this.nameOf(f), entry: this.textStart + entryOff };
    if (result.name === '') return undefined;
    if (withLine) {
      const target = off - entryOff;
      Object.assign(result, this.position(f, target));
      const inlined = this.version === '1.20' ? this.inlinedAt(f, target) : undefined;
      if (inlined) result.inlined = [...inlined, { name: result.name, ...this.position(f, inlined.callSite) }];
    }
    return result;
  }

  /** file:line at an offset from the function's entry. */
  private position(f: FuncRecord, target: number): { file?: string; line?: number } {
    const fileNo = this.pcv.value(f.pcfile, target);
    const line = this.pcv.value(f.pcln, target);
    const file = fileNo === undefined ? undefined : this.fileName(f.cuOffset, fileNo);
    return file !== undefined && line !== undefined && line > 0 ? { file, line } : {};
  }

  /**
   * The inlined calls that enclose `target` (innermost first), walking the function's inline
   * tree (FUNCDATA_InlTree, Go 1.20+ inlinedCall records of 16 bytes: funcID, pad, nameOff,
   * parentPc, startLine) through its PCDATA_InlTreeIndex table, as the runtime's inline
   * unwinder does; `callSite` is the physical function's offset of the outermost call.
   */
  private inlinedAt(f: FuncRecord, target: number): (InlinedFrame[] & { callSite: number }) | undefined {
    if (this.gofuncOffset === undefined || f.npcdata <= PCDATA_INL_TREE_INDEX || f.nfuncdata <= FUNCDATA_INL_TREE)
      return undefined;
    const pcdataAt = f.at + 44;
    const funcdataAt = pcdataAt + f.npcdata * 4;
    if (funcdataAt + (FUNCDATA_INL_TREE + 1) * 4 > this.buf.length) return undefined;
    const indexTable = this.buf.readUInt32LE(pcdataAt + PCDATA_INL_TREE_INDEX * 4);
    const treeOff = this.buf.readUInt32LE(funcdataAt + FUNCDATA_INL_TREE * 4);
    if (treeOff === 0xffffffff) return undefined;
    const tree = this.gofuncOffset + treeOff;
    const frames: InlinedFrame[] = [];
    let pcOff = target;
    let ix = this.pcv.value(indexTable, pcOff) ?? -1;
    for (let depth = 0; ix >= 0 && depth < MAX_INLINE_DEPTH; depth++) {
      const rec = tree + ix * 16;
      if (rec + 16 > this.buf.length) return undefined;
      const name = this.nameOf({ nameOff: this.buf.readInt32LE(rec + 4) });
      if (name === '') return undefined;
      frames.push({ name, ...this.position(f, pcOff) });
      pcOff = this.buf.readInt32LE(rec + 8);
      if (pcOff < 0) return undefined;
      ix = this.pcv.value(indexTable, pcOff) ?? -1;
    }
    if (frames.length === 0 || ix >= 0) return undefined;
    return Object.assign(frames, { callSite: pcOff });
  }

  /** The _func record of function i, checked against the section. */
  private funcAt(i: number): FuncRecord | undefined {
    const funcOff = this.buf.readUInt32LE(this.functab + i * 8 + 4);
    const at = this.functab + funcOff;
    if (at + 44 > this.buf.length) return undefined;
    return {
      at,
      npcdata: this.buf.readUInt32LE(at + 28),
      nfuncdata: this.buf[at + (this.version === '1.20' ? 43 : 39)]!,
      entryOff: this.buf.readUInt32LE(at),
      nameOff: this.buf.readInt32LE(at + 4),
      pcfile: this.buf.readUInt32LE(at + 20),
      pcln: this.buf.readUInt32LE(at + 24),
      cuOffset: this.buf.readUInt32LE(at + 32),
    };
  }

  private nameOf(f: { nameOff: number }): string {
    let name = this.names.get(f.nameOff);
    if (name === undefined) {
      name = f.nameOff < 0 ? '' : cString(this.buf, this.funcnametab + f.nameOff);
      this.names.set(f.nameOff, name);
    }
    return name;
  }

  private fileName(cuOffset: number, fileNo: number): string | undefined {
    if (fileNo < 0) return undefined;
    const at = this.cutab + (cuOffset + fileNo) * 4;
    if (at + 4 > this.buf.length || at < this.cutab) return undefined;
    const fileOff = this.buf.readUInt32LE(at);
    if (fileOff === 0xffffffff) return undefined;
    let name = this.files.get(fileOff);
    if (name === undefined) {
      name = cString(this.buf, this.filetab + fileOff);
      this.files.set(fileOff, name);
    }
    return name === '' ? undefined : name;
  }
}

interface FuncRecord {
  /** Offset of the record in the section. */
  at: number;
  npcdata: number;
  nfuncdata: number;
  entryOff: number;
  nameOff: number;
  pcfile: number;
  pcln: number;
  cuOffset: number;
}

function readWord(buf: Buffer, at: number, ptrSize: number): number | undefined {
  if (at < 0 || at + ptrSize > buf.length) return undefined;
  if (ptrSize === 4) return buf.readUInt32LE(at);
  const hi = buf.readUInt32LE(at + 4);
  if (hi > 0x1fffff) return undefined;
  return hi * 0x1_0000_0000 + buf.readUInt32LE(at);
}
