/**
 * Folded stacks (the format of flamegraph.pl, perf script | stackcollapse, inferno): export of a
 * Profile's stacks as `frame;frame;frame VALUE` lines, VALUE in nanoseconds (DESIGN.md §7), and
 * a strict import. Pure: no Node, no DOM, no vscode.
 *
 * Export: one line per stack, root first; kernel frames keep their `_[k]` suffix (flamegraph.pl
 * colours them by it). The format cannot carry a `;` or a line break inside a name, so those
 * become `:` and a space (the only lossy step), and it has no place for the stack's kind or
 * count: a re-import gives each line count 1 and one kind (the caller's choice), so what is
 * kept exactly is the set of stacks and their nanoseconds.
 *
 * Import is for untrusted files: every problem is a FoldedImportError naming the line, never
 * another exception; the text is read in one bounded pass (limits on lines, line length and
 * depth), so a hostile file cannot hang it. Blank lines are skipped; repeated stacks add up.
 */

import type { ProfileStack, StackKind } from '@dfs/protocol';

export const FOLDED_LIMITS = {
  /** Lines (stacks) in one file. */
  maxLines: 2_000_000,
  /** Characters in one line. */
  maxLineLength: 1_000_000,
  /** Frames in one stack. */
  maxDepth: 2048,
  /** Characters in one frame name. */
  maxFrameLength: 4096,
} as const;

export class FoldedImportError extends Error {
  constructor(
    /** 1-based line of the fault (0: the whole file). */
    readonly line: number,
    message: string,
  ) {
    super(line > 0 ? `line ${line}: ${message}` : message);
    this.name = 'FoldedImportError';
  }
}

const cleanFrame = (f: string): string => f.replace(/;/g, ':').replace(/[\r\n]+/g, ' ');

/** The stacks as folded lines (a trailing newline after the last one). */
export function toFolded(stacks: readonly ProfileStack[]): string {
  const lines: string[] = [];
  for (const s of stacks) {
    if (s.frames.length === 0) continue;
    lines.push(`${s.frames.map(cleanFrame).join(';')} ${Math.round(s.total_ns)}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

export interface FoldedImportOptions {
  /** Kind given to every stack (folded files do not say); default 'oncpu'. */
  kind?: StackKind;
  limits?: Partial<Record<keyof typeof FOLDED_LIMITS, number>>;
}

const VALUE = /^(?:0|[1-9]\d*)(?:\.\d+)?$/;

/** Parses folded text into stacks (identical stacks merged, counts = their lines). */
export function fromFolded(text: string, options: FoldedImportOptions = {}): ProfileStack[] {
  if (typeof text !== 'string') throw new FoldedImportError(0, 'the folded text is not a string');
  const limits = { ...FOLDED_LIMITS, ...options.limits };
  const kind = options.kind ?? 'oncpu';
  const byKey = new Map<string, ProfileStack>();
  let lineNo = 0;
  let at = 0;
  while (at < text.length) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    lineNo++;
    if (lineNo > limits.maxLines) throw new FoldedImportError(lineNo, `more than ${limits.maxLines} lines`);
    if (nl - at > limits.maxLineLength) {
      throw new FoldedImportError(lineNo, `line longer than ${limits.maxLineLength} characters`);
    }
    let line = text.slice(at, nl);
    at = nl + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.trim() === '') continue;
    const sp = line.lastIndexOf(' ');
    if (sp < 0) throw new FoldedImportError(lineNo, 'expected "frame;frame;… VALUE", found no value');
    const value = line.slice(sp + 1);
    if (!VALUE.test(value)) {
      throw new FoldedImportError(lineNo, `value ${JSON.stringify(value.slice(0, 40))} is not a non-negative number`);
    }
    const ns = Number(value);
    if (!Number.isFinite(ns) || ns > Number.MAX_SAFE_INTEGER) {
      throw new FoldedImportError(lineNo, `value ${value.slice(0, 40)} is too large`);
    }
    const stackText = line.slice(0, sp);
    if (stackText === '') throw new FoldedImportError(lineNo, 'the stack is empty');
    const frames = stackText.split(';', limits.maxDepth + 1);
    if (frames.length > limits.maxDepth)
      throw new FoldedImportError(lineNo, `stack deeper than ${limits.maxDepth} frames`);
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      if (f === '') throw new FoldedImportError(lineNo, `frame ${i + 1} is empty`);
      if (f.length > limits.maxFrameLength) {
        throw new FoldedImportError(lineNo, `frame ${i + 1} is longer than ${limits.maxFrameLength} characters`);
      }
    }
    const prev = byKey.get(stackText);
    if (prev) {
      prev.total_ns += ns;
      prev.count += 1;
    } else {
      byKey.set(stackText, { frames, total_ns: ns, count: 1, kind });
    }
  }
  return [...byKey.values()];
}
