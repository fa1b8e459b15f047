/**
 * The checks before the verifier (`dfs-ebpf check`, and the editor as the user types): the
 * mistakes that otherwise show up only at load time, each with its `code`:
 *   unknown-section        a SEC("…") libbpf does not know (quick fixes: the near misses)
 *   unknown-attach-target  a tracepoint, tp_btf/raw_tp event or uprobe binary/symbol the
 *                          node's kernel does not have
 *   helper-not-allowed     a helper or kfunc the section's program type may not call (at the
 *                          call, naming the types that may and the alternatives this type has)
 *   bad-map-definition     a `.maps` definition libbpf or the kernel would refuse
 * Pure and synchronous over a SourceModel (source.ts) and the node's facts (facts.ts): the
 * facts a check needs that are not known yet (a target not asked about) make it say nothing,
 * never guess. Section names come from libbpf's own table and helper documentation from the
 * headers, both generated (data/, scripts/editing-data.mjs).
 */

import { helperByName, HELPERS, type HelperDoc } from './data';
import {
  editDistance,
  isSpecialSection,
  matchSection,
  suggestSections,
  tolerance,
  unsupportedSection,
  type SectionMatch,
} from './sections';
import { reachableCalls, type FunctionDef, type MapDef, type MapField, type SourceModel, type Span } from './source';

export type CheckCode = 'unknown-section' | 'unknown-attach-target' | 'helper-not-allowed' | 'bad-map-definition';

/** A replacement the editor offers as a quick fix. */
export interface CheckFix {
  title: string;
  span: Span;
  newText: string;
}

export interface CheckDiagnostic {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: 'error' | 'warning';
  message: string;
  code: CheckCode;
  /** The program (function) it is about, when it is about one. */
  program: string | null;
  fixes?: CheckFix[];
}

/** A yes/no about an attach target, from the node (facts.ts asks). */
export type TargetAnswer = { exists: true } | { exists: false; why: string };

/** What the node's kernel says; every part may be missing (then its checks are skipped). */
export interface KernelFacts {
  release: string;
  /** Helper ids each program type may call (`kernel/helpers`); an error when the kernel cannot tell. */
  helpers: Map<string, ReadonlySet<number> | { error: string }>;
  /** The kfuncs of the node's BTF and which each program type may call; null when not known. */
  kfuncs: KfuncFacts | null;
  /** Raw tracepoint events in the node's BTF (`btf_trace_<name>` typedefs): tp_btf and raw_tp. */
  btfEvents: ReadonlySet<string> | null;
  /** Answers about targets so far, by targetKey(). */
  targets: ReadonlyMap<string, TargetAnswer>;
}

/** kfuncs: the functions the node's BTF tags `bpf_kfunc`, and per type those it may call (`kernel/kfuncs`). */
export interface KfuncFacts {
  names: ReadonlySet<string>;
  /**
   * Per program type, the kfuncs it may call and those the kernel gave no verdict on (neither
   * allowed nor refused); an error when it gave no verdict for the type at all.
   */
  byType: Map<string, { allowed: ReadonlySet<string>; unjudged: ReadonlySet<string> } | { error: string }>;
}

/** An attach target a check needs the node for. */
export type AttachTarget =
  | { kind: 'tracepoint'; category: string; name: string }
  | { kind: 'btf-event'; name: string }
  | { kind: 'uprobe'; binary: string; symbol: string };

export function targetKey(t: AttachTarget): string {
  switch (t.kind) {
    case 'tracepoint':
      return `tracepoint:${t.category}/${t.name}`;
    case 'btf-event':
      return `btf-event:${t.name}`;
    case 'uprobe':
      return `uprobe:${t.binary}:${t.symbol}`;
  }
}

/**
 * The attach target a section names, when the node can be asked about it: tracepoints
 * (`tp/`, `tracepoint/`), BTF events (`tp_btf/`, `raw_tp/`, `raw_tracepoint/` and their
 * writable/sleepable forms) and uprobes with an absolute binary and a symbol.
 */
