/**
 * Parsing one program's verifier log into a ProgramVerdict (model.ts): the verdict, the
 * statistics, and for a rejection the failing instruction, its source location, the kernel's
 * reason, the register state there and the source lines on the path that led to it.
 * Pure and dependency-free (no Node, no DOM): the CLI, the extension and the log explorer
 * webview all call it. Line formats come from lines.ts; the reason's class from classify.ts.
 *
 * Where an instruction is in the source: the verifier prints `; <text> @ <file>:<line>` before
 * an instruction whenever its BTF line-info record differs from the last one printed (the
 * kernel keeps one "previous line" for the whole walk), so the nearest annotation above an
 * instruction is its line, in subprograms and after branches alike. Records with line 0
 * (compiler-made code) carry no line, so the line before them stays in force. Kernels before
 * 6.9 print only `; <text>`: that text is looked up in the sources given, and failing that the
 * instruction index is looked up in the object's own BTF line info (btfLines.ts).
 *
 * One kernel quirk breaks the nearest-annotation rule: at log level 1 the kernel erases each
 * explored path that ended well, back to the branch that started it, but keeps its "previous
 * line", so the resumed path may miss the annotation it needs. Such a resume shows as a jump
 * line that ends in the target's state ("2: (55) if r1 != 0x3 goto pc+1 4: R0=1 ..."); from
 * there until the next annotation, BTF line info (when given) outranks the annotation in force.
 */

import { classify } from './classify';
import { classifyLine, parseInsnLine, parseSourceLine, parseStatsLine } from './lines';
import { BtfLookup, SourceLookup, type BtfLine, type LocatedBy } from './locate';
import type { Instruction, LogLineKind, ProgramVerdict, SourceLocation, VerifierError } from './model';

export interface ProgramRef {
  name: string;
  section: string;
  /** Whether the load failed (the caller knows from the errno). */
  rejected: boolean;
}

export interface ParseOptions {
  /** Source files by basename, for kernels whose annotations lack "@ file:line". */
  sources?: ReadonlyMap<string, string>;
  /** The loaded program's BTF line info (btfLines.ts), the last resort for locations. */
  btfLines?: readonly BtfLine[];
}

/**
 * Where each log line is in the source, as parse.ts decides it: the one rule for the
 * diagnostics and the log explorer, which draws this table and never reads annotations itself.
 */
export interface LineSources {
  /** The distinct locations, referred to by index. */
  locations: SourceLocation[];
  /**
   * One entry per log line (the log split on '\n'): an index into `locations`, or -1. An
   * instruction line has its own location; an annotation, that of the instruction it
   * annotates; a state or branch line, that of the instruction it is the state of; any other
   * line (the kernel's reason, a call, statistics), that of the instruction above it.
   */
  at: Int32Array;
}

export interface ParsedLog {
  verdict: ProgramVerdict;
  lines: LineSources;
}

/** The location the table gives log line `i`, or null. */
export function sourceOfLine(lines: LineSources, i: number): SourceLocation | null {
  return lines.locations[lines.at[i] ?? -1] ?? null;
}

/** The most source lines `path` keeps (the ones nearest the error). */
const PATH_LIMIT = 12;

/**
 * Lines that are neither reasons nor structure: states continued on indented lines, precision
 * backtracking, liveness, libbpf/bpftool framing, state dumps after "infinite loop detected",
 * and the harmless warning about an untyped (void *) context argument.
 */
const NOISE = new RegExp(
  `^(?:${[
    '\\s',
    'mark_precise:',
    'last_idx ',
    'parent ',
    'regs=',
    '\\(\\d+\\) ',
    'Live regs before insn:',
    'cur state:',
    'old state:',
    '-- (BEGIN|END) PROG LOAD LOG --',
    'libbpf: ',
    'Validating ',
    "arg#\\d+ reference type\\('UNKNOWN '\\) size cannot be determined",
    '\\d+: safe$',
    'to caller at \\d+:',
    '$',
  ].join('|')})`,
);
/** The start of a function verified on its own (a global function), which begins a new walk. */
const VALIDATING = /^Validating \S+ func#\d+\.\.\.$/;
const FRAME_PREFIX = /^\s*frame(\d+):/;
const BRANCH_STATE = /^from (\d+) to (\d+): (.*)$/;

