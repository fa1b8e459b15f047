/**
 * `dfs-ebpf build [FILE.bpf.c ...]` and `dfs-ebpf verify FILE.bpf.c|FILE.bpf.o` (DESIGN.md §7).
 * build compiles for the node's kernel through core's one build path (build/forNode.ts): the
 * vmlinux.h of a node reached over SSH comes from its agent, and this machine's serves when
 * target resolution says the node runs on it (a local test node); it writes
 * compile_commands.json. verify builds when given a source, then has the node's kernel verify
 * every program and prints the verdicts, diagnostics and the whole log.
 */

import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import type { NodeSession } from '@dfs/core/agent/session';
import { buildForNode, type NodeBuild } from '@dfs/core/build/forNode';
import { findBpfSources } from '@dfs/core/build/workspace';
import { DfsError } from '@dfs/core/errors';
import { kernelIsLocal } from '@dfs/core/ssh/target';
import {
  verifyObjectOnNode,
  verifySourceOnNode,
  type VerifierDiagnostic,
  type VerifyOutcome,
} from '@dfs/core/verifier/verify';
import { numberValue, UsageError, type Parsed } from '../args';
import { printJson, printLines, report, type Io } from '../output';
import { nodeSpec, openSession } from '../session';

/** DIAG as DESIGN.md §7 defines it; `file` as the user gave it when it is that file, else the basename. */
interface Diag {
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  message: string;
  program: string | null;
  insn: number | null;
}

function displayName(file: string, given: string[]): string {
  return given.find((g) => resolve(g) === resolve(file)) ?? basename(file);
}

function includeDirs(p: Parsed): string[] {
  return (p.values.get('include') ?? []).map((d) => resolve(d));
}

/** The `kernel` object of `build --json`: which kernel's vmlinux.h the build used. */
function kernelDoc(b: NodeBuild): Record<string, unknown> {
  return { release: b.kernel.release, btf_sha256: b.kernel.btfSha256, from: b.kernel.from, vmlinux_dir: b.kernel.dir };
}

export async function buildCommand(p: Parsed, io: Io): Promise<number> {
  const given = p.positionals.slice(1);
  const root = process.cwd();
  const sources = given.length > 0 ? given : findBpfSources(root);
  if (sources.length === 0) throw new DfsError(ErrorCode.NotFound, `no *.bpf.c under ${root}`);
  let session: NodeSession | undefined;
  try {
    if (!kernelIsLocal(nodeSpec(p, io))) session = await openSession(p, io);
    const res = await buildForNode(session ?? 'this machine', sources, { root, includeDirs: includeDirs(p) });
    const diagnostics: Diag[] = res.diagnostics.map((d) => ({
      ...d,
      file: displayName(d.file, given),
      program: null,
      insn: null,
    }));
    const objects = res.results
      .filter((r) => r.ok)
      .map((r) => ({ source: displayName(r.source, given), object: r.object }));
    if (io.json) printJson({ objects, diagnostics, kernel: kernelDoc(res) });
    else
      printLines([
        `built for ${res.kernel.release} (vmlinux.h from ${res.kernel.from === 'node' ? session?.target.label : 'this machine'})`,
        ...objects.map((o) => `built ${o.object}`),
        ...diagnostics.map((d) => `${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message}`),
      ]);
    const failed = res.results.filter((r) => !r.ok);
    if (failed.length > 0) {
      const first = res.diagnostics.find((d) => d.severity === 'error');
      throw new DfsError(
        ErrorCode.BadObject,
        `${failed.length} of ${res.results.length} sources do not compile${first ? `; first: ${displayName(first.file, given)}:${first.line}: ${first.message}` : ''}`,
      );
    }
    return 0;
  } finally {
    session?.close();
  }
}

function verifierDiag(d: VerifierDiagnostic, given: string[]): Diag {
  return {
    file: displayName(d.file, given),
    line: d.line,
    column: d.column,
    severity: d.severity,
    message: d.message,
    program: d.program,
    insn: d.insn,
  };
}

function readObject(object: string): Buffer {
  try {
    return readFileSync(object);
  } catch (err) {
    throw new DfsError(ErrorCode.NotFound, `cannot read ${object}: ${(err as Error).message}`);
  }
}

/** Build a source for the node and verify it there; a source that does not compile is a BadObject. */
async function verifySource(
  session: NodeSession,
  file: string,
  p: Parsed,
  io: Io,
  logLevel: 1 | 2 | undefined,
): Promise<VerifyOutcome> {
  const { build, outcome } = await verifySourceOnNode(session, resolve(file), {
    root: process.cwd(),
    includeDirs: includeDirs(p),
    ...(logLevel ? { logLevel } : {}),
  });
  if (outcome) return outcome;
  const diagnostics = build.diagnostics.map((d) => ({
    ...d,
    file: displayName(d.file, [file]),
    program: null,
    insn: null,
  }));
  if (io.json || io.collect) report(io, { ok: false, programs: [], diagnostics, log: '' }, []);
  throw new DfsError(
    ErrorCode.BadObject,
    `${file} does not compile: ${build.diagnostics[0]?.message ?? build.results[0]?.stderr.trim() ?? ''}`,
  );
}

export async function verifyCommand(p: Parsed, io: Io): Promise<number> {
  const file = p.positionals[1];
  if (!file || p.positionals.length > 2)
    throw new UsageError(
      'usage: dfs-ebpf verify FILE.bpf.c|FILE.bpf.o [--node NODE] [--include DIR]... [--log-level 1|2] [--json]',
    );
  const level = numberValue(p, 'log-level', 1, 2);
  const session = await openSession(p, io);
  try {
    const out = file.endsWith('.c')
      ? await verifySource(session, file, p, io, level as 1 | 2 | undefined)
      : await verifyObjectOnNode(session, readObject(resolve(file)), {
          objectName: basename(file),
          ...(level ? { logLevel: level as 1 | 2 } : {}),
        });
    const diagnostics = out.diagnostics.map((d) => verifierDiag(d, [file]));
    const programs = out.programs.map(({ verdict: v }) => ({
      name: v.name,
      section: v.section,
      verdict: v.verdict,
      insns_processed: v.insnsProcessed,
      states: v.states,
      peak_states: v.peakStates,
      verification_time_us: v.verificationTimeUs,
      stack_depth: v.stackDepth,
      ...(v.error
        ? {
            error: {
              class: v.error.class,
              message: v.error.message,
              explanation: v.error.explanation,
              insn: v.error.insn,
            },
          }
        : {}),
    }));
    const log = out.programs
      .map((x) => (out.programs.length > 1 ? `-- program ${x.verdict.name} --\n${x.log}` : x.log))
      .join('\n');
    report(io, { ok: out.ok, kernel: out.kernel, programs, diagnostics, log }, [
      ...programs.map(
        (x) =>
          `${x.name} (${x.section}): ${x.verdict}, ${x.insns_processed ?? '?'} insns processed, ${x.states ?? '?'} states`,
      ),
      ...diagnostics.map(
        (d) => `${d.file}:${d.line}:${d.column}: error: [${d.program}] ${d.message.replace(/\n/g, ' — ')}`,
      ),
    ]);
    if (!out.ok) {
      const d = diagnostics[0];
      throw new DfsError(
        ErrorCode.VerifierRejected,
        d
          ? `${d.program} rejected at ${d.file}:${d.line}: ${d.message.split('\n')[0]}`
          : 'the verifier rejected the object',
      );
    }
    return 0;
  } finally {
    session.close();
  }
}