export function attachTargetOf(m: SectionMatch): AttachTarget | null {
  const target = m.target;
  if (!target) return null;
  switch (m.progType) {
    case 'tracepoint': {
      const [category, name, ...rest] = target.split('/');
      return category && name && rest.length === 0 ? { kind: 'tracepoint', category, name } : null;
    }
    case 'tracing':
    case 'raw_tracepoint':
    case 'raw_tracepoint_writable':
      // tp_btf/NAME and raw_tp/NAME: the event; fentry/fexit/fmod_ret name kernel functions.
      return /^(tp_btf|raw_tp|raw_tracepoint)/.test(m.def.name) ? { kind: 'btf-event', name: target } : null;
    case 'kprobe': {
      if (!/^u(ret)?probe/.test(m.def.name)) return null;
      // uprobe/BINARY:FUNC[+OFFSET]; the binary may hold ':' only in rare paths (not read).
      const u = /^(\/[^:]+):([A-Za-z_.$][\w.$@]*)(\+\d+|\+0x[0-9a-fA-F]+)?$/.exec(target);
      return u ? { kind: 'uprobe', binary: u[1]!, symbol: u[2]! } : null;
    }
    default:
      return null;
  }
}

/** The targets of a source that the node has not answered yet. */
export function unansweredTargets(model: SourceModel, facts: KernelFacts | null): AttachTarget[] {
  const out = new Map<string, AttachTarget>();
  for (const f of model.functions) {
    const m = f.section && matchSection(f.section.name);
    const t = m ? attachTargetOf(m) : null;
    if (!t || t.kind === 'btf-event') continue; // BTF events are read from the BTF, not asked
    if (!facts?.targets.has(targetKey(t))) out.set(targetKey(t), t);
  }
  return [...out.values()];
}

function diag(
  span: Span,
  code: CheckCode,
  message: string,
  program: string | null,
  fixes?: CheckFix[],
  severity: 'error' | 'warning' = 'error',
): CheckDiagnostic {
  return {
    line: span.line,
    column: span.column,
    endLine: span.endLine,
    endColumn: span.endColumn,
    severity,
    message,
    code,
    program,
    ...(fixes && fixes.length > 0 ? { fixes } : {}),
  };
}

/** Run every check; `facts` null (no node) runs only what needs no kernel: sections and maps. */
export function checkSource(model: SourceModel, facts: KernelFacts | null): CheckDiagnostic[] {
  const out: CheckDiagnostic[] = [];
  for (const f of model.functions) {
    if (!f.section) continue;
    const name = f.section.name;
    if (isSpecialSection(name)) continue;
    const m = matchSection(name);
    if (!m) {
      const near = suggestSections(name);
      out.push(
        diag(
          f.section.nameSpan,
          'unknown-section',
          `unknown section "${name}": libbpf does not know it, so ${f.name} would not be loaded` +
            (near.length > 0 ? ` (did you mean ${near.map((n) => `"${n}"`).join(' or ')}?)` : ''),
          f.name,
          near.map((n) => ({ title: `Change the section to "${n}"`, span: f.section!.nameSpan, newText: n })),
        ),
      );
      continue;
    }
    if (facts) {
      out.push(...checkTarget(f, m, facts));
      out.push(...checkHelpers(model, f, m, facts));
    }
  }
  for (const map of model.maps) out.push(...checkMap(map));
  return out.sort((a, b) => a.line - b.line || a.column - b.column);
}

function checkTarget(f: FunctionDef, m: SectionMatch, facts: KernelFacts): CheckDiagnostic[] {
  const t = attachTargetOf(m);
  if (!t) return [];
  const span = f.section!.nameSpan;
  if (t.kind === 'btf-event') {
    if (!facts.btfEvents || facts.btfEvents.has(t.name)) return [];
    const near = nearest(t.name, facts.btfEvents);
    const prefix = f.section!.name.slice(0, f.section!.name.length - t.name.length);
    return [
      diag(
        span,
        'unknown-attach-target',
        `${facts.release} has no raw tracepoint "${t.name}" (no btf_trace_${t.name} in its BTF)` +
          (near.length > 0 ? `; did you mean ${near.map((n) => `"${n}"`).join(' or ')}?` : ''),
        f.name,
        near.map((n) => ({ title: `Change the event to "${n}"`, span, newText: prefix + n })),
      ),
    ];
  }
  const answer = facts.targets.get(targetKey(t));
  if (!answer || answer.exists) return [];
  const what =
    t.kind === 'tracepoint' ? `the tracepoint ${t.category}/${t.name}` : `the uprobe target ${t.binary}:${t.symbol}`;
  return [diag(span, 'unknown-attach-target', `${facts.release} does not have ${what}: ${answer.why}`, f.name)];
}

