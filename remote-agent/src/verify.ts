/**
 * `bpf/verify`: load every program of an object in this kernel without attaching anything:
 * first all in one load (the usual case, a save of a program that verifies, costs one load, as
 * `bpftool prog loadall` does); when any is rejected or a log did not fit, each program again in
 * a fresh open of its own (libbpf stops at the first failing program, so the second program of
 * an object would otherwise never be verified). Each whole verifier log is captured: the
 * buffer grows ×4 until the log fits, up to MAX_LOG_BYTES, beyond which the request fails
 * clearly instead of returning a cut log. Every object is closed before returning.
 *
 * The object is the client's and may be damaged, so the agent never opens it itself:
 * `verifyObject` runs the whole verification (`verifyHere`) in a sandbox child (sandbox.ts),
 * which is possible because it is stateless; a crash there is a BadObject, not a dead agent.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { gzipSync } from 'node:zlib';
import {
  ErrorCode,
  type KernelBtfParams,
  type KernelBtfResult,
  type ProgramLoadResult,
  type VerifyParams,
  type VerifyResult,
} from '@dfs/protocol';
import { AgentError } from './errors';
import type { AgentLog } from './log';
import type { Addon, BpfObject, ProgramInfo } from './native';
import { runSandboxed, VERIFY_LIMITS, type SandboxOptions } from './sandbox';

const FIRST_LOG_BYTES = 1 << 20;
/** The largest verifier log the agent captures (the kernel allows up to 1 GiB). */
export const MAX_LOG_BYTES = 256 << 20;

/** BPF_LOG_STATS: adds "verification time" and "stack depth" to every log. */
const LOG_STATS = 4;

function open(addon: Addon, elf: Buffer, name: string, logLevel: number, logSize: number): BpfObject {
  try {
    return addon.openObject(elf, { name, logLevel, logSize });
  } catch (err) {
    const why = (err as Error).message.split('\n').join('; ');
    throw new AgentError(ErrorCode.BadObject, `${name} is not a loadable BPF object: ${why}`);
  }
}

/**
 * The programs of an opened object. A name libbpf reports that is not valid UTF-8 (a damaged
 * string table) fails in the addon (EILSEQ) and is a BadObject; so are two programs of one name,
 * which the name-addressed addon API could not tell apart.
 */
export function programsOf(obj: BpfObject, objectName: string): ProgramInfo[] {
  let programs: ProgramInfo[];
  try {
    programs = obj.programs();
  } catch (err) {
    throw new AgentError(ErrorCode.BadObject, `${objectName}: ${(err as Error).message.split('\n').join('; ')}`);
  }
  const seen = new Set<string>();
  for (const p of programs) {
    if (seen.has(p.name)) throw new AgentError(ErrorCode.BadObject, `${objectName} has two programs named ${p.name}`);
    seen.add(p.name);
  }
  return programs;
}

/** One program's answer from its load (its own log, gzipped). */
function programResult(program: ProgramInfo, errno: number, text: string, messages: string): ProgramLoadResult {
  return {
    name: program.name,
    section: program.section,
    type: program.type,
    errno,
    logGz: gzipSync(Buffer.from(text, 'utf8')).toString('base64'),
    logBytes: Buffer.byteLength(text, 'utf8'),
    libbpfMessage: errno !== 0 && text.trim() === '' ? messages : '',
  };
}

/** Load only `program`, growing the log buffer until the whole log fits. */
function loadOne(
  addon: Addon,
  elf: Buffer,
  name: string,
  program: ProgramInfo,
  level: number,
  log: AgentLog,
): ProgramLoadResult {
  for (let size = FIRST_LOG_BYTES; ; size *= 4) {
    const obj = open(addon, elf, name, level | LOG_STATS, size);
    try {
      for (const p of programsOf(obj, name)) if (p.name !== program.name) obj.setAutoload(p.name, false);
      const res = obj.load();
      const own = res.programs.find((p) => p.name === program.name);
      const text = own?.log ?? '';
      if (own?.truncated || res.logTruncated) {
        if (size >= MAX_LOG_BYTES) {
          throw new AgentError(
            ErrorCode.VerifierLogTooLarge,
            `the verifier log of ${program.name} exceeds ${MAX_LOG_BYTES >> 20} MiB; verify at log level 1 or split the program`,
          );
        }
        log.debug('verify', `${program.name}: log over ${size >> 20} MiB, retrying with ${(size * 4) >> 20} MiB`);
        continue;
      }
      return programResult(program, res.errno, text, res.messages);
    } finally {
      obj.close();
    }
  }
}