/**
 * Whether a log read from a file is a rejection (a file does not carry the load's errno): the
 * kernel's reason follows the last instruction (the same lines findError reads), where an
 * accepted log has only statistics. Reads lines from the end without splitting the whole log.
 */
export function looksRejected(log: string): boolean {
  for (let end = log.length; end > 0;) {
    const start = log.lastIndexOf('\n', end - 1) + 1;
    const line = log.slice(start, end).trimEnd();
    end = start - 1;
    if (NOISE.test(line)) continue;
    const kind = classifyLine(line);
    if (kind === 'insn') return false;
    if (kind === 'other') return true;
  }
  return false;
}

/** The log, read once: per line its kind, and per instruction line its index, source and frame. */
interface Walk {
  lines: string[];
  kinds: LogLineKind[];
  /** Instruction index on instruction lines, -1 elsewhere. */
  insnAt: Int32Array;
  /** Index into `locations` for instruction lines with a known source, else -1. */
  sourceAt: Int32Array;
  /** Call depth on instruction lines. */
  frameAt: Int32Array;
  locations: { location: SourceLocation; by: LocatedBy }[];
  /** The index of a location in `locations`, adding it when new. */
  intern: (location: SourceLocation, by: LocatedBy) => number;
}

/** Every instruction line of a log, in log order (a loop's instructions appear once per walk). */
export function instructions(log: string, opts: ParseOptions = {}): Instruction[] {
  const walk = walkLog(log, opts);
  const out: Instruction[] = [];
  walk.kinds.forEach((kind, logLine) => {
    if (kind !== 'insn') return;
    const parsed = parseInsnLine(walk.lines[logLine] ?? '');
    if (!parsed) return;
    const source = walk.locations[walk.sourceAt[logLine] ?? -1]?.location ?? null;
    const { insn, text, state } = parsed;
    out.push({ insn, text, state, logLine, source, frame: walk.frameAt[logLine] ?? 0 });
  });
  return out;
}

/** The verdict of one program's log (parseProgramLog without the per-line table). */
export function parseVerifierLog(log: string, program: ProgramRef, opts: ParseOptions = {}): ProgramVerdict {
  return parseProgramLog(log, program, opts).verdict;
}

/** One program's log, read once: its verdict and where each of its lines is in the source. */
export function parseProgramLog(log: string, program: ProgramRef, opts: ParseOptions = {}): ParsedLog {
  const walk = walkLog(log, opts);
  const verdict: ProgramVerdict = {
    name: program.name,
    section: program.section,
    verdict: program.rejected ? 'rejected' : 'accepted',
    insnsProcessed: null,
    states: null,
    peakStates: null,
    maxStatesPerInsn: null,
    verificationTimeUs: null,
    stackDepth: null,
    error: null,
  };
  let statsLine = walk.lines.length;
  walk.kinds.forEach((kind, i) => {
    if (kind !== 'stats') return;
    const stats = parseStatsLine(walk.lines[i] ?? '');
    if (stats?.insnsProcessed !== undefined) statsLine = Math.min(statsLine, i);
    verdict.insnsProcessed = stats?.insnsProcessed ?? verdict.insnsProcessed;
    verdict.states = stats?.states ?? verdict.states;
    verdict.peakStates = stats?.peakStates ?? verdict.peakStates;
    verdict.maxStatesPerInsn = stats?.maxStatesPerInsn ?? verdict.maxStatesPerInsn;
    verdict.verificationTimeUs = stats?.verificationTimeUs ?? verdict.verificationTimeUs;
    verdict.stackDepth = stats?.stackDepth ?? verdict.stackDepth;
  });
  if (program.rejected) verdict.error = findError(walk, statsLine, opts);
  return { verdict, lines: lineSources(walk, verdict.error) };
}