/** The helper or kfunc `name` is, as far as the facts know; null when it is neither. */
function callee(name: string, facts: KernelFacts): { kind: 'helper'; doc: HelperDoc } | { kind: 'kfunc' } | null {
  const h = helperByName(name);
  if (h) return { kind: 'helper', doc: h };
  return facts.kfuncs?.names.has(name) ? { kind: 'kfunc' } : null;
}

/** The program a call is made from: its type and expected attach type (a SectionMatch is one). */
export interface Caller {
  progType: string;
  attachType: string | null;
}

/**
 * The kernel probes "tracing" kfuncs as a tp_btf program (protocol kernel/kfuncs): for fentry,
 * fexit, iterators and the other tracing attach types the answer may differ, so it is not used.
 */
function kfuncAnswerFits(caller: Caller): boolean {
  return caller.progType !== 'tracing' || caller.attachType === 'BPF_TRACE_RAW_TP';
}

/**
 * Whether `caller` may call the helper or kfunc `name` on the node's kernel: null when the
 * kernel could not be asked about its type, or `name` is neither.
 */
export function mayCall(caller: Caller, name: string, facts: KernelFacts): boolean | null {
  const c = callee(name, facts);
  if (!c) return null;
  if (c.kind === 'helper') {
    const allowed = facts.helpers.get(caller.progType);
    return !allowed || 'error' in allowed ? null : allowed.has(c.doc.id);
  }
  const kf = facts.kfuncs?.byType.get(caller.progType);
  if (!kf || 'error' in kf || !kfuncAnswerFits(caller) || kf.unjudged.has(name)) return null;
  return kf.allowed.has(name);
}

/** The program types (among those the facts know) whose programs may call the helper or kfunc `name`. */
export function typesAllowing(name: string, facts: KernelFacts): string[] {
  const c = callee(name, facts);
  if (!c) return [];
  const out: string[] = [];
  if (c.kind === 'helper') {
    for (const [type, set] of facts.helpers) if (!('error' in set) && set.has(c.doc.id)) out.push(type);
  } else {
    for (const [type, set] of facts.kfuncs?.byType ?? []) {
      if (!('error' in set) && set.allowed.has(name)) out.push(type === 'tracing' ? 'tracing (tp_btf)' : type);
    }
  }
  return out.sort();
}

function checkHelpers(model: SourceModel, f: FunctionDef, m: SectionMatch, facts: KernelFacts): CheckDiagnostic[] {
  const out: CheckDiagnostic[] = [];
  const said = new Set<string>();
  // A function of the source's own shadows a kfunc of that name (helpers cannot be shadowed).
  const own = new Set(model.functions.map((x) => x.name));
  for (const { call, in: where } of reachableCalls(model, f)) {
    const c = callee(call.name, facts);
    if (!c || (c.kind === 'kfunc' && own.has(call.name))) continue;
    if (mayCall(m, call.name, facts) !== false) continue;
    // A call in a subprogram shared by several programs is said once per program, at the call.
    const key = `${call.span.start}`;
    if (said.has(key)) continue;
    said.add(key);
    const may = typesAllowing(call.name, facts);
    const alternatives = alternativesFor(call.name, callableIn(m.progType, c.kind, facts));
    out.push(
      diag(
        call.span,
        'helper-not-allowed',
        `${call.name}${c.kind === 'kfunc' ? ' (a kfunc)' : ''} may not be called from ${m.progType} programs ` +
          `(SEC("${f.section!.name}") ${f.name}${where !== f ? `, through ${where.name}` : ''}); the kernel rejects the load. ` +
          (may.length > 0
            ? `Program types that may call it: ${may.join(', ')}.`
            : `No program type here may call it.`) +
          (alternatives.length > 0 ? ` In ${m.progType} programs, consider ${alternatives.join(', ')}.` : ''),
        f.name,
      ),
    );
  }
  return out;
}

/** The helpers (or kfuncs) a program of `progType` may call. */
function callableIn(progType: string, kind: 'helper' | 'kfunc', facts: KernelFacts): string[] {
  if (kind === 'helper') {
    const allowed = facts.helpers.get(progType);
    return allowed && !('error' in allowed) ? HELPERS.filter((h) => allowed.has(h.id)).map((h) => h.name) : [];
  }
  const kf = facts.kfuncs?.byType.get(progType);
  return kf && !('error' in kf) ? [...kf.allowed] : [];
}

