/**
 * Finding a source location without an `@ file:line` annotation, pure (the log explorer's
 * modules share it): the object's BTF line info in force at an instruction, and a source line
 * whose text the kernel printed (kernels before 6.9). parse.ts decides when each applies.
 */

import type { SourceLocation, VerifierError } from './model';

/** One BTF line-info record, as btfLines.ts reads it from the object (structurally the same). */
export interface BtfLine {
  /** Instruction index (8-byte units; ld_imm64 counts as 2). */
  insn: number;
  /** The file's basename, as the kernel prints it. */
  file: string;
  /** 1-based; 0 for compiler-made code without a line. */
  line: number;
  text: string;
}

export type LocatedBy = VerifierError['locatedBy'];

/** The line-info record in force at an instruction: the last one at or before it with a real line. */
export class BtfLookup {
  private readonly records: BtfLine[];

  constructor(records: readonly BtfLine[] | undefined) {
    this.records = (records ?? []).filter((r) => r.line > 0).sort((a, b) => a.insn - b.insn);
  }

  at(insn: number): { location: SourceLocation; by: LocatedBy } | undefined {
    let lo = 0;
    let hi = this.records.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.records[mid]?.insn ?? 0) <= insn) lo = mid + 1;
      else hi = mid;
    }
    const r = this.records[lo - 1];
    return r ? { location: { file: r.file, line: r.line, text: r.text.trim() }, by: 'btf-line-info' } : undefined;
  }
}

/**
 * Finds an annotation's text in the given sources: an exact match of the trimmed line. When
 * several lines match, the one closest after the previously found line wins (the walk mostly
 * moves down the file), then the closest before it.
 */
export class SourceLookup {
  private readonly index = new Map<string, { file: string; line: number }[]>();
  private previous: { file: string; line: number } | null = null;

  constructor(sources: ReadonlyMap<string, string> | undefined) {
    for (const [file, text] of sources ?? []) {
      text.split('\n').forEach((raw, i) => {
        const trimmed = raw.trim();
        if (!trimmed) return;
        const hits = this.index.get(trimmed) ?? [];
        hits.push({ file, line: i + 1 });
        this.index.set(trimmed, hits);
      });
    }
  }

  find(text: string): SourceLocation | null {
    const hits = this.index.get(text.trim());
    if (!hits?.length) return null;
    const prev = this.previous;
    const sameFile = prev ? hits.filter((h) => h.file === prev.file) : [];
    let hit = hits[0];
    if (prev && sameFile.length > 0) {
      const after = sameFile.filter((h) => h.line >= prev.line);
      const pool = after.length > 0 ? after : sameFile;
      hit = pool.reduce((a, b) => (Math.abs(b.line - prev.line) < Math.abs(a.line - prev.line) ? b : a));
    }
    if (!hit) return null;
    this.previous = hit;
    return { file: hit.file, line: hit.line, text: text.trim() };
  }
}
