/**
 * What the pre-verifier checks need to know about a `.bpf.c`, read without a C compiler: its
 * programs (functions under `SEC("…")`) with their bodies, the other functions (subprograms),
 * the calls each function makes, the map definitions in `.maps` with their `__uint`/`__type`
 * fields, and every `SEC("…")` with the exact range of its name. Pure (no node:, no vscode):
 * the editor runs it on every keystroke, so it is one linear pass over the text plus regex
 * scans of a masked copy in which comments, string and character literals and preprocessor
 * lines are blanked out (offsets and line breaks kept), so nothing in them is taken for code.
 *
 * It is a reader of the common shapes libbpf programs are written in, not a C parser: what it
 * cannot read (a SEC hidden behind a macro of the user's own, a map defined through a typedef)
 * it leaves out, and the checks say nothing about what is left out.
 */

/** A place in the source: 0-based offsets, 1-based line and column (as DIAG). */
export interface Span {
  start: number;
  end: number;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export interface SectionUse {
  /** The section name between the quotes. */
  name: string;
  /** The name's span (inside the quotes): what a quick fix replaces. */
  nameSpan: Span;
  /** `SEC("…")` as a whole. */
  span: Span;
}

export interface CallSite {
  /** The called identifier. */
  name: string;
  span: Span;
}

export interface FunctionDef {
  name: string;
  nameSpan: Span;
  /** Offsets of the body, braces included. */
  bodyStart: number;
  bodyEnd: number;
  /** The SEC of a program; absent for a subprogram (static helper function). */
  section?: SectionUse;
  calls: CallSite[];
}

export interface MapField {
  /** `__uint`, `__type`, `__array` or `__ulong`. */
  macro: string;
  /** The field: type, max_entries, key, value, key_size, value_size, map_flags, … */
  field: string;
  /** The value as written (`BPF_MAP_TYPE_HASH`, `64`, `__u32`, `sizeof(__u32)`, `struct foo`). */
  value: string;
  span: Span;
}

export interface MapDef {
  name: string;
  nameSpan: Span;
  section: SectionUse;
  fields: MapField[];
}

export interface SourceModel {
  sections: SectionUse[];
  /** Every function defined at file scope, programs and subprograms, in source order. */
  functions: FunctionDef[];
  maps: MapDef[];
  /** Where each line starts (offsets), for spans of later finds. */
  lineStarts: number[];
}

/**
 * The text with comments, string and char literals (their contents and quotes) and
 * preprocessor lines replaced by spaces; newlines kept, so offsets and lines are the text's.
 */
export function maskSource(text: string): string {
  // UTF-16 code units in a typed array (no per-character strings: this runs per keystroke).
  const out = new Uint16Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  const NL = 10;
  const SPACE = 32;
  const blank = (from: number, to: number): void => {
    for (let i = from; i < to; i++) if (out[i] !== NL) out[i] = SPACE;
  };
  let i = 0;
  let lineStart = true;
  while (i < text.length) {
    const c = text[i]!;
    const n = text[i + 1];
    if (c === '\n') {
      lineStart = true;
      i++;
      continue;
    }
    if (lineStart && c === '#') {
      // A preprocessor line, with its backslash continuations (and comments inside it).
      let j = i;
      while (j < text.length && !(text[j] === '\n' && text[j - 1] !== '\\')) j++;
      blank(i, j);
      i = j;
      continue;
    }
    if (c !== ' ' && c !== '\t' && c !== '\r') lineStart = false;
    if (c === '/' && n === '/') {
      let j = i;
      while (j < text.length && text[j] !== '\n') j++;
      blank(i, j);
      i = j;
    } else if (c === '/' && n === '*') {
      const close = text.indexOf('*/', i + 2);
      const j = close < 0 ? text.length : close + 2;
      blank(i, j);
      i = j;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      blank(i, Math.min(text.length, j + 1));
      i = j + 1;
    } else i++;
  }
  let masked = '';
  for (let k = 0; k < out.length; k += 8192) masked += String.fromCharCode(...out.subarray(k, k + 8192));
  return masked;
}

function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

/** 1-based line and column of an offset. */
export function positionAt(lineStarts: number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (lineStarts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - lineStarts[lo]! + 1 };
}

export function spanOf(lineStarts: number[], start: number, end: number): Span {
  const a = positionAt(lineStarts, start);
  const b = positionAt(lineStarts, end);
  return { start, end, line: a.line, column: a.column, endLine: b.line, endColumn: b.column };
}

/** The offset just past the bracket that closes the one at `open` (masked text), or -1. */
function closing(masked: string, open: number): number {
  const o = masked[open]!;
  const c = o === '{' ? '}' : o === '(' ? ')' : ']';
  let depth = 0;
  for (let i = open; i < masked.length; i++) {
    if (masked[i] === o) depth++;
    else if (masked[i] === c && --depth === 0) return i + 1;
  }
  return -1;
}

/** Keywords that look like calls (`if (…)`) and are not. */
const NOT_CALLS = new Set([
  'if',
  'while',
  'for',
  'switch',
  'return',
  'sizeof',
  'typeof',
  '__typeof__',
  'offsetof',
  '__builtin_offsetof',
  'defined',
  '_Static_assert',
  '__attribute__',
  'asm',
  '__asm__',
  'volatile',
  '__volatile__',
]);

const FIELD_RE = /\b(__uint|__type|__array|__ulong)\s*\(\s*(\w+)\s*,/g;

/** Read the source: see the file comment for what is and is not seen. */
export function scanSource(text: string): SourceModel {
  const masked = maskSource(text);
  const lineStarts = lineStartsOf(text);
  const span = (a: number, b: number): Span => spanOf(lineStarts, a, b);

  // SEC("name"): the masked text blanks the string, so find SEC( there and read the name from
  // the text at the same offsets.
  const sections: SectionUse[] = [];
  for (const m of masked.matchAll(/\bSEC\s*\(/g)) {
    // The masked text blanked the string, quotes too: skip the blanks in the text itself.
    let quote = m.index + m[0].length;
    while (text[quote] === ' ' || text[quote] === '\t') quote++;
    if (text[quote] !== '"') continue;
    const endQuote = text.indexOf('"', quote + 1);
    if (endQuote < 0 || text.slice(quote, endQuote).includes('\n')) continue;
    const close = masked.indexOf(')', endQuote);
    if (close < 0) continue;
    sections.push({
      name: text.slice(quote + 1, endQuote),
      nameSpan: span(quote + 1, endQuote),
      span: span(m.index, close + 1),
    });
  }
  const sectionAt = new Map(sections.map((s) => [s.span.start, s]));

  // File-scope functions: `name ( … ) {` at brace depth 0. A SEC between the previous
  // declaration's end and the name makes it a program.
  const functions: FunctionDef[] = [];
  const maps: MapDef[] = [];
  let depth = 0;
  let declStart = 0;
  for (let i = 0; i < masked.length; i++) {
    const c = masked[i];
    if (c === '{') {
      if (depth === 0) {
        // The declaration before the brace (bounded: a name and its parameters are near it).
        const head = masked.slice(Math.max(declStart, i - 4000), i);
        const headStart = i - head.length;
        const fn = /(\w+)\s*\(([^()]|\([^()]*\))*\)\s*$/.exec(head);
        const end = closing(masked, i);
        if (fn && !NOT_CALLS.has(fn[1]!) && end > 0) {
          let nameAt = headStart + fn.index;
          let name = fn[1]!;
          // libbpf's BPF_PROG(name, args…), BPF_KPROBE(…), BPF_UPROBE(…): the program is the first argument.
          const wrapped = /^BPF_[A-Z0-9_]+$/.test(name) ? /\(\s*(\w+)/.exec(fn[0]) : null;
          if (wrapped) {
            nameAt += fn[0].indexOf(wrapped[1]!, wrapped.index);
            name = wrapped[1]!;
          }
          const sec = sections.find((s) => s.span.start >= declStart && s.span.end <= nameAt);
          functions.push({
            name,
            nameSpan: span(nameAt, nameAt + name.length),
            bodyStart: i,
            bodyEnd: end,
            ...(sec ? { section: sec } : {}),
            calls: callsIn(masked, i + 1, end - 1, span),
          });
          i = end - 1;
          declStart = end;
          continue;
        }
      }
      depth++;
    } else if (c === '}') {
      depth = Math.max(0, depth - 1);
    } else if (c === ';' && depth === 0) {
      const decl = masked.slice(declStart, i);
      const map = readMap(text, masked, decl, declStart, sectionAt, span);
      if (map) maps.push(map);
      declStart = i + 1;
    }
  }
  return { sections, functions, maps, lineStarts };
}

function callsIn(masked: string, from: number, to: number, span: (a: number, b: number) => Span): CallSite[] {
  const calls: CallSite[] = [];
  const re = /\b([A-Za-z_]\w*)\s*\(/g;
  re.lastIndex = from;
  for (let m = re.exec(masked); m && m.index < to; m = re.exec(masked)) {
    const name = m[1]!;
    if (NOT_CALLS.has(name)) continue;
    // `(type)(x)` casts and declarations like `int (*fn)(…)` are not calls of `name`; a call's
    // name is not preceded by `.`/`->` (a field) — those are function pointers, not helpers.
    const before = masked.slice(Math.max(from, m.index - 2), m.index);
    if (/(\.|->)\s*$/.test(before)) continue;
    calls.push({ name, span: span(m.index, m.index + name.length) });
  }
  return calls;
}

/** `struct { __uint(type, …); … } name SEC(".maps");` (a declaration ending at `;`). */
function readMap(
  text: string,
  masked: string,
  decl: string,
  at: number,
  sectionAt: Map<number, SectionUse>,
  span: (a: number, b: number) => Span,
): MapDef | null {
  const m = /\}\s*(\w+)\s*(SEC\s*\()/.exec(decl);
  if (!m) return null;
  const secStart = at + m.index + m[0].length - m[2]!.length;
  const section = sectionAt.get(secStart);
  if (!section || (section.name !== '.maps' && section.name !== 'maps')) return null;
  const open = masked.indexOf('{', at);
  if (open < 0 || open > at + m.index) return null;
  const fields: MapField[] = [];
  FIELD_RE.lastIndex = open;
  for (let f = FIELD_RE.exec(masked); f && f.index < at + m.index; f = FIELD_RE.exec(masked)) {
    const paren = masked.indexOf('(', f.index);
    const close = closing(masked, paren);
    if (close < 0) break;
    const valueStart = f.index + f[0].length;
    fields.push({
      macro: f[1]!,
      field: f[2]!,
      value: text
        .slice(valueStart, close - 1)
        .replace(/\s+/g, ' ')
        .trim(),
      span: span(f.index, close),
    });
    FIELD_RE.lastIndex = close;
  }
  const nameAt = at + m.index + m[0].indexOf(m[1]!, 1);
  return { name: m[1]!, nameSpan: span(nameAt, nameAt + m[1]!.length), section, fields };
}

/**
 * The calls a program makes, through the subprograms it calls (transitively, each function
 * once), with the function each call is written in.
 */
export function reachableCalls(model: SourceModel, program: FunctionDef): { call: CallSite; in: FunctionDef }[] {
  const byName = new Map(model.functions.map((f) => [f.name, f]));
  const seen = new Set<FunctionDef>();
  const out: { call: CallSite; in: FunctionDef }[] = [];
  const visit = (f: FunctionDef): void => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const call of f.calls) {
      const callee = byName.get(call.name);
      if (callee && !callee.section) visit(callee);
      else out.push({ call, in: f });
    }
  };
  visit(program);
  return out;
}