/** Names among `candidates` that share most words with `name` (e.g. probe_read → probe_read_kernel; dynptr_from_skb → dynptr_from_xdp). */
function alternativesFor(name: string, candidates: string[]): string[] {
  const words = (n: string): string[] => n.replace(/^bpf_/, '').split('_').filter(Boolean);
  const mine = new Set(words(name));
  const scored = candidates
    .filter((x) => x !== name)
    .map((x) => {
      const theirs = words(x);
      const shared = theirs.filter((w) => mine.has(w)).length;
      return { name: x, score: shared / Math.max(mine.size, theirs.length) };
    })
    .filter((x) => x.score >= 0.5)
    .sort((a, b) => b.score - a.score || a.name.localeCompare(b.name));
  return scored.slice(0, 3).map((x) => x.name);
}

/** Up to three names a near miss of `name` (the same distance and tolerance as section names). */
function nearest(name: string, names: Iterable<string>): string[] {
  const limit = tolerance(name);
  const found: { n: string; d: number }[] = [];
  for (const n of names) {
    if (Math.abs(n.length - name.length) > limit) continue;
    const d = editDistance(name, n);
    if (d <= limit) found.push({ n, d });
  }
  return found
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, 3)
    .map((x) => x.n);
}

// ---------------------------------------------------------------------------------------------
// Map definitions: what libbpf (bpf_object__init_user_btf_maps) and the kernel's map_alloc
// checks refuse, for the map types whose rules are fixed. A size the checks cannot work out
// (a struct type) is not judged.

type Need = 'required' | 'none' | 'optional';

interface MapRule {
  key: Need;
  value: Need;
  /** Sizes the kernel accepts, when it fixes them. */
  keySizes?: number[];
  valueSizes?: number[];
  /** 'zero': must be 0 (local storage); 'optional': libbpf fills it in. */
  maxEntries: 'required' | 'zero' | 'optional';
  /** A map_flags bit the kernel requires. */
  flag?: string;
  /** Extra words for the message about the value. */
  valueWhy?: string;
}

const RULES: Record<string, MapRule> = {
  BPF_MAP_TYPE_HASH: { key: 'required', value: 'required', maxEntries: 'required' },
  BPF_MAP_TYPE_LRU_HASH: { key: 'required', value: 'required', maxEntries: 'required' },
  BPF_MAP_TYPE_PERCPU_HASH: { key: 'required', value: 'required', maxEntries: 'required' },
  BPF_MAP_TYPE_LRU_PERCPU_HASH: { key: 'required', value: 'required', maxEntries: 'required' },
  BPF_MAP_TYPE_ARRAY: { key: 'required', value: 'required', keySizes: [4], maxEntries: 'required' },
  BPF_MAP_TYPE_PERCPU_ARRAY: { key: 'required', value: 'required', keySizes: [4], maxEntries: 'required' },
  BPF_MAP_TYPE_PROG_ARRAY: {
    key: 'optional',
    value: 'optional',
    keySizes: [4],
    valueSizes: [4],
    maxEntries: 'required',
  },
  BPF_MAP_TYPE_PERF_EVENT_ARRAY: {
    key: 'optional',
    value: 'optional',
    keySizes: [4],
    valueSizes: [4],
    maxEntries: 'optional',
  },
  BPF_MAP_TYPE_CGROUP_ARRAY: {
    key: 'required',
    value: 'required',
    keySizes: [4],
    valueSizes: [4],
    maxEntries: 'required',
  },
  BPF_MAP_TYPE_STACK_TRACE: { key: 'required', value: 'required', keySizes: [4], maxEntries: 'required' },
  BPF_MAP_TYPE_DEVMAP: {
    key: 'required',
    value: 'required',
    keySizes: [4],
    valueSizes: [4, 8],
    maxEntries: 'required',
  },
  BPF_MAP_TYPE_DEVMAP_HASH: {
    key: 'required',
    value: 'required',
    keySizes: [4],
    valueSizes: [4, 8],
    maxEntries: 'required',
  },
  BPF_MAP_TYPE_CPUMAP: {
    key: 'required',
    value: 'required',
    keySizes: [4],
    valueSizes: [4, 8],
    maxEntries: 'required',
  },
  BPF_MAP_TYPE_XSKMAP: { key: 'required', value: 'required', keySizes: [4], valueSizes: [4], maxEntries: 'required' },
  BPF_MAP_TYPE_SOCKMAP: {
    key: 'required',
    value: 'required',
    keySizes: [4],
    valueSizes: [4, 8],
    maxEntries: 'required',
    valueWhy: 'a socket: 4 bytes (an fd), or 8 (an fd in, its cookie out)',
  },
  BPF_MAP_TYPE_SOCKHASH: {
    key: 'required',
    value: 'required',
    valueSizes: [4, 8],
    maxEntries: 'required',
    valueWhy: 'a socket: 4 bytes (an fd), or 8 (an fd in, its cookie out)',
  },
  BPF_MAP_TYPE_QUEUE: { key: 'none', value: 'required', maxEntries: 'required' },
  BPF_MAP_TYPE_STACK: { key: 'none', value: 'required', maxEntries: 'required' },
  BPF_MAP_TYPE_BLOOM_FILTER: { key: 'none', value: 'required', maxEntries: 'required' },
  BPF_MAP_TYPE_LPM_TRIE: { key: 'required', value: 'required', maxEntries: 'required', flag: 'BPF_F_NO_PREALLOC' },
  BPF_MAP_TYPE_RINGBUF: { key: 'none', value: 'none', maxEntries: 'required' },
  BPF_MAP_TYPE_USER_RINGBUF: { key: 'none', value: 'none', maxEntries: 'required' },
  BPF_MAP_TYPE_SK_STORAGE: {
    key: 'required',
    value: 'required',
    keySizes: [4],
    maxEntries: 'zero',
    flag: 'BPF_F_NO_PREALLOC',
  },
  BPF_MAP_TYPE_INODE_STORAGE: {
    key: 'required',
    value: 'required',
    keySizes: [4],
    maxEntries: 'zero',
    flag: 'BPF_F_NO_PREALLOC',
  },
  BPF_MAP_TYPE_TASK_STORAGE: {
    key: 'required',
    value: 'required',
    keySizes: [4],
    maxEntries: 'zero',
    flag: 'BPF_F_NO_PREALLOC',
  },
  BPF_MAP_TYPE_CGRP_STORAGE: {
    key: 'required',
    value: 'required',
    keySizes: [4],
    maxEntries: 'zero',
    flag: 'BPF_F_NO_PREALLOC',
  },
};