/**
 * The fast path: every program in one load, as `bpftool prog loadall` does. It answers for the
 * whole object when every program is accepted and every log fit (a save of a working program);
 * otherwise (null) each program is loaded on its own, because libbpf stops at the first failure.
 */
function loadAll(
  addon: Addon,
  elf: Buffer,
  name: string,
  programs: ProgramInfo[],
  level: number,
): ProgramLoadResult[] | null {
  const obj = open(addon, elf, name, level | LOG_STATS, FIRST_LOG_BYTES);
  try {
    const res = obj.load();
    if (res.errno !== 0 || res.logTruncated) return null;
    const out: ProgramLoadResult[] = [];
    for (const program of programs) {
      const own = res.programs.find((p) => p.name === program.name);
      if (!own || own.truncated) return null;
      out.push(programResult(program, 0, own.log, ''));
    }
    return out;
  } finally {
    obj.close();
  }
}

/** `bpf/verify` in this process: only ever run in a sandbox child (see the header). */
export function verifyHere(
  addon: Addon,
  elf: Buffer,
  objectName: string,
  logLevel: 1 | 2 | undefined,
  log: AgentLog,
  opId?: number,
): VerifyResult {
  const probe = open(addon, elf, objectName, 0, 0);
  let programs: ProgramInfo[];
  try {
    programs = programsOf(probe, objectName);
  } finally {
    probe.close();
  }
  if (programs.length === 0) {
    throw new AgentError(ErrorCode.BadObject, `${objectName} has no BPF programs (no SEC("...") functions)`);
  }
  const level = logLevel ?? 1;
  const results =
    loadAll(addon, elf, objectName, programs, level) ??
    programs.map((prog) => loadOne(addon, elf, objectName, prog, level, log));
  const rejected = results.filter((r) => r.errno !== 0).map((r) => r.name);
  log.info('verify', `${objectName}: ${results.length} programs, rejected: ${rejected.join(', ') || 'none'}`, opId);
  return { kernel: release(), programs: results };
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** The sandbox child's answer, checked field by field: anything else is garbage. */
function asVerifyResult(v: unknown): VerifyResult | null {
  const r = v as Partial<VerifyResult> | null;
  if (typeof r !== 'object' || r === null || typeof r.kernel !== 'string' || !Array.isArray(r.programs)) return null;
  const ok = r.programs.every(
    (p: Partial<ProgramLoadResult> | null) =>
      typeof p === 'object' &&
      p !== null &&
      typeof p.name === 'string' &&
      typeof p.section === 'string' &&
      typeof p.type === 'string' &&
      isInt(p.errno) &&
      typeof p.logGz === 'string' &&
      isInt(p.logBytes) &&
      typeof p.libbpfMessage === 'string',
  );
  return ok ? { kernel: r.kernel, programs: r.programs } : null;
}

/**
 * `bpf/verify`: the whole verification in a sandbox child (sandbox.ts); the agent only waits.
 * The agent's addon is not used here (the child loads its own); the parameter keeps the
 * manager's call as it was.
 */
export function verifyObject(
  _addon: Addon,
  p: VerifyParams,
  log: AgentLog,
  opId: number,
  opts: SandboxOptions = {},
): Promise<VerifyResult> {
  const job = { kind: 'verify' as const, objectName: p.objectName, ...(p.logLevel ? { logLevel: p.logLevel } : {}) };
  return runSandboxed(job, Buffer.from(p.object, 'base64'), asVerifyResult, log, opId, VERIFY_LIMITS, opts);
}

function readKernelBtf(): Buffer {
  try {
    return readFileSync('/sys/kernel/btf/vmlinux');
  } catch {
    throw new AgentError(
      ErrorCode.KernelFeatureMissing,
      'this kernel exposes no BTF (/sys/kernel/btf/vmlinux); CONFIG_DEBUG_INFO_BTF is off',
    );
  }
}

/**
 * The node's vmlinux BTF for client-side vmlinux.h generation: with `digestOnly`, only the
 * release and the BTF's sha256 (kept in `memo` once computed: the BTF changes only with the
 * kernel), which is all a client with a cached vmlinux.h needs; else the BTF too.
 */
export function kernelBtf(p: KernelBtfParams, memo: { sha256?: string }): KernelBtfResult {
  if (p.digestOnly && memo.sha256) return { release: release(), sha256: memo.sha256 };
  const btf = readKernelBtf();
  memo.sha256 = createHash('sha256').update(btf).digest('hex');
  if (p.digestOnly) return { release: release(), sha256: memo.sha256 };
  return { release: release(), sha256: memo.sha256, btfGz: gzipSync(btf).toString('base64') };
}