/** The LineSources table of a walked log (see LineSources for the rule per kind of line). */
function lineSources(walk: Walk, error: VerifierError | null): LineSources {
  const n = walk.lines.length;
  const at = new Int32Array(n).fill(-1);
  // Backwards: annotations, states and branches take the instruction that follows them.
  let next = -1; // the log line of the next instruction line
  for (let i = n - 1; i >= 0; i--) {
    const kind = walk.kinds[i];
    if (kind === 'insn') {
      at[i] = walk.sourceAt[i] ?? -1;
      next = i;
    } else if (kind === 'source' && next >= 0) {
      at[i] = walk.sourceAt[next] ?? -1;
    } else if ((kind === 'state' || kind === 'branch') && next >= 0) {
      const target = /^(?:from \d+ to )?(\d+):/.exec(walk.lines[i] ?? '');
      if (target && Number(target[1]) === walk.insnAt[next]) at[i] = walk.sourceAt[next] ?? -1;
    }
  }
  // Forwards: every other line belongs to the instruction above it.
  let above = -1;
  for (let i = 0; i < n; i++) {
    if (walk.kinds[i] === 'insn') above = at[i] ?? -1;
    else if (VALIDATING.test(walk.lines[i] ?? '')) above = -1;
    else if (at[i] === -1 && walk.kinds[i] !== 'source') at[i] = above;
  }
  // An error found before the walk is located by its instruction's line info: its lines say so.
  if (error?.location && error.locatedBy && walk.kinds[error.logLine] !== 'insn') {
    const id = walk.intern(error.location, error.locatedBy);
    for (let i = error.logLine; i < n && walk.kinds[i] === 'other'; i++) at[i] = id;
  }
  return { locations: walk.locations.map((l) => l.location), at };
}

function findError(walk: Walk, statsLine: number, opts: ParseOptions): VerifierError {
  let failing = statsLine - 1;
  while (failing >= 0 && walk.kinds[failing] !== 'insn') failing--;
  const reasons: number[] = [];
  for (let i = failing + 1; i < statsLine; i++) {
    const line = walk.lines[i] ?? '';
    if (walk.kinds[i] === 'other' && !NOISE.test(line)) reasons.push(i);
  }
  const message = reasons.map((i) => (walk.lines[i] ?? '').trim()).join(' | ') || 'the verifier log gives no reason';
  const parsed = failing >= 0 ? parseInsnLine(walk.lines[failing] ?? '') : null;
  // Errors found before the walk (e.g. "back-edge from insn 7 to 3") name their instruction.
  const insn = parsed?.insn ?? numberAfter(message, /\binsn (\d+)/);
  let located = failing >= 0 ? walk.locations[walk.sourceAt[failing] ?? -1] : undefined;
  if (!located && failing < 0 && insn !== null) located = new BtfLookup(opts.btfLines).at(insn);
  const { class: cls, explanation } = classify(message, parsed?.text ?? '');
  return {
    message,
    class: cls,
    explanation,
    insn,
    logLine: failing >= 0 ? failing : (reasons[0] ?? 0),
    location: located?.location ?? null,
    locatedBy: located?.by ?? null,
    registers: failing >= 0 ? registersAt(walk, failing) : '',
    path: failing >= 0 ? pathTo(walk, failing, located?.location ?? null) : [],
  };
}