/** Sizes of the scalar types maps are usually keyed and valued by (x86-64, as BPF sees them). */
const SCALAR_SIZES: Record<string, number> = {};
for (const [size, names] of [
  [1, '__u8 __s8 u8 s8 char _Bool bool'],
  [2, '__u16 __s16 u16 s16 short __be16 __le16'],
  [4, '__u32 __s32 u32 s32 int __be32 __le32 __wsum float pid_t uid_t gid_t'],
  [8, '__u64 __s64 u64 s64 long __be64 __le64 double size_t __kernel_size_t'],
] as const)
  for (const n of names.split(' ')) SCALAR_SIZES[n] = size;

/** The size of a type as written in __type(…) or sizeof(…), when it is a known scalar, an array of one or a pointer. */
export function scalarSize(type: string): number | null {
  let t = type
    .replace(/\b(const|volatile)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (t.endsWith('*')) return 8;
  const arr = /^(.*?)\s*\[([^\]]+)\]$/.exec(t);
  if (arr) {
    const el = scalarSize(arr[1]!);
    const n = evalInt(arr[2]!);
    return el === null || n === null ? null : el * n;
  }
  t = t.replace(/^(unsigned|signed) ?/, '');
  if (t === '') return 4; // "unsigned" alone
  if (/^long( long)?( int)?$/.test(t)) return 8;
  if (t === 'short int') return 2;
  return SCALAR_SIZES[t] ?? null;
}

/** A small integer expression as map fields are written (`256 * 1024`, `1 << 24`, `(64)`), or null. */
export function evalInt(expr: string): number | null {
  const src = expr.replace(/\b(\d+)[uUlL]+\b/g, '$1').trim();
  if (!/^[\d\sxXa-fA-F+\-*/()<>]+$/.test(src)) return null;
  let pos = 0;
  const peek = (): string => src.slice(pos).trimStart()[0] ?? '';
  const skip = (): void => {
    while (src[pos] === ' ') pos++;
  };
  const num = (): number | null => {
    skip();
    if (src[pos] === '(') {
      pos++;
      const v = shift();
      skip();
      if (src[pos] !== ')') return null;
      pos++;
      return v;
    }
    const m = /^(0[xX][0-9a-fA-F]+|\d+)/.exec(src.slice(pos));
    if (!m) return null;
    pos += m[0].length;
    return Number(m[0]);
  };
  const mul = (): number | null => {
    let v = num();
    while (v !== null && (peek() === '*' || peek() === '/')) {
      skip();
      const op = src[pos++];
      const r = num();
      if (r === null || (op === '/' && r === 0)) return null;
      v = op === '*' ? v * r : Math.floor(v / r);
    }
    return v;
  };
  const add = (): number | null => {
    let v = mul();
    while (v !== null && (peek() === '+' || peek() === '-')) {
      skip();
      const op = src[pos++];
      const r = mul();
      if (r === null) return null;
      v = op === '+' ? v + r : v - r;
    }
    return v;
  };
  const shift = (): number | null => {
    let v = add();
    while (v !== null && src.slice(pos).trimStart().startsWith('<<')) {
      skip();
      pos += 2;
      const r = add();
      if (r === null) return null;
      v = v * 2 ** r;
    }
    return v;
  };
  const v = shift();
  skip();
  return v !== null && pos === src.length && Number.isSafeInteger(v) ? v : null;
}

