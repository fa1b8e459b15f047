/**
 * Go's pc-value tables (pctab: pcfile, pcln, pcdata such as the inline-tree index): a table is
 * a run of (zig-zag value delta, pc delta × minLC) varint pairs from value -1 at pc 0, ended by
 * a zero value delta. Owned by one GoPclnTable; its caches are bounded (a few MB per module).
 * Reads are bounds-checked and walks bounded, so a damaged table gives "unknown", not a loop.
 */

/** Longest pc-value walk we accept (a function's table longer than this is damage). */
const MAX_PCVALUE_STEPS = 1_000_000;
const MAX_SEEN_TABLES = 500_000;
const MAX_DECODED_TABLES = 20_000;
const MAX_DECODED_STEPS = 1 << 16;
/** A walk longer than this (bytes) makes its table worth a decoded copy when it is asked again. */
const LONG_WALK = 48;

export class PcValueTables {
  /** Long tables asked once (walked), and those asked again (decoded whole; null: keep walking). */
  private readonly seen = new Set<number>();
  private readonly decoded = new Map<number, DecodedTable | null>();
  private scratchEnds = new Uint32Array(256);
  private scratchValues = new Int32Array(256);
  private scratchLength = -1;
  /** Bytes read by the last walk. */
  private steps = 0;

  /** `buf` is the pcln section, `pctab` the offset of pctab in it, `quantum` the header's minLC. */
  constructor(
    private readonly buf: Buffer,
    private readonly pctab: number,
    private readonly quantum: number,
  ) {}

  /**
   * The value of a pc-value table at `target` (an offset from the function's entry). A table is
   * walked up to `target` only; a long one asked a second time is decoded whole and kept (the
   * first MAX_DECODED_TABLES such tables), since profiles ask for the same hot functions again
   * and again and a binary search then beats a walk from the start.
   */
  value(tableOff: number, target: number): number | undefined {
    if (tableOff === 0) return undefined;
    const known = this.decoded.get(tableOff);
    if (known) return searchDecoded(known, target);
    if (known === null || !this.seen.has(tableOff) || this.decoded.size >= MAX_DECODED_TABLES) {
      const v = this.walk(tableOff, target, false);
      // Only long walks are worth a decoded copy; short tables (most pcfile ones) stay walked.
      if (this.steps > LONG_WALK && this.seen.size < MAX_SEEN_TABLES) this.seen.add(tableOff);
      return v;
    }
    this.walk(tableOff, Infinity, true);
    const d = this.scratchLength < 0 ? null : this.takeScratch();
    this.decoded.set(tableOff, d);
    return d ? searchDecoded(d, target) : this.walk(tableOff, target, false);
  }

  /**
   * Walks a pc-value table: pairs of zig-zag value delta and pc delta (× minLC) varints,
   * starting at value -1 and pc 0; a zero value delta after the first pair ends the table.
   * Returns the value at `target`; with `record`, keeps every (end pc, value) pair in the
   * scratch arrays (scratchLength -1 when the table is damaged or too long to keep).
   */
  private walk(tableOff: number, target: number, record: boolean): number | undefined {
    const buf = this.buf;
    const len = buf.length;
    const quantum = this.quantum;
    const start = this.pctab + tableOff;
    let p = start;
    let val = -1;
    let pc = 0;
    let result: number | undefined;
    let ok = false;
    this.scratchLength = record ? 0 : -1;
    // Hot loop: varints decoded inline (one-byte fast path), no allocation, one exit.
    for (let step = 0; step < MAX_PCVALUE_STEPS; step++) {
      if (p >= len) break;
      let uv = buf[p++]!;
      if (uv >= 0x80) {
        uv &= 0x7f;
        let mul = 128;
        let i = 1;
        for (; i < 5 && p < len; i++, mul *= 128) {
          const b = buf[p++]!;
          uv += (b & 0x7f) * mul;
          if (b < 0x80) break;
        }
        if (i === 5 || buf[p - 1]! >= 0x80) break; // too long, or ran off the section
      }
      if (uv === 0 && step > 0) {
        ok = true; // the table ended before reaching target
        break;
      }
      if (p >= len) break;
      let pcd = buf[p++]!;
      if (pcd >= 0x80) {
        pcd &= 0x7f;
        let mul = 128;
        let i = 1;
        for (; i < 5 && p < len; i++, mul *= 128) {
          const b = buf[p++]!;
          pcd += (b & 0x7f) * mul;
          if (b < 0x80) break;
        }
        if (i === 5 || buf[p - 1]! >= 0x80) break;
      }
      val += uv & 1 ? -((uv + 1) / 2) : uv / 2;
      pc += pcd * quantum;
      if (record) {
        if (this.scratchLength === MAX_DECODED_STEPS || pc > 0xffffffff || val < -0x80000000 || val > 0x7fffffff) break;
        if (this.scratchLength === this.scratchEnds.length) this.growScratch();
        this.scratchEnds[this.scratchLength] = pc;
        this.scratchValues[this.scratchLength++] = val;
      }
      if (target < pc) {
        result = val;
        ok = true;
        break;
      }
    }
    this.steps = p - start;
    if (!ok) this.scratchLength = -1; // damaged, too long, or too long to keep
    return result;
  }

  private growScratch(): void {
    const ends = new Uint32Array(this.scratchEnds.length * 2);
    const values = new Int32Array(this.scratchEnds.length * 2);
    ends.set(this.scratchEnds);
    values.set(this.scratchValues);
    this.scratchEnds = ends;
    this.scratchValues = values;
  }

  private takeScratch(): DecodedTable {
    return {
      ends: this.scratchEnds.slice(0, this.scratchLength),
      values: this.scratchValues.slice(0, this.scratchLength),
    };
  }
}

interface DecodedTable {
  /** ends[i]: the first pc offset where values[i] no longer holds (ascending). */
  ends: Uint32Array;
  values: Int32Array;
}

function searchDecoded(t: DecodedTable, target: number): number | undefined {
  let lo = 0;
  let hi = t.ends.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (t.ends[mid]! > target) {
      found = mid;
      hi = mid - 1;
    } else lo = mid + 1;
  }
  return found < 0 ? undefined : t.values[found];
}
