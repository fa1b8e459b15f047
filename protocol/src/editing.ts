/**
 * Editing help, declared once (issue 10): what the node's kernel accepts, asked while a BPF
 * program is edited so the editor can flag a helper that the program's type may not call, or a
 * tracepoint or uprobe target that is not there, before any build or verify. The agent only
 * probes and reads: a helper or kfunc probe loads a program of a few instructions that is never
 * attached, a target check reads tracefs and ELF symbol tables. Data only, no dependencies.
 */

import { request } from './messages';

// ---------------------------------------------------------------------------------------------
// kernel/helpers (client → agent): for each program type, the helper ids (enum bpf_func_id)
// this kernel accepts in a program of that type, by libbpf's libbpf_probe_bpf_helper. The agent
// keeps each type's answer for its lifetime: the kernel does not change under it.

export const KERNEL_HELPERS_LIMITS = {
  /** Program types in one request. */
  progTypes: 64,
  /** The largest `maxHelperId` (the last helper of 6.18 is 211). */
  maxHelperId: 4096,
} as const;

export interface KernelHelpersParams {
  /**
   * libbpf's program type names, as `libbpf_bpf_prog_type_str` spells them ("sk_msg",
   * "sock_ops", "tracepoint", "xdp"); at most 64. A name libbpf does not know gets a per-type
   * `error`, not a failed request.
   */
  progTypes: string[];
  /** Helper ids 1..maxHelperId are probed (1..4096). */
  maxHelperId: number;
}

export interface ProgTypeHelpers {
  progType: string;
  /** The helper ids in 1..maxHelperId that the kernel accepts for this type, ascending. */
  allowed?: number[];
  /**
   * Instead of `allowed`, when the kernel cannot be asked about this type (libbpf does not know
   * the name, the kernel does not load such programs, or the probe cannot tell, as for
   * "tracing"): why, in one sentence.
   */
  error?: string;
}

export interface KernelHelpersResult {
  /** The node's kernel release (uname -r). */
  release: string;
  /** One entry per requested type, in the request's order. */
  types: ProgTypeHelpers[];
}

export const KernelHelpersRequest = request<KernelHelpersParams, KernelHelpersResult>('kernel/helpers');

// ---------------------------------------------------------------------------------------------
// kernel/kfuncs (client → agent): for each program type, which of the named kfuncs the kernel
// lets a program of that type call. The kernel registers kfuncs per program type in BTF id sets
// that /sys/kernel/btf does not show, so the agent loads a program calling each kfunc per type
// (never attached) and reads the verifier's verdict on the call. Answers are kept for the
// agent's lifetime. "tracing" is asked as a tp_btf program (fentry and fexit may differ for the
// few kfuncs whose filters look at the attach type); types that load only against a target
// (ext, struct_ops, and lsm where the kernel has no BPF LSM) get an `error`.

export const KERNEL_KFUNCS_LIMITS = {
  /** Program types in one request (each costs one probe load per name). */
  progTypes: 64,
  /** Names in one request (6.18 tags 203 functions bpf_kfunc). */
  names: 4096,
  /** Bytes of one name. */
  nameBytes: 128,
} as const;

/** A C identifier: what a kfunc name must be to be asked about. */
export const KFUNC_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface KernelKfuncsParams {
  /** libbpf's program type names, as in kernel/helpers; an unknown name gets a per-type `error`. */
  progTypes: string[];
  /** kfunc names (KFUNC_NAME), as the node's vmlinux BTF names its functions. */
  names: string[];
}

export interface ProgTypeKfuncs {
  progType: string;
  /** The requested names a program of this type may call, in the request's order. */
  allowed?: string[];
  /**
   * With `allowed`: names whose probe load failed before the verifier judged the call, as the
   * XDP metadata kfuncs do outside a device-bound program. Neither allowed nor refused.
   */
  unjudged?: string[];
  /** Instead of `allowed`, when the kernel gave no verdict for this type: why, in one sentence. */
  error?: string;
}

export interface KernelKfuncsResult {
  /** The node's kernel release (uname -r). */
  release: string;
  /** One entry per requested type, in the request's order. */
  types: ProgTypeKfuncs[];
  /** Requested names that are not functions in the node's vmlinux BTF. */
  missing: string[];
}

export const KernelKfuncsRequest = request<KernelKfuncsParams, KernelKfuncsResult>('kernel/kfuncs');

// ---------------------------------------------------------------------------------------------
// kernel/targets (client → agent): whether attach targets that a program names exist on the
// node: tracepoints (tracefs) and uprobe symbols (the binary's .symtab or .dynsym).

export const KERNEL_TARGETS_LIMITS = {
  /** Entries in each list. */
  entries: 256,
  /** UTF-8 bytes of each string (a tracepoint name, a binary's path, a symbol). */
  stringBytes: 4096,
} as const;

/** "category/name", as under /sys/kernel/tracing/events/ ("syscalls/sys_enter_read"). */
export const TRACEPOINT_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

export interface UprobeTarget {
  /** Absolute path of the binary or shared library on the node. */
  binary: string;
  /** A function symbol name as the ELF symbol table spells it (no "@VERSION" suffix). */
  symbol: string;
}

export interface KernelTargetsParams {
  /** "category/name" each (TRACEPOINT_NAME). */
  tracepoints?: string[];
  uprobes?: UprobeTarget[];
}

/** 'ok': an ELF64 file the agent read; 'missing': no such file; 'not-elf': not a regular ELF64 file. */
export type UprobeBinaryState = 'ok' | 'missing' | 'not-elf';

export interface UprobeTargetState {
  binary: UprobeBinaryState;
  /** The binary's .symtab or .dynsym defines a function of that name (false unless binary is 'ok'). */
  symbol: boolean;
}

export interface KernelTargetsResult {
  /** Whether each requested tracepoint exists, in the request's order. */
  tracepoints: boolean[];
  /** Each requested uprobe target, in the request's order. */
  uprobes: UprobeTargetState[];
}

export const KernelTargetsRequest = request<KernelTargetsParams, KernelTargetsResult>('kernel/targets');
