/**
 * The agent's side of editing help (protocol/src/editing.ts): which helpers each program type
 * may call, from libbpf's helper probes, which kfuncs, from the addon's kfunc probe (the
 * verifier's verdict on a call per type), and whether tracepoints and uprobe symbols exist, from
 * tracefs and the binaries' ELF symbol tables (symbols/elf.ts, the reader profiling uses).
 * Nothing here attaches, writes a file or keeps one open: a helper probe loads a two-instruction
 * program that the kernel frees at once. One kernel side effect remains, as with `bpftool feature
 * probe full`: a load that calls bpf_trace_printk or bpf_trace_vprintk (ids 6, 177) makes the
 * kernel enable the bpf_trace/bpf_trace_printk trace event, as any program using them does.
 *
 * HelperProbes keeps each known type's answer for the agent's lifetime (the kernel does not
 * change under it); a larger maxHelperId later probes only the ids not asked yet. libbpf's probe
 * says "allowed" whenever a load fails without naming the helper, so a type is answered only
 * when the kernel loads such programs at all and refuses a helper id no kernel has; otherwise
 * it gets an `error`, never a list of guesses.
 */

import { existsSync, statSync } from 'node:fs';
import { release } from 'node:os';
import {
  ErrorCode,
  KERNEL_HELPERS_LIMITS,
  type KernelHelpersParams,
  type KernelHelpersResult,
  type KernelKfuncsParams,
  type KernelKfuncsResult,
  type ProgTypeKfuncs,
  type KernelTargetsParams,
  type KernelTargetsResult,
  type ProgTypeHelpers,
  type UprobeBinaryState,
  type UprobeTarget,
  type UprobeTargetState,
} from '@dfs/protocol';
import { AgentError, fromNative } from './errors';
import type { AgentLog } from './log';
import type { Addon } from './native';
import {
  definedFunctionAt,
  type ElfFile,
  fileSource,
  MAX_READ,
  parseElf,
  SHT_DYNSYM,
  SHT_SYMTAB,
  SYMBOL_BYTES,
} from './symbols/elf';

/** A helper id no kernel has: a probe that calls it "allowed" cannot tell allowed from refused. */
const NO_SUCH_HELPER = KERNEL_HELPERS_LIMITS.maxHelperId;
const EOPNOTSUPP = 95;

/** What the probes said about one program type: allowed ids among 1..probedUpTo, or why not. */
type TypeAnswer = { allowed: number[]; probedUpTo: number } | { error: string };

