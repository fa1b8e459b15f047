/**
 * Verification, declared once: the agent messages of the build-and-verify loop (`bpf/verify`,
 * `kernel/btf`) and the parsed verdict of one program (what core/src/verifier/parse.ts makes of
 * a verifier log), which the CLI prints, the extension turns into diagnostics and the log
 * explorer webview draws. Data only, no dependencies.
 */

import { request } from './messages';

// ---------------------------------------------------------------------------------------------
// bpf/verify (client → agent): load every program of an object in the node's kernel, one at
// a time and without attaching, and return each one's whole verifier log.

export interface VerifyParams {
  /** base64 ELF */
  object: string;
  objectName: string;
  /** 1 (default): instructions and state changes; 2: full state at every instruction. */
  logLevel?: 1 | 2;
}

export interface ProgramLoadResult {
  name: string;
  section: string;
  /** libbpf's program type name, e.g. "sk_msg". */
  type: string;
  /** 0 when the kernel accepted the program, else the load's errno. */
  errno: number;
  /** The whole verifier log, gzip-compressed, base64. Logs of a million lines travel well so. */
  logGz: string;
  /** Uncompressed size of the log in bytes. */
  logBytes: number;
  /** libbpf's own messages when the load failed before the verifier ran. */
  libbpfMessage: string;
}

export interface VerifyResult {
  kernel: string;
  programs: ProgramLoadResult[];
}

export const VerifyRequest = request<VerifyParams, VerifyResult>('bpf/verify');

// ---------------------------------------------------------------------------------------------
// kernel/btf (client → agent): the node's vmlinux BTF, to generate vmlinux.h for builds.
// Clients ask for the digest first ({digestOnly: true}, a few bytes) and for the BTF itself
// (megabytes) only when they have no vmlinux.h cached for that release and digest.

export interface KernelBtfParams {
  /** Only the release and the digest, without the BTF. Default false. */
  digestOnly?: boolean;
}

export interface KernelBtfResult {
  release: string;
  /** sha256 (hex) of the raw BTF, the cache key of the generated vmlinux.h. */
  sha256: string;
  /** /sys/kernel/btf/vmlinux, gzip-compressed, base64; absent when `digestOnly` was asked. */
  btfGz?: string;
}

export const KernelBtfRequest = request<KernelBtfParams, KernelBtfResult>('kernel/btf');

// ---------------------------------------------------------------------------------------------
// The verdict of one program, parsed from its verifier log.

/** The classes of rejection we explain; the diagnostic code names the class. */
export type VerifierClass =
  | 'null-check' // dereference of a map value / pointer that may be NULL
  | 'out-of-bounds' // access beyond a map value, stack slot, context or memory region
  | 'unbounded-index' // pointer arithmetic with a register whose bounds are unknown
  | 'uninit-stack' // read of stack memory that was never written
  | 'packet-access' // packet data accessed without checking it against data_end
  | 'helper-not-allowed' // helper or kfunc not allowed for this program type
  | 'bad-return' // return value outside the range the program type allows
  | 'loop-complexity' // unbounded loop, back-edge, or the 1M-instruction / state limit
  | 'unreleased-reference' // acquired reference (socket, ringbuf record, ...) not released
  | 'invalid-context' // bad access to the program's context
  | 'other';

export interface SourceLocation {
  /** As the log names it: the file's basename (e.g. "bypass.bpf.c"). */
  file: string;
  /** 1-based. */
  line: number;
  /** The source text the kernel printed (trimmed). */
  text: string;
}

/** One log line, classified; the explorer renders these. */
export type LogLineKind =
  | 'insn' // "12: (0f) r0 += r1   ; R0=..."
  | 'source' // "; v->slots[fd] += 1; @ file.bpf.c:22"
  | 'state' // "12: R0=... R10=fp0" (a full state line, level 2 or at a branch)
  | 'branch' // "from 8 to 15: ..."
  | 'call' // "caller:" / "callee:" / "func#1 @12"
  | 'error' // the verifier's reason(s) at the end of a rejected program
  | 'stats' // "processed N insns ..." / "verification time" / "stack depth"
  | 'other';

export interface Instruction {
  /** The instruction index (BPF insn number, ld_imm64 counts as 2). */
  insn: number;
  /** The disassembly, e.g. "(0f) r0 += r1". */
  text: string;
  /** The register/stack state printed after it (after ';'), if any. */
  state: string;
  /** 0-based line of the log this instruction is on. */
  logLine: number;
  /** Where in the source this instruction is (parse.ts decides; see its header). */
  source: SourceLocation | null;
  /** Call depth (0 = the program's main function). */
  frame: number;
}

export interface VerifierError {
  /** The verifier's reason, the error lines joined (e.g. "R0 invalid mem access 'map_value_or_null'"). */
  message: string;
  class: VerifierClass;
  /** A one-line explanation of the class for people, with the usual fix. */
  explanation: string;
  /** The failing instruction (the last numbered instruction before the error), or null. */
  insn: number | null;
  /** 0-based log line of the failing instruction, or of the error if there is none. */
  logLine: number;
  /** Where in the source: from `@ file:line`, else matched source text, else BTF line info. */
  location: SourceLocation | null;
  /** How the location was found. */
  locatedBy: 'annotation' | 'source-text' | 'btf-line-info' | null;
  /** Register/stack state at the failing instruction (the last state the log printed for it). */
  registers: string;
  /** Source lines on the path that led to the error, oldest first, without the error line itself. */
  path: SourceLocation[];
}

export interface ProgramVerdict {
  name: string;
  /** ELF section, e.g. "sk_msg", "tracepoint/syscalls/sys_enter_read"; "" when unknown (a log read from a file). */
  section: string;
  verdict: 'accepted' | 'rejected';
  /** From "processed N insns (limit ...) max_states_per_insn A total_states B peak_states C ...". */
  insnsProcessed: number | null;
  states: number | null;
  peakStates: number | null;
  maxStatesPerInsn: number | null;
  /** From "verification time N usec" / "stack depth N" (log level 4), when present. */
  verificationTimeUs: number | null;
  stackDepth: string | null;
  error: VerifierError | null;
}
