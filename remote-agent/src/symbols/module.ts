/**
 * One mapped file's symbols (a "module"): read once from its bytes, then asked many times.
 * It turns a file offset (what /proc/PID/maps gives for a user address) into the ELF virtual
 * address through the PT_LOAD program headers (so PIE and non-PIE are the same path), then
 * names it from the Go pcln table, else from the ELF function symbols, else not at all.
 * Reading never throws: a file that is not ELF, or is truncated or damaged, is a module
 * without names (the caller writes module+0xOFFSET).
 */

import {
  type ByteSource,
  type ElfFile,
  functionSymbols,
  loadSegmentForOffset,
  parseElf,
  PT_LOAD,
  type ProgramHeader,
  sectionData,
  symbolAt,
} from './elf';
import type { ElfSymbols } from './elf';
import { GoPclnTable, type InlinedFrame } from './gopclntab';
import { findTextStart, type TextStartSource } from './goText';

export interface ModuleName {
  name: string;
  file?: string;
  line?: number;
  /** Go, PC in inlined code: the enclosing calls outward (each at its call site), ending with the physical function. */
  inlinedInto?: InlinedFrame[];
}

/** Why a module has no Go names (for logs and tests). */
export type GoStatus =
  | { kind: 'go'; version: string; textStart: number; textStartSource: TextStartSource }
  | { kind: 'none'; detail: string };

export class ModuleSymbols {
  readonly go: GoStatus;
  /** The PT_LOAD headers only: the file itself is closed once read, so nothing here may read it again. */
  private readonly loads: ProgramHeader[];

  private constructor(
    elf: ElfFile | undefined,
    readonly pcln: GoPclnTable | undefined,
    private readonly symbols: ElfSymbols | undefined,
    go: GoStatus,
  ) {
    this.go = go;
    this.loads = elf?.programHeaders.filter((p) => p.type === PT_LOAD) ?? [];
  }

  /** A module with no names at all (unreadable file). */
  static empty(detail: string): ModuleSymbols {
    return new ModuleSymbols(undefined, undefined, undefined, { kind: 'none', detail });
  }

  /** Reads the headers, the pcln table and the symbol table from `source`; never throws. */
  static read(source: ByteSource): ModuleSymbols {
    try {
      return ModuleSymbols.readUnchecked(source);
    } catch (err) {
      // Every read is bounds-checked; this is the last guard that keeps "names unknown" the worst case.
      return ModuleSymbols.empty(`unreadable: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private static readUnchecked(source: ByteSource): ModuleSymbols {
    const elf = parseElf(source);
    if (!elf) return ModuleSymbols.empty('not a little-endian ELF64 file');
    const symbols = functionSymbols(elf);
    const pclnSection = sectionData(elf, '.gopclntab');
    if (!pclnSection) return new ModuleSymbols(elf, undefined, symbols, { kind: 'none', detail: 'no .gopclntab' });
    const head = GoPclnTable.parse(pclnSection.data);
    if (!head.ok) return new ModuleSymbols(elf, undefined, symbols, { kind: 'none', detail: head.detail });
    const text = findTextStart(elf, {
      addr: pclnSection.header.addr,
      size: pclnSection.header.size,
      nfunc: head.table.nfunc,
      funcnameOffset: head.table.funcnametab,
      pclnOffset: head.table.functab,
      headerTextStart: head.table.textStart,
    });
    if (!text) return new ModuleSymbols(elf, undefined, symbols, { kind: 'none', detail: 'runtime.text not found' });
    const table = GoPclnTable.parse(pclnSection.data, {
      textStart: text.value,
      gofuncOffset: text.gofunc === undefined ? undefined : text.gofunc - pclnSection.header.addr,
    });
    if (!table.ok) return new ModuleSymbols(elf, undefined, symbols, { kind: 'none', detail: table.detail });
    return new ModuleSymbols(elf, table.table, symbols, {
      kind: 'go',
      version: table.table.version,
      textStart: text.value,
      textStartSource: text.source,
    });
  }

  /** The ELF virtual address of a file offset, when a PT_LOAD segment holds it. */
  vaddrOfOffset(fileOffset: number): number | undefined {
    const seg = loadSegmentForOffset(this.loads, fileOffset);
    return seg ? fileOffset - seg.offset + seg.vaddr : undefined;
  }

  /** Names an ELF virtual address: Go function (with file:line), else ELF symbol; never throws. */
  nameAt(vaddr: number): ModuleName | undefined {
    try {
      const go = this.pcln?.lookup(vaddr);
      if (go?.inlined) {
        // Innermost inlined function first, as the runtime's own tracebacks name it.
        const [leaf, ...outer] = go.inlined;
        return { ...leaf!, inlinedInto: outer };
      }
      if (go) return go.file !== undefined ? { name: go.name, file: go.file, line: go.line } : { name: go.name };
      const sym = this.symbols ? symbolAt(this.symbols, vaddr) : undefined;
      return sym !== undefined ? { name: sym } : undefined;
    } catch {
      return undefined; // a damaged table read past a check we did not think of: unnamed, not fatal
    }
  }
}