function numberAfter(text: string, re: RegExp): number | null {
  const m = re.exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * The state printed for the failing instruction: on its own line after ';', else a full state
 * line for it just above (level 2, a branch target, a callee's entry), else the state printed
 * for the instruction before it.
 */
function registersAt(walk: Walk, failing: number): string {
  const own = parseInsnLine(walk.lines[failing] ?? '');
  if (!own || own.state) return own?.state ?? '';
  for (let i = failing - 1; i >= 0; i--) {
    const line = walk.lines[i] ?? '';
    if (walk.kinds[i] === 'state') {
      const m = /^(\d+): (.*)$/.exec(line);
      if (m && Number(m[1]) === own.insn) return m[2] ?? '';
    } else if (walk.kinds[i] === 'branch') {
      const m = BRANCH_STATE.exec(line);
      if (m && Number(m[2]) === own.insn) return m[3] ?? '';
    } else if (walk.kinds[i] === 'insn') {
      const before = parseInsnLine(line);
      return before?.resume?.insn === own.insn ? before.resume.state : (before?.state ?? '');
    }
  }
  return '';
}

/**
 * Source lines on the path to the failing instruction, oldest first, without the error's own
 * line. The walk is depth first: "from X to Y" starts a path that was pushed at branch X, so
 * the part before it is the walk that last reached X; that is followed back until the path
 * holds enough lines or the walk's start is reached.
 */
function pathTo(walk: Walk, failing: number, at: SourceLocation | null): SourceLocation[] {
  const newestFirst: SourceLocation[] = [];
  const seen = new Set<string>(at ? [`${at.file}:${at.line}`] : []);
  let i = failing - 1;
  while (i >= 0 && newestFirst.length < PATH_LIMIT) {
    const kind = walk.kinds[i];
    const line = walk.lines[i] ?? '';
    if (kind === 'insn') {
      const location = walk.locations[walk.sourceAt[i] ?? -1]?.location;
      const key = location ? `${location.file}:${location.line}` : '';
      if (location && !seen.has(key)) {
        seen.add(key);
        newestFirst.push(location);
      }
      i--;
    } else if (kind === 'branch') {
      const from = numberAfter(line, /^from (\d+) to/);
      i = lastInsnBefore(walk, i, from);
    } else if (VALIDATING.test(line)) {
      break;
    } else {
      i--;
    }
  }
  return newestFirst.reverse();
}

/** The log line of the last walk of instruction `insn` above line `before` (in the same walk), or -1. */
function lastInsnBefore(walk: Walk, before: number, insn: number | null): number {
  for (let i = before - 1; i >= 0; i--) {
    if (walk.insnAt[i] === insn) return i;
    if (VALIDATING.test(walk.lines[i] ?? '')) return -1;
  }
  return -1;
}

function walkLog(log: string, opts: ParseOptions): Walk {
  const lines = log.split('\n');
  const byKey = new Map<string, number>();
  const walk: Walk = {
    lines,
    kinds: lines.map(classifyLine),
    insnAt: new Int32Array(lines.length).fill(-1),
    sourceAt: new Int32Array(lines.length).fill(-1),
    frameAt: new Int32Array(lines.length),
    locations: [],
    intern: (location, by) => {
      const key = `${by}|${location.file}|${location.line}|${location.text}`;
      let id = byKey.get(key);
      if (id === undefined) {
        id = walk.locations.push({ location, by }) - 1;
        byKey.set(key, id);
      }
      return id;
    },
  };
  const intern = walk.intern;
  const lookup = new SourceLookup(opts.sources);
  const btf = new BtfLookup(opts.btfLines);
  let current = -1; // the location in force (an index into walk.locations)
  let stale = false; // the walk resumed after an erased path, and no annotation came since
  let frame = 0;
  let stateFollows = false; // the line after "caller:"/"callee:" is a state that names its frame
  lines.forEach((line, i) => {
    const kind = walk.kinds[i];
    if (stateFollows) frame = frameOf(line);
    stateFollows = /^(caller:|callee:|returning from callee:|to caller at \d+:)$/.test(line);
    if (VALIDATING.test(line)) {
      frame = 0;
      current = -1;
    } else if (kind === 'source') {
      const src = parseSourceLine(line);
      if (!src || src.line === 0 || (src.text === '' && src.file === null)) return;
      stale = false;
      if (src.file !== null && src.line !== null) {
        current = intern({ file: src.file, line: src.line, text: src.text }, 'annotation');
      } else {
        const found = lookup.find(src.text);
        current = found ? intern(found, 'source-text') : -1;
      }
    } else if (kind === 'state') {
      frame = frameOf(line.replace(/^\d+: /, ''));
    } else if (kind === 'branch') {
      frame = frameOf(BRANCH_STATE.exec(line)?.[3] ?? '');
    } else if (kind === 'insn') {
      const parsed = parseInsnLine(line);
      if (!parsed) return;
      if (parsed.state) frame = frameOf(parsed.state);
      walk.insnAt[i] = parsed.insn;
      walk.frameAt[i] = frame;
      const fromBtf = current < 0 || stale ? btf.at(parsed.insn) : undefined;
      walk.sourceAt[i] = fromBtf ? intern(fromBtf.location, fromBtf.by) : current;
      if (parsed.resume) {
        frame = frameOf(parsed.resume.state);
        stale = true;
      }
    }
  });
  return walk;
}

function frameOf(state: string): number {
  return Number(FRAME_PREFIX.exec(state)?.[1] ?? 0);
}
