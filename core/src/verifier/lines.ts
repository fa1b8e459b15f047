/**
 * Line-level reading of a kernel verifier log, pure and dependency-free (the log explorer
 * webview imports it too): what kind each line is, and the fields of instruction, source and
 * stats lines. Formats as printed by Linux 6.x at log levels 1 and 2:
 *   "12: (0f) r0 += r1                    ; R0_w=map_value(...) R1=..."   instruction (+ state)
 *   "; v->slots[fd] += 1; @ buggy.bpf.c:22"                            source annotation
 *   "12: R0=ctx() R10=fp0"                                              full state (level 2)
 *   "from 8 to 15: R0=... "                                             branch taken
 *   "processed 11 insns (limit 1000000) max_states_per_insn 0 total_states 0 ..."
 */

import type { LogLineKind } from './model';

const INSN = /^(\d+): \((\w\w)\) (.*?)(?:\s+; (.*))?$/;
const STATE = /^(\d+): (?:frame\d+: )?R\d/;
const SOURCE = /^; (.*?)(?: @ ([^\s:]+):(\d+))?$/;
const BRANCH = /^from \d+ to \d+:/;
const CALL = /^(caller:|callee:|func#\d+ @\d+|Func#\d+|returning from callee:|\s*frame\d+:)/;
const STATS = /^(processed \d+ insns|verification time|stack depth|max_states_per_insn)/;

export function classifyLine(line: string): LogLineKind {
  if (INSN.test(line)) return 'insn';
  if (line.startsWith(';')) return 'source';
  if (STATE.test(line)) return 'state';
  if (BRANCH.test(line)) return 'branch';
  if (CALL.test(line)) return 'call';
  if (STATS.test(line)) return 'stats';
  return 'other';
}

/**
 * A jump after which level 1 resumes a walk (erased paths are not logged) ends in the state
 * at the resume point: "6: (15) if r1 == 0x0 goto pc+1 8: R0=2 ...".
 */
const RESUME_STATE = /^(.*\S) (\d+): ((?:frame\d+: )?R\d.*)$/;

export interface InsnLine {
  insn: number;
  /** e.g. "(0f) r0 += r1" */
  text: string;
  /** what follows " ; " (the state after the instruction), or "" */
  state: string;
  /** Where and in what state the walk resumes after this jump, when the line says so. */
  resume: { insn: number; state: string } | null;
}

export function parseInsnLine(line: string): InsnLine | null {
  const m = INSN.exec(line);
  if (!m) return null;
  const insn = Number(m[1]);
  const text = `(${m[2]}) ${(m[3] ?? '').trimEnd()}`;
  const state = m[4] ?? '';
  const r = state ? null : RESUME_STATE.exec(text);
  if (!r) return { insn, text, state, resume: null };
  return { insn, text: r[1] ?? '', state: '', resume: { insn: Number(r[2]), state: r[3] ?? '' } };
}

export interface SourceLine {
  text: string;
  /** null for kernels that print the source text without "@ file:line" */
  file: string | null;
  line: number | null;
}

export function parseSourceLine(line: string): SourceLine | null {
  const m = SOURCE.exec(line);
  if (!m) return null;
  return { text: (m[1] ?? '').trim(), file: m[2] ?? null, line: m[3] ? Number(m[3]) : null };
}

/** The file the log's first `; … @ file:line` annotation names (the program's source), or null. */
export function annotatedFile(log: string): string | null {
  return /^; .*? @ ([^\s:/]+):\d+$/m.exec(log)?.[1] ?? null;
}

export interface StatsLine {
  insnsProcessed?: number;
  maxStatesPerInsn?: number;
  states?: number;
  peakStates?: number;
  verificationTimeUs?: number;
  stackDepth?: string;
}

export function parseStatsLine(line: string): StatsLine | null {
  let m = /^processed (\d+) insns \(limit \d+\) max_states_per_insn (\d+) total_states (\d+) peak_states (\d+)/.exec(
    line,
  );
  if (m) {
    return {
      insnsProcessed: Number(m[1]),
      maxStatesPerInsn: Number(m[2]),
      states: Number(m[3]),
      peakStates: Number(m[4]),
    };
  }
  m = /^verification time (\d+) usec/.exec(line);
  if (m) return { verificationTimeUs: Number(m[1]) };
  m = /^stack depth (.+)$/.exec(line);
  if (m) return { stackDepth: (m[1] ?? '').trim() };
  return null;
}
