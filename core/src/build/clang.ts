/**
 * Compiling a workspace's `*.bpf.c` into a BPF object with clang (`-target bpf -g -O2`),
 * with the target kernel's `vmlinux.h` (vmlinux.ts), the workspace's own include directories,
 * the BPF headers of the pinned libbpf that ship beside the bundle (`<bpf/bpf_helpers.h>` and
 * friends: the same libbpf the agent loads objects with, newer than a distribution's), and
 * Debian's multiarch include directory for UAPI headers.
 * Compiler errors and warnings come back as structured diagnostics, not just text.
 */

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { arch } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { exec } from '../util/exec';
import { localVmlinuxDir } from './vmlinux';

export interface CompilerDiagnostic {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  message: string;
}

export interface CompileResult {
  source: string;
  object: string;
  /** The object's bytes as this compile wrote them (null when it failed). */
  bytes: Buffer | null;
  ok: boolean;
  diagnostics: CompilerDiagnostic[];
  stderr: string;
}

const TARGET_ARCH: Record<string, string> = { x64: 'x86', arm64: 'arm64', ppc64: 'powerpc', s390x: 's390' };
const MULTIARCH: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/**
 * The pinned libbpf's BPF headers beside the running bundle (dist/cli, dist/extension →
 * dist/libbpf/include, esbuild.mjs), or null where there are none (then the system's serve).
 */
export function bundledLibbpfInclude(): string | null {
  const dir = join(__dirname, '..', 'libbpf', 'include');
  return existsSync(join(dir, 'bpf', 'bpf_helpers.h')) ? dir : null;
}

/** The clang command line for one source (also what compile_commands.json records). */
export function bpfCompileArgs(source: string, object: string, includeDirs: string[]): string[] {
  const multiarch = MULTIARCH[arch()];
  const libbpf = bundledLibbpfInclude();
  return [
    '-g',
    '-O2',
    '-target',
    'bpf',
    `-D__TARGET_ARCH_${TARGET_ARCH[arch()] ?? arch()}`,
    '-Wall',
    ...includeDirs.map((d) => `-I${d}`),
    `-I${dirname(source)}`,
    ...(libbpf ? [`-I${libbpf}`] : []),
    ...(multiarch ? [`-idirafter/usr/include/${multiarch}`] : []),
    '-fdiagnostics-parseable-fixits',
    '-fno-color-diagnostics',
    '-c',
    source,
    '-o',
    object,
  ];
}

const DIAG_RE = /^(.+?):(\d+):(\d+): (error|warning|fatal error): (.*)$/;

export function parseClangDiagnostics(stderr: string): CompilerDiagnostic[] {
  const out: CompilerDiagnostic[] = [];
  for (const line of stderr.split('\n')) {
    const m = DIAG_RE.exec(line);
    if (!m) continue;
    out.push({
      file: m[1] ?? '',
      line: Number(m[2]),
      column: Number(m[3]),
      severity: m[4] === 'warning' ? 'warning' : 'error',
      message: m[5] ?? '',
    });
  }
  return out;
}

export interface CompileOptions {
  /** Directories searched for headers, besides the source's own. */
  includeDirs?: string[];
  /** Directory of the vmlinux.h to build against (the target kernel's); default: this machine's. */
  vmlinuxDir?: string;
}

/** Compile one `.bpf.c` into `outDir/<name>.bpf.o`. Compiler errors are a result, not a throw. */
export async function compileBpf(source: string, outDir: string, o: CompileOptions = {}): Promise<CompileResult> {
  if (!existsSync(source)) throw new DfsError(ErrorCode.NotFound, `no such source file: ${source}`);
  mkdirSync(outDir, { recursive: true });
  const object = join(outDir, basename(source).replace(/\.c$/, '') + '.o');
  const vmlinux = o.vmlinuxDir ?? (await localVmlinuxDir());
  // Builds of one source for several nodes at once (a fleet command) share `object`: each
  // compiles to its own file and takes its bytes from there before renaming it into place.
  const own = `${object}.${process.pid}.${++compiles}.tmp`;
  const args = bpfCompileArgs(source, own, [vmlinux, ...(o.includeDirs ?? [])]);
  const res = await exec('clang', args, { allowFailure: true, timeoutMs: 120_000 }).catch((err: unknown) => {
    if (err instanceof DfsError && err.code === ErrorCode.ToolMissing) {
      throw new DfsError(ErrorCode.ToolMissing, 'clang is not installed (apt-get install clang llvm libbpf-dev)');
    }
    throw err;
  });
  const ok = res.code === 0;
  let bytes: Buffer | null = null;
  if (ok) {
    bytes = readFileSync(own);
    renameSync(own, object);
  } else rmSync(own, { force: true });
  return { source, object, bytes, ok, diagnostics: parseClangDiagnostics(res.stderr), stderr: res.stderr };
}

let compiles = 0;
