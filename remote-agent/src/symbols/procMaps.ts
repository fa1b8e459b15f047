/**
 * /proc/PID/maps: the process's mappings, parsed and sorted for lookup by address.
 * A line is `start-end perms offset dev inode [path]` (hex start, end, offset; dev "maj:min");
 * the path may hold spaces and ends with " (deleted)" when the file was replaced. Malformed
 * lines are skipped, never fatal. Addresses are numbers: user space fits in 2^53.
 */

export interface Mapping {
  start: number;
  end: number;
  perms: string;
  /** File offset of `start`. */
  offset: number;
  dev: string;
  inode: number;
  /** '' for anonymous memory; `[vdso]`, `[heap]`… for the kernel's own. */
  path: string;
  /** The file was unlinked or replaced after it was mapped. */
  deleted: boolean;
}

const LINE = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+:[0-9a-f]+)\s+(\d+)\s*(.*)$/;
const MAX_LINES = 1_000_000;

/** Mappings sorted by start address. */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && i < MAX_LINES; i++) {
    const m = LINE.exec(lines[i]!);
    if (!m) continue;
    const start = parseInt(m[1]!, 16);
    const end = parseInt(m[2]!, 16);
    const offset = parseInt(m[4]!, 16);
    if (![start, end, offset].every(Number.isSafeInteger) || end <= start) continue;
    let path = m[7]!;
    const deleted = path.endsWith(' (deleted)');
    if (deleted) path = path.slice(0, -' (deleted)'.length);
    out.push({ start, end, perms: m[3]!, offset, dev: m[5]!, inode: Number(m[6]), path, deleted });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** The mapping that holds `addr`, by binary search over sorted, non-overlapping mappings. */
export function mappingAt(maps: readonly Mapping[], addr: number): Mapping | undefined {
  let lo = 0;
  let hi = maps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = maps[mid]!;
    if (addr < m.start) hi = mid - 1;
    else if (addr >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}