/** The size a key or value field gives: `__type(key, T)` or `__uint(key_size, N | sizeof(T))`. */
function sizeOfField(f: MapField): number | null {
  if (f.macro === '__type') return scalarSize(f.value);
  const s = /^sizeof\s*\((.*)\)$/.exec(f.value);
  return s ? scalarSize(s[1]!) : evalInt(f.value);
}

function checkMap(map: MapDef): CheckDiagnostic[] {
  const out: CheckDiagnostic[] = [];
  const bad = (span: Span, message: string, fixes?: CheckFix[]): void => {
    out.push(diag(span, 'bad-map-definition', `map ${map.name}: ${message}`, null, fixes));
  };
  if (map.section.name === 'maps') {
    bad(
      map.section.nameSpan,
      `${unsupportedSection('maps') ?? ''}: define it as a BTF map, struct { __uint(type, …); … } NAME SEC(".maps")`,
    );
    return out;
  }
  const field = (...names: string[]): MapField | undefined => map.fields.find((f) => names.includes(f.field));
  const type = field('type');
  if (!type) {
    bad(map.nameSpan, 'it has no type (__uint(type, BPF_MAP_TYPE_…)); libbpf refuses a map without one');
    return out;
  }
  const rule = RULES[type.value];
  if (!rule) return out; // a type whose rules are not fixed here: not judged
  const short = type.value.replace(/^BPF_MAP_TYPE_/, '').toLowerCase();
  for (const part of ['key', 'value'] as const) {
    const need = rule[part];
    const f = field(part, `${part}_size`);
    const sizes = part === 'key' ? rule.keySizes : rule.valueSizes;
    const why = part === 'value' && rule.valueWhy ? ` (${rule.valueWhy})` : '';
    if (!f && need === 'required' && !(part === 'value' && field('values'))) {
      bad(map.nameSpan, `a ${short} map needs a ${part} (__type(${part}, …) or __uint(${part}_size, …))${why}`);
    } else if (f && need === 'none') {
      bad(f.span, `a ${short} map has no ${part}; the kernel refuses a ${part} size other than 0: remove this field`);
    } else if (f && sizes) {
      const size = sizeOfField(f);
      if (size !== null && !sizes.includes(size))
        bad(f.span, `the ${part} of a ${short} map must be ${sizes.join(' or ')} bytes${why}; ${f.value} is ${size}`);
    }
  }
  const max = field('max_entries');
  const n = max ? evalInt(max.value) : null;
  if (rule.maxEntries === 'required') {
    if (!max) bad(map.nameSpan, `it has no max_entries; the kernel refuses a ${short} map of 0 entries`);
    else if (n === 0) bad(max.span, `max_entries is 0; the kernel refuses a ${short} map of 0 entries`);
    else if (n !== null && /RINGBUF$/.test(type.value) && (n < 4096 || (n & (n - 1)) !== 0 || n % 4096 !== 0))
      bad(
        max.span,
        `max_entries of a ring buffer is its size in bytes: a power of 2 and a multiple of 4096; ${n} is not`,
      );
  } else if (rule.maxEntries === 'zero' && max && n !== null && n !== 0) {
    bad(max.span, `a ${short} map takes no max_entries (it must be 0: the storage lives with its owner)`);
  }
  if (rule.flag) {
    const flags = field('map_flags');
    if (!flags || !flags.value.includes(rule.flag))
      bad(flags?.span ?? map.nameSpan, `a ${short} map needs ${rule.flag} in map_flags; the kernel refuses it without`);
  }
  return out;
}
