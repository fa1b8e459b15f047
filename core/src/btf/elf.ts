/**
 * One named section of an ELF64 object (little- or big-endian), in pure TypeScript: how the BTF
 * of a compiled BPF object (`.BTF`) is found without libbpf. Untrusted bytes: every header and
 * the section itself are checked to lie inside the file, the section-table walk is bounded by
 * its count, and a damaged object gives a DfsError(BadRequest). (core/src/verifier/btfLines.ts
 * has its own reader for line info, which turns damage into "no line info" instead.)
 */

import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';

const SHT_NOBITS = 8;

function bad(message: string): DfsError {
  return new DfsError(ErrorCode.BadRequest, `damaged ELF object: ${message}`);
}

/** The bytes of section `name` (a view into `elf`, not a copy). */
export function elfSection(elf: Uint8Array, name: string): Uint8Array {
  if (elf.length < 64 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[2] !== 0x4c || elf[3] !== 0x46) {
    throw bad('no ELF header');
  }
  if (elf[4] !== 2) throw bad('not a 64-bit ELF (BPF objects are ELF64)');
  const little = elf[5] === 1;
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const inFile = (at: number, len: number): boolean =>
    Number.isSafeInteger(at + len) && at >= 0 && len >= 0 && at + len <= elf.length;
  const u16 = (at: number): number => view.getUint16(at, little);
  const u32 = (at: number): number => view.getUint32(at, little);
  const u64 = (at: number): number => {
    const v = view.getBigUint64(at, little);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
  };
  const shoff = u64(0x28);
  const entSize = u16(0x3a);
  const count = u16(0x3c);
  const namesIndex = u16(0x3e);
  if (count === 0) throw bad('no section table');
  if (entSize < 64) throw bad(`section headers of ${entSize} bytes`);
  if (!inFile(shoff, count * entSize))
    throw bad(`the section table (${count} × ${entSize} bytes at ${shoff}) lies outside the file`);
  const header = (i: number): { nameOff: number; type: number; offset: number; size: number } => {
    const at = shoff + i * entSize;
    return { nameOff: u32(at), type: u32(at + 4), offset: u64(at + 24), size: u64(at + 32) };
  };
  if (namesIndex >= count) throw bad(`section-name table index ${namesIndex} of ${count} sections`);
  const names = header(namesIndex);
  if (!inFile(names.offset, names.size)) throw bad('the section-name table lies outside the file');
  const wanted = new TextEncoder().encode(name);
  for (let i = 0; i < count; i++) {
    const s = header(i);
    const at = names.offset + s.nameOff;
    // A match needs the name and its NUL inside the name table.
    if (s.nameOff + wanted.length >= names.size) continue;
    if (elf[at + wanted.length] !== 0 || !wanted.every((c, k) => elf[at + k] === c)) continue;
    if (s.type === SHT_NOBITS) return new Uint8Array(0);
    if (!inFile(s.offset, s.size)) throw bad(`section ${name} (${s.size} bytes at ${s.offset}) lies outside the file`);
    return elf.subarray(s.offset, s.offset + s.size);
  }
  throw new DfsError(ErrorCode.BadRequest, `the object has no ${name} section`);
}
