/**
 * /proc/kallsyms: kernel text symbols sorted by address, for naming kernel stack frames.
 * A line is `ADDR TYPE NAME [MODULE]`. Only text symbols (t, T, and weak w, W) are kept, and
 * no zero address (what a reader without CAP_SYSLOG sees: then every frame is unknown). A
 * symbol's extent is up to the next symbol; past the last one, at most MAX_LAST_EXTENT bytes.
 */

export interface KernelSymbols {
  /** Sorted ascending (bigint: kernel addresses exceed 2^53). */
  addrs: BigUint64Array;
  names: string[];
  /** The module of symbol i ('' for the core kernel). */
  modules: string[];
}

const TEXT_TYPES = new Set(['t', 'T', 'w', 'W']);
const MAX_LAST_EXTENT = 0x10000n;
const MAX_LINES = 10_000_000;

export function parseKallsyms(text: string): KernelSymbols {
  const found: Array<{ addr: bigint; name: string; module: string }> = [];
  let lineStart = 0;
  for (let n = 0; n < MAX_LINES && lineStart < text.length; n++) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    const fields = text.slice(lineStart, lineEnd).split(/\s+/);
    lineStart = lineEnd + 1;
    const [addrHex, type, name, mod] = fields;
    if (!addrHex || !type || !name || !TEXT_TYPES.has(type) || !/^[0-9a-fA-F]{1,16}$/.test(addrHex)) continue;
    const addr = BigInt('0x' + addrHex);
    if (addr === 0n) continue;
    found.push({ addr, name, module: mod?.startsWith('[') && mod.endsWith(']') ? mod.slice(1, -1) : '' });
  }
  found.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0));
  return {
    addrs: BigUint64Array.from(found, (s) => s.addr),
    names: found.map((s) => s.name),
    modules: found.map((s) => s.module),
  };
}

/** Index of the symbol that holds `addr`, or -1. */
export function kernelSymbolAt(syms: KernelSymbols, addr: bigint): number {
  let lo = 0;
  let hi = syms.addrs.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (syms.addrs[mid]! <= addr) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (best === syms.addrs.length - 1 && best >= 0 && addr - syms.addrs[best]! >= MAX_LAST_EXTENT) return -1;
  return best;
}
