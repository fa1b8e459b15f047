/**
 * "Build for this node", the one path every client takes: sources and the node they will run
 * on → that kernel's vmlinux.h (vmlinux.ts: asked of the node once per session, cached per
 * release and BTF digest) → clang → each object's bytes and the compiler's diagnostics. Used
 * by the CLI (build, verify, attach --object), the extension (build, verify, verify on save,
 * attach) and `bench verify`.
 *
 * Which kernel a build is for is the caller's session, or this machine's when target
 * resolution says the node runs on it (ssh/target.ts `kernelIsLocal`: no node named, or a local
 * test node); a node's spelling never decides it.
 */

import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileBpf, type CompileResult, type CompilerDiagnostic } from './clang';
import { localKernelHeaders, nodeKernelHeaders, type AgentRequester, type KernelHeaders } from './vmlinux';
import { findBpfSources, objectDir, writeCompileCommands } from './workspace';

/** The kernel to build for: this machine's, or the one behind a node session's agent. */
export type BuildKernel = 'this machine' | AgentRequester;

export interface BuildForNodeOptions {
  /**
   * Workspace root: objects go to `<root>/build/bpf` and `compile_commands.json` is written
   * there. Absent: objects go to `outDir` and nothing else is written.
   */
  root?: string;
  /** Where objects go without a root; default a per-process directory under the system tmpdir. */
  outDir?: string;
  /** Header directories besides each source's own. */
  includeDirs?: string[];
}

export type BuiltSource = CompileResult;

export interface NodeBuild {
  /** The vmlinux.h every source was built against, and whose kernel it is. */
  kernel: KernelHeaders;
  results: BuiltSource[];
  diagnostics: CompilerDiagnostic[];
  /** The compile_commands.json written, or null when built without a root. */
  compileCommands: string | null;
}

export async function buildForNode(
  kernel: BuildKernel,
  sources: string[],
  o: BuildForNodeOptions = {},
): Promise<NodeBuild> {
  const headers = kernel === 'this machine' ? await localKernelHeaders() : await nodeKernelHeaders(kernel);
  const includeDirs = o.includeDirs ?? [];
  const abs = sources.map((s) => resolve(s));
  let outDir = o.outDir ?? join(tmpdir(), `dfs-ebpf-build-${process.pid}`);
  let compileCommands: string | null = null;
  if (o.root) {
    const root = o.root;
    outDir = objectDir(root);
    mkdirSync(outDir, { recursive: true }); // and the root, for a scratch root that does not exist yet
    const outside = abs.filter((s) => !s.startsWith(root));
    compileCommands = writeCompileCommands({ root, vmlinuxDir: headers.dir, includeDirs }, [
      ...findBpfSources(root),
      ...outside,
    ]);
  }
  mkdirSync(outDir, { recursive: true });
  const results: BuiltSource[] = [];
  for (const src of abs) {
    const r = await compileBpf(src, outDir, { vmlinuxDir: headers.dir, includeDirs });
    results.push(r);
  }
  return { kernel: headers, results, diagnostics: results.flatMap((r) => r.diagnostics), compileCommands };
}
