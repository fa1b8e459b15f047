/**
 * A bounds-checked reader of little-endian ELF64 files (the binaries whose frames we name):
 * the header, program headers (PT_LOAD: how a file offset maps to a virtual address), sections
 * by name, and the function symbols of .symtab (or .dynsym) when a binary still has them.
 * Its input is untrusted bytes: every read is checked against the source's size, every loop is
 * bounded by a count that was itself checked, and anything malformed yields `undefined`
 * (parse) or an empty table, never an exception. Addresses are JavaScript numbers: a value
 * above Number.MAX_SAFE_INTEGER is treated as malformed (user space on x86-64/arm64 is < 2^48).
 */

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Random-access bytes: a file read with pread, or a buffer (tests, damaged variants). */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset`, or undefined when out of range or unreadable. */
  read(offset: number, length: number): Buffer | undefined;
}

/** Largest single read we agree to make (a section, a table): bigger means damaged. */
export const MAX_READ = 512 * 1024 * 1024;

export function bufferSource(buf: Buffer): ByteSource {
  return {
    size: buf.length,
    read(offset, length) {
      if (!validRange(offset, length, buf.length)) return undefined;
      return buf.subarray(offset, offset + length);
    },
  };
}

/** An open file read with pread; `close()` it when the module has been read. */
export function fileSource(path: string): (ByteSource & { close(): void }) | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch {
    closeSync(fd);
    return undefined;
  }
  return {
    size,
    read(offset, length) {
      if (!validRange(offset, length, size) || length > MAX_READ) return undefined;
      const out = Buffer.allocUnsafe(length);
      let done = 0;
      try {
        // A file can shrink under us: a short read ends the loop, and the result is refused.
        while (done < length) {
          const n = readSync(fd, out, done, length - done, offset + done);
          if (n <= 0) return undefined;
          done += n;
        }
      } catch {
        return undefined;
      }
      return out;
    },
    close() {
      closeSync(fd);
    },
  };
}

function validRange(offset: number, length: number, size: number): boolean {
  return (
    Number.isSafeInteger(offset) &&
    Number.isSafeInteger(length) &&
    offset >= 0 &&
    length >= 0 &&
    offset + length <= size
  );
}

export const PT_LOAD = 1;
export const SHT_SYMTAB = 2;
export const SHT_DYNSYM = 11;
export const SHT_NOBITS = 8;
const STT_FUNC = 2;

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface SectionHeader {
  name: string;
  type: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export interface ElfFile {
  /** ET_EXEC (2) or ET_DYN (3: PIE or shared object). */
  type: number;
  machine: number;
  programHeaders: ProgramHeader[];
  sections: SectionHeader[];
  source: ByteSource;
}

/** Bounds on counts taken from the file, so a damaged header cannot make us loop for long. */
const MAX_PHDRS = 4096;
const MAX_SECTIONS = 65536;
const MAX_NAME = 4096;

/** Parses the headers; undefined when this is not a little-endian ELF64 we can read. */
export function parseElf(source: ByteSource): ElfFile | undefined {
  const eh = source.read(0, 64);
  if (!eh) return undefined;
  if (eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2 /* ELFCLASS64 */ || eh[5] !== 1 /* LSB */) return undefined;
  const type = eh.readUInt16LE(16);
  const machine = eh.readUInt16LE(18);
  const phoff = u64(eh, 32);
  const shoff = u64(eh, 40);
  const phentsize = eh.readUInt16LE(54);
  const phnum = eh.readUInt16LE(56);
  const shentsize = eh.readUInt16LE(58);
  let shnum = eh.readUInt16LE(60);
  let shstrndx = eh.readUInt16LE(62);

  const programHeaders: ProgramHeader[] = [];
  if (phoff !== undefined && phentsize >= 56 && phnum <= MAX_PHDRS) {
    const table = source.read(phoff, phentsize * phnum);
    for (let i = 0; table && i < phnum; i++) {
      const at = i * phentsize;
      const [offset, vaddr, filesz, memsz] = [
        u64(table, at + 8),
        u64(table, at + 16),
        u64(table, at + 32),
        u64(table, at + 40),
      ];
      if (offset === undefined || vaddr === undefined || filesz === undefined || memsz === undefined) continue;
      programHeaders.push({
        type: table.readUInt32LE(at),
        flags: table.readUInt32LE(at + 4),
        offset,
        vaddr,
        filesz,
        memsz,
      });
    }
  }

  const sections: SectionHeader[] = [];
  if (shoff !== undefined && shoff !== 0 && shentsize >= 64) {
    // Extended numbering: e_shnum 0 / e_shstrndx SHN_XINDEX put the real values in section 0.
    const first = source.read(shoff, 64);
    if (first && shnum === 0) shnum = Math.min(u64(first, 32) ?? 0, MAX_SECTIONS);
    if (first && shstrndx === 0xffff) shstrndx = first.readUInt32LE(40);
    const table = shnum <= MAX_SECTIONS ? source.read(shoff, shentsize * shnum) : undefined;
    if (table) {
      const raw: Array<Omit<SectionHeader, 'name'> & { nameOff: number }> = [];
      for (let i = 0; i < shnum; i++) {
        const at = i * shentsize;
        raw.push({
          nameOff: table.readUInt32LE(at),
          type: table.readUInt32LE(at + 4),
          addr: u64(table, at + 16) ?? -1,
          offset: u64(table, at + 24) ?? -1,
          size: u64(table, at + 32) ?? -1,
          link: table.readUInt32LE(at + 40),
          entsize: u64(table, at + 56) ?? 0,
        });
      }
      const strtab = raw[shstrndx];
      const names = strtab && strtab.size <= MAX_READ ? source.read(strtab.offset, strtab.size) : undefined;
      for (const { nameOff, ...s } of raw) sections.push({ ...s, name: names ? cString(names, nameOff) : '' });
    }
  }
  return { type, machine, programHeaders, sections, source };
}

/** The section's bytes (undefined for NOBITS, absent, oversized or out-of-file sections). */
export function sectionData(elf: ElfFile, name: string): { header: SectionHeader; data: Buffer } | undefined {
  const header = elf.sections.find((s) => s.name === name);
  if (!header || header.type === SHT_NOBITS || header.size > MAX_READ) return undefined;
  const data = elf.source.read(header.offset, header.size);
  return data ? { header, data } : undefined;
}

/** The PT_LOAD segment that holds file offset `fileOffset` (what /proc/PID/maps gives us). */
export function loadSegmentForOffset(headers: readonly ProgramHeader[], fileOffset: number): ProgramHeader | undefined {
  for (const ph of headers) {
    if (ph.type === PT_LOAD && fileOffset >= ph.offset && fileOffset < ph.offset + ph.filesz) return ph;
  }
  return undefined;
}

/** A NUL-terminated string at `at` (at most MAX_NAME bytes; '' when out of range). */
export function cString(buf: Buffer, at: number, max = MAX_NAME): string {
  if (!Number.isSafeInteger(at) || at < 0 || at >= buf.length) return '';
  const limit = Math.min(buf.length, at + max);
  let end = buf.indexOf(0, at);
  if (end < 0 || end > limit) end = limit;
  return buf.toString('utf8', at, end);
}

/** A u64 as a safe number, or undefined when it is not one. */
export function u64(buf: Buffer, at: number): number | undefined {
  if (at < 0 || at + 8 > buf.length) return undefined;
  const lo = buf.readUInt32LE(at);
  const hi = buf.readUInt32LE(at + 4);
  if (hi > 0x1fffff) return undefined;
  return hi * 0x1_0000_0000 + lo;
}

/** Function symbols sorted by address, for a binary that still has a symbol table. */
export interface ElfSymbols {
  /** Sorted ascending. */
  addrs: Float64Array;
  sizes: Float64Array;
  names: string[];
}

const MAX_SYMBOLS = 8_000_000;
/** sizeof(Elf64_Sym). */
export const SYMBOL_BYTES = 24;

/**
 * The address of the Elf64_Sym at `at` of a symbol table when it is a defined function
 * (STT_FUNC, not SHN_UNDEF, at a non-zero address), else undefined: the one rule for what a
 * function symbol is, here for stack names and in editing.ts for uprobe targets (libbpf's uprobe
 * resolver takes the same: an STT_GNU_IFUNC such as glibc's strcpy is not one).
 */
export function definedFunctionAt(data: Buffer, at: number): number | undefined {
  if ((data[at + 4]! & 0xf) !== STT_FUNC || data.readUInt16LE(at + 6) === 0 /* SHN_UNDEF */) return undefined;
  const addr = u64(data, at + 8);
  return addr === undefined || addr === 0 ? undefined : addr;
}

/** STT_FUNC symbols of .symtab, else .dynsym; undefined when there are none. */
export function functionSymbols(elf: ElfFile): ElfSymbols | undefined {
  for (const kind of [SHT_SYMTAB, SHT_DYNSYM]) {
    const table = elf.sections.find((s) => s.type === kind);
    if (!table) continue;
    const syms = readFunctionSymbols(elf, table);
    if (syms) return syms;
  }
  return undefined;
}

function readFunctionSymbols(elf: ElfFile, table: SectionHeader): ElfSymbols | undefined {
  const strings = elf.sections[table.link];
  if (!strings || table.size > MAX_READ || strings.size > MAX_READ) return undefined;
  const data = elf.source.read(table.offset, table.size);
  const names = elf.source.read(strings.offset, strings.size);
  if (!data || !names) return undefined;
  const count = Math.min(Math.floor(data.length / SYMBOL_BYTES), MAX_SYMBOLS);
  const found: Array<{ addr: number; size: number; name: string }> = [];
  for (let i = 0; i < count; i++) {
    const at = i * SYMBOL_BYTES;
    const addr = definedFunctionAt(data, at);
    const size = u64(data, at + 16);
    if (addr === undefined || size === undefined) continue;
    const name = cString(names, data.readUInt32LE(at));
    if (name !== '') found.push({ addr, size, name });
  }
  if (found.length === 0) return undefined;
  // Sized symbols first among equal addresses, so an alias without a size never hides one with it.
  found.sort((a, b) => a.addr - b.addr || b.size - a.size);
  return {
    addrs: Float64Array.from(found, (s) => s.addr),
    sizes: Float64Array.from(found, (s) => s.size),
    names: found.map((s) => s.name),
  };
}

/** Index of the last element <= x in a sorted array, or -1. */
export function floorIndex(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! <= x) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

/** The function symbol that holds `addr`: the last one at or below it, within its size when it has one. */
export function symbolAt(syms: ElfSymbols, addr: number): string | undefined {
  let i = floorIndex(syms.addrs, addr);
  // Among equal addresses the sized symbol sorts first: walk back to it.
  while (i > 0 && syms.addrs[i - 1] === syms.addrs[i]) i--;
  if (i < 0) return undefined;
  const size = syms.sizes[i]!;
  if (size > 0 && addr >= syms.addrs[i]! + size) return undefined;
  return syms.names[i];
}
