/**
 * `dfs-ebpf build [FILE.bpf.c ...]` and `dfs-ebpf verify FILE.bpf.c|FILE.bpf.o` (DESIGN.md §7).
 * build compiles against the target kernel's vmlinux.h (a remote --node's, fetched through
 * its agent; else this machine's, which is also the local test node's) and writes
 * compile_commands.json; verify builds when given a source, then has the node's kernel verify
 * every program and prints the verdicts, diagnostics and the whole log.
 */

import { readFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import type { NodeSession } from '@dfs/core/agent/session';
import { buildSources, findBpfSources } from '@dfs/core/build/workspace';
import { localVmlinuxDir, nodeVmlinuxDir } from '@dfs/core/build/vmlinux';
import { DfsError } from '@dfs/core/errors';
import { verifyObjectOnNode, type VerifierDiagnostic } from '@dfs/core/verifier/verify';
import { numberValue, UsageError, value, type Parsed } from '../args';
import { printJson, printLines, type Io } from '../output';
import { openSession } from './bypass';

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

function isRemote(p: Parsed): boolean {
  const n = value(p, 'node');
  return n !== undefined && !/^(local:)?[a-z][a-z0-9]{0,11}$/.test(n);
}

export async function buildCommand(p: Parsed, io: Io): Promise<number> {
  const given = p.positionals.slice(1);
  const root = process.cwd();
  const sources = given.length > 0 ? given : findBpfSources(root);
  if (sources.length === 0) throw new DfsError(ErrorCode.NotFound, `no *.bpf.c under ${root}`);
  let session: NodeSession | undefined;
  try {
    if (isRemote(p)) session = await openSession(p, io);
    const vmlinuxDir = session ? await nodeVmlinuxDir(session) : await localVmlinuxDir();
    const res = await buildSources(sources, { root, vmlinuxDir, includeDirs: includeDirs(p) });
    const diagnostics: Diag[] = res.diagnostics.map((d) => ({
      ...d,
      file: displayName(d.file, given),
      program: null,
      insn: null,
    }));
    const objects = res.results
      .filter((r) => r.ok)
      .map((r) => ({ source: displayName(r.source, given), object: r.object }));
    if (io.json) printJson({ objects, diagnostics });
    else
      printLines([
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

export async function verifyCommand(p: Parsed, io: Io): Promise<number> {
  const file = p.positionals[1];
  if (!file || p.positionals.length > 2)
    throw new UsageError('usage: dfs-ebpf verify FILE.bpf.c|FILE.bpf.o [--node NODE] [--include DIR]... [--log-level 1|2] [--json]');
  const level = numberValue(p, 'log-level', 1, 2);
  const session = await openSession(p, io);
  try {
    let object = resolve(file);
    let source: string | undefined;
    if (file.endsWith('.c')) {
      source = resolve(file);
      const res = await buildSources([file], {
        root: process.cwd(),
        vmlinuxDir: await nodeVmlinuxDir(session),
        includeDirs: includeDirs(p),
      });
      const built = res.results[0];
      if (!built?.ok) {
        const diagnostics = res.diagnostics.map((d) => ({
          ...d,
          file: displayName(d.file, [file]),
          program: null,
          insn: null,
        }));
        if (io.json) printJson({ ok: false, programs: [], diagnostics, log: '' });
        throw new DfsError(
          ErrorCode.BadObject,
          `${file} does not compile: ${res.diagnostics[0]?.message ?? built?.stderr.trim() ?? ''}`,
        );
      }
      object = built.object;
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(object);
    } catch (err) {
      throw new DfsError(ErrorCode.NotFound, `cannot read ${object}: ${(err as Error).message}`);
    }
    const out = await verifyObjectOnNode(session, bytes, {
      objectName: basename(object),
      ...(source ? { source } : {}),
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
    if (io.json) printJson({ ok: out.ok, kernel: out.kernel, programs, diagnostics, log });
    else {
      printLines([
        ...programs.map(
          (x) =>
            `${x.name} (${x.section}): ${x.verdict}, ${x.insns_processed ?? '?'} insns processed, ${x.states ?? '?'} states`,
        ),
        ...diagnostics.map(
          (d) => `${d.file}:${d.line}:${d.column}: error: [${d.program}] ${d.message.replace(/\n/g, ' — ')}`,
        ),
      ]);
    }
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
