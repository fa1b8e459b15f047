/**
 * `bpf/verify`: load each program of an object in this kernel, one per fresh open (libbpf
 * stops at the first failing program, so the second program of an object would otherwise
 * never be verified), without attaching anything, and capture each whole verifier log: the
 * buffer grows ×4 until the log fits, up to MAX_LOG_BYTES, beyond which the request fails
 * clearly instead of returning a cut log. Every object is closed before returning.
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
      for (const p of obj.programs()) if (p.name !== program.name) obj.setAutoload(p.name, false);
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
      return {
        name: program.name,
        section: program.section,
        type: program.type,
        errno: res.errno,
        logGz: gzipSync(Buffer.from(text, 'utf8')).toString('base64'),
        logBytes: Buffer.byteLength(text, 'utf8'),
        libbpfMessage: res.errno !== 0 && text.trim() === '' ? res.messages : '',
      };
    } finally {
      obj.close();
    }
  }
}

export function verifyObject(addon: Addon, p: VerifyParams, log: AgentLog, opId: number): VerifyResult {
  const elf = Buffer.from(p.object, 'base64');
  const probe = open(addon, elf, p.objectName, 0, 0);
  let programs: ProgramInfo[];
  try {
    programs = probe.programs();
  } finally {
    probe.close();
  }
  if (programs.length === 0) {
    throw new AgentError(ErrorCode.BadObject, `${p.objectName} has no BPF programs (no SEC("...") functions)`);
  }
  const level = p.logLevel ?? 1;
  const results = programs.map((prog) => loadOne(addon, elf, p.objectName, prog, level, log));
  const rejected = results.filter((r) => r.errno !== 0).map((r) => r.name);
  log.info('verify', `${p.objectName}: ${results.length} programs, rejected: ${rejected.join(', ') || 'none'}`, opId);
  return { kernel: release(), programs: results };
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