function ids(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** The first negative probe result as a sentence, or undefined when every probe could tell. */
function probeFailure(progType: string, results: number[]): string | undefined {
  const failed = results.find((r) => r < 0);
  if (failed === undefined) return undefined;
  if (failed === -EOPNOTSUPP) {
    return `libbpf cannot probe helpers for ${progType} programs, which load only against an attach target (EOPNOTSUPP)`;
  }
  return `libbpf's helper probe for ${progType} programs failed (errno ${-failed})`;
}

/** One log line for the loads a request made, when it made any. */
function logProbes(log: AgentLog, what: string, loads: number, types: number, started: number, opId: number): void {
  if (loads === 0) return;
  const ms = (performance.now() - started).toFixed(1);
  log.info('kernel', `${what} probes: ${loads} loads for ${types} program types in ${ms} ms`, opId);
}

export class HelperProbes {
  private readonly answers = new Map<string, TypeAnswer>();

  constructor(
    private readonly addon: Addon,
    private readonly log: AgentLog,
  ) {}

  answer(p: KernelHelpersParams, opId: number): KernelHelpersResult {
    const started = performance.now();
    let probes = 0;
    const types = p.progTypes.map((progType): ProgTypeHelpers => {
      const { answer, probed } = this.probe(progType, p.maxHelperId);
      probes += probed;
      if ('error' in answer) return { progType, error: answer.error };
      return { progType, allowed: answer.allowed.filter((id) => id <= p.maxHelperId) };
    });
    logProbes(this.log, 'helper', probes, p.progTypes.length, started, opId);
    return { release: release(), types };
  }

  /** This type's answer up to `upTo`, probing what is not known yet; `probed` counts the loads. */
  private probe(progType: string, upTo: number): { answer: TypeAnswer; probed: number } {
    const known = this.answers.get(progType);
    if (known && ('error' in known || known.probedUpTo >= upTo)) return { answer: known, probed: 0 };
    if (known) {
      // More ids of a type already answered: only those, the checks below were made then.
      const more = ids(known.probedUpTo + 1, upTo);
      const results = this.probeHelpers(progType, more);
      const failure = probeFailure(progType, results);
      const answer: TypeAnswer = failure
        ? { error: failure }
        : { allowed: [...known.allowed, ...more.filter((_, i) => results[i] === 1)], probedUpTo: upTo };
      this.answers.set(progType, answer);
      return { answer, probed: more.length };
    }
    let loads: number;
    try {
      loads = this.addon.probeProgType(progType);
    } catch (err) {
      // Not kept: any string may come, while the names libbpf knows are few.
      if (err instanceof RangeError) {
        return {
          answer: { error: `libbpf ${this.addon.libbpfVersion()} knows no program type "${progType}"` },
          probed: 0,
        };
      }
      throw fromNative(err, `probing ${progType} programs`);
    }
    const asked = ids(1, upTo);
    const withCanary = upTo < NO_SUCH_HELPER ? [...asked, NO_SUCH_HELPER] : asked;
    const results = this.probeHelpers(progType, withCanary);
    const answer = this.judge(progType, loads, asked, results);
    this.answers.set(progType, answer);
    return { answer, probed: 1 + withCanary.length };
  }

  private judge(progType: string, loads: number, asked: number[], results: number[]): TypeAnswer {
    // EOPNOTSUPP first: libbpf's type probe says 0 for tracing on our 6.18 (it tries fentry, which
    // that kernel refuses, while it loads tp_btf, also tracing), but the reason a tracing, ext,
    // lsm or struct_ops type gets no list on any kernel is that libbpf will not probe it.
    const failure = probeFailure(progType, results);
    if (failure) return { error: failure };
    if (loads === 0) return { error: `this kernel does not load ${progType} programs` };
    if (loads < 0)
      return { error: `libbpf cannot tell whether this kernel loads ${progType} programs (errno ${-loads})` };
    if (results[results.length - 1] === 1) {
      return {
        error: `the helper probe cannot tell for ${progType} programs: it calls helper ${NO_SUCH_HELPER}, which no kernel has, allowed`,
      };
    }
    return { allowed: asked.filter((_, i) => results[i] === 1), probedUpTo: asked.length };
  }

  private probeHelpers(progType: string, helperIds: number[]): number[] {
    try {
      return this.addon.probeHelpers(progType, helperIds);
    } catch (err) {
      throw fromNative(err, `probing the helpers of ${progType} programs`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// kernel/kfuncs

/** The addon's verdicts (native.ts probeKfuncs). */
const KFUNC_ALLOWED = 1;
const KFUNC_NOT_IN_BTF = -1;
const KFUNC_NO_VERDICT = -2;

/**
 * What the kfunc probes said, per type and name (true may call, false may not, null no
 * verdict), kept for the agent's lifetime: a second request probes only the names not asked
 * yet. A type gets an `error` when no name got a verdict (the kernel will not load such a
 * program without a target); names without a verdict in a type that gave others (the
 * device-bound XDP metadata kfuncs) are `unjudged`.
 */
export class KfuncProbes {
  /** Per type: name → may call (true), may not (false), no verdict (null). */
  private readonly answers = new Map<string, Map<string, boolean | null>>();
  /** Per type: the first load's reason for giving no verdict. */
  private readonly unclear = new Map<string, string>();

  constructor(
    private readonly addon: Addon,
    private readonly log: AgentLog,
  ) {}

  answer(p: KernelKfuncsParams, opId: number): KernelKfuncsResult {
    const started = performance.now();
    let probes = 0;
    // Names vmlinux BTF has no function of are not kept (a client sending made-up names cannot
    // grow what the agent holds): every probe of this request looks them up again, cheaply.
    const missing = new Set<string>();
    const types = p.progTypes.map((progType): ProgTypeKfuncs => {
      const probed = this.probe(progType, p.names, missing);
      if (typeof probed === 'string') return { progType, error: probed };
      probes += probed;
      const answer = this.answers.get(progType)!;
      const asked = p.names.filter((n) => answer.has(n));
      // No verdict on any name ever asked: the kernel would not load such a program at all.
      if (asked.length > 0 && ![...answer.values()].some((v) => v !== null)) {
        return {
          progType,
          error: `this kernel gave no verdict on a kfunc call in ${progType} programs (the probe load failed first: ${this.unclear.get(progType) ?? 'no reason given'})`,
        };
      }
      const unjudged = asked.filter((n) => answer.get(n) === null);
      return {
        progType,
        allowed: asked.filter((n) => answer.get(n) === true),
        ...(unjudged.length > 0 ? { unjudged } : {}),
      };
    });
    logProbes(this.log, 'kfunc', probes, p.progTypes.length, started, opId);
    return { release: release(), types, missing: p.names.filter((n) => missing.has(n)) };
  }

  /** Probes the names not asked yet for this type; the loads made, or why the type cannot be asked. */
  private probe(progType: string, names: string[], missing: Set<string>): number | string {
    const known = this.answers.get(progType) ?? new Map<string, boolean | null>();
    const fresh = [...new Set(names.filter((n) => !known.has(n)))];
    if (fresh.length === 0) return 0;
    let result: { verdicts: number[]; unclear: string | null };
    try {
      result = this.addon.probeKfuncs(progType, fresh);
    } catch (err) {
      // params.ts checked every name, so a RangeError is about the type (not kept: any string
      // may come, while the names libbpf knows are few).
      if (err instanceof RangeError) return `libbpf ${this.addon.libbpfVersion()} knows no program type "${progType}"`;
      throw fromNative(err, `probing the kfuncs of ${progType} programs`);
    }
    fresh.forEach((name, i) => {
      const v = result.verdicts[i];
      if (v === KFUNC_NOT_IN_BTF) missing.add(name);
      else known.set(name, v === KFUNC_NO_VERDICT ? null : v === KFUNC_ALLOWED);
    });
    if (result.unclear !== null && !this.unclear.has(progType)) this.unclear.set(progType, result.unclear);
    this.answers.set(progType, known);
    return fresh.filter((n) => !missing.has(n)).length;
  }
}

// ---------------------------------------------------------------------------------------------
// kernel/targets

/** tracefs's events, where it is mounted now, else where debugfs mounts it. */
const TRACEFS_EVENTS = ['/sys/kernel/tracing/events', '/sys/kernel/debug/tracing/events'];

function tracefsEvents(): string {
  const dir = TRACEFS_EVENTS.find((d) => existsSync(d));
  if (!dir) {
    throw new AgentError(
      ErrorCode.KernelFeatureMissing,
      'tracefs is mounted at neither /sys/kernel/tracing nor /sys/kernel/debug/tracing, so tracepoints cannot be looked up',
    );
  }
  return dir;
}

/**
 * Where each wanted name starts in a string table: wherever its bytes end in a NUL, since a
 * string table may keep "foo" as the tail of "barfoo". Searching the raw table costs a memmem per
 * name, where decoding every name of a large binary (node: 150,000) takes a quarter second.
 */
function nameOffsets(strings: Buffer, wanted: Iterable<string>): Map<number, string> {
  const at = new Map<number, string>();
  for (const name of wanted) {
    const needle = Buffer.from(`${name}\0`);
    for (let i = strings.indexOf(needle); i >= 0; i = strings.indexOf(needle, i + 1)) at.set(i, name);
  }
  return at;
}

/** Which of `wanted` the symbol tables (.symtab and .dynsym) of `elf` define as functions (definedFunctionAt). */
function definedFunctions(elf: ElfFile, wanted: Set<string>): Set<string> {
  const defined = new Set<string>();
  for (const table of elf.sections.filter((s) => s.type === SHT_SYMTAB || s.type === SHT_DYNSYM)) {
    const strings = elf.sections[table.link];
    if (!strings || table.size > MAX_READ || strings.size > MAX_READ) continue;
    const names = elf.source.read(strings.offset, strings.size);
    const offsets = names
      ? nameOffsets(
          names,
          [...wanted].filter((n) => !defined.has(n)),
        )
      : new Map<number, string>();
    const data = offsets.size > 0 ? elf.source.read(table.offset, table.size) : undefined;
    for (let at = 0; data && at + SYMBOL_BYTES <= data.length; at += SYMBOL_BYTES) {
      const name = offsets.get(data.readUInt32LE(at));
      if (name !== undefined && definedFunctionAt(data, at) !== undefined) defined.add(name);
    }
  }
  return defined;
}

/** Which of `wanted` the binary at `path` defines as functions, after what kind of file it is. */
function binarySymbols(path: string, wanted: Set<string>): { state: UprobeBinaryState; defined: Set<string> } {
  const none = new Set<string>();
  try {
    // Only a regular file is opened: a FIFO would block the agent's only thread, a device may
    // act on open. (A file swapped for one between stat and open needs root on the node.)
    if (!statSync(path).isFile()) return { state: 'not-elf', defined: none };
  } catch {
    return { state: 'missing', defined: none };
  }
  const source = fileSource(path);
  if (!source) return { state: 'missing', defined: none };
  try {
    const elf = parseElf(source);
    return elf ? { state: 'ok', defined: definedFunctions(elf, wanted) } : { state: 'not-elf', defined: none };
  } catch {
    // Every read is bounds-checked; this guard keeps a damaged table a "cannot read", not a crash.
    return { state: 'not-elf', defined: none };
  } finally {
    source.close();
  }
}

function uprobeStates(targets: UprobeTarget[]): UprobeTargetState[] {
  // Each binary is read once, however many of its symbols are asked.
  const wanted = new Map<string, Set<string>>();
  for (const t of targets) wanted.set(t.binary, (wanted.get(t.binary) ?? new Set()).add(t.symbol));
  const read = new Map([...wanted].map(([binary, symbols]) => [binary, binarySymbols(binary, symbols)] as const));
  return targets.map((t) => {
    const { state, defined } = read.get(t.binary) ?? { state: 'missing' as const, defined: new Set<string>() };
    return { binary: state, symbol: defined.has(t.symbol) };
  });
}

/** Whether each tracepoint and uprobe target exists; reads only (params.ts checked every name). */
export function kernelTargets(p: KernelTargetsParams): KernelTargetsResult {
  const tracepoints = p.tracepoints ?? [];
  const events = tracepoints.length > 0 ? tracefsEvents() : '';
  return {
    tracepoints: tracepoints.map((name) => existsSync(`${events}/${name}/id`)),
    uprobes: uprobeStates(p.uprobes ?? []),
  };
}
