/**
 * Verification as the extension and the CLI see it: send an object to the node's agent
 * (`bpf/verify`), unpack each program's log, parse it (parse.ts) with the object's own BTF
 * line info and the sources at hand as fallbacks, and turn rejections into diagnostics on
 * real files: the kernel names files by basename, so locations are resolved against the
 * source that was built and the files beside it. verifySourceOnNode is the whole
 * save-to-diagnostics loop (build for the node, then verify there).
 */

import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { VerifyRequest, type ProgramLoadResult } from '@dfs/protocol';
import { buildForNode, type BuildForNodeOptions, type NodeBuild } from '../build/forNode';
import type { AgentRequester } from '../build/vmlinux';
import { btfLineInfo } from './btfLines';
import type { ProgramVerdict, VerifierClass } from './model';
import { parseProgramLog, type LineSources } from './parse';

export type { AgentRequester } from '../build/vmlinux';

export interface RelatedLocation {
  file: string;
  line: number;
  text: string;
}

/** One finding, shaped like DESIGN.md §7's DIAG plus the class and the path. */
export interface VerifierDiagnostic {
  /** Absolute path when it could be resolved, else the name the log used. */
  file: string;
  line: number;
  column: number;
  severity: 'error' | 'warning';
  message: string;
  program: string;
  insn: number | null;
  class: VerifierClass | 'load-failed';
  related: RelatedLocation[];
}

export interface VerifiedProgram {
  load: ProgramLoadResult;
  verdict: ProgramVerdict;
  log: string;
  /** Where each log line is in the source (what the log explorer draws). */
  lines: LineSources;
}

export interface VerifyOutcome {
  ok: boolean;
  kernel: string;
  programs: VerifiedProgram[];
  diagnostics: VerifierDiagnostic[];
}

export interface VerifyOptions {
  objectName?: string;
  /** The .bpf.c the object was built from: locations resolve against it and its directory. */
  source?: string;
  logLevel?: 1 | 2;
}

/** Files the log may name: the source and every C file/header in its directory, by basename. */
export function sourceIndex(source: string | undefined): Map<string, { path: string; text: string }> {
  const index = new Map<string, { path: string; text: string }>();
  if (!source) return index;
  const dir = dirname(source);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.(c|h)$/.test(n));
  } catch {
    names = [basename(source)];
  }
  for (const n of names) {
    try {
      index.set(n, { path: join(dir, n), text: readFileSync(join(dir, n), 'utf8') });
    } catch {
      continue; // unreadable neighbour: its lines cannot be shown, the rest still can
    }
  }
  return index;
}

/** 1-based line of `SEC("<section>")` in a source, for findings without a verifier location. */
function sectionLine(text: string, section: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(`SEC("${section}")`));
  return i >= 0 ? i + 2 : 1; // the function signature follows the SEC line
}

/** The diagnostics of one verified program; `files` indexes the sources by basename (sourceIndex). */
export function toDiagnostics(
  p: Pick<VerifiedProgram, 'load' | 'verdict'>,
  files: Map<string, { path: string; text: string }>,
  source?: string,
): VerifierDiagnostic[] {
  const { verdict, load } = p;
  if (verdict.verdict === 'accepted') return [];
  const resolve = (file: string): string => files.get(file)?.path ?? file;
  const err = verdict.error;
  if (err?.location) {
    return [
      {
        file: resolve(err.location.file),
        line: err.location.line,
        column: 1,
        severity: 'error',
        message: `${err.message}\n${err.explanation}`,
        program: verdict.name,
        insn: err.insn,
        class: err.class,
        related: err.path.map((l) => ({ file: resolve(l.file), line: l.line, text: l.text })),
      },
    ];
  }
  // Rejected without a located verifier error: the load failed before or outside the verifier.
  const src = source ? files.get(basename(source)) : undefined;
  const reason = err?.message || load.libbpfMessage || `the kernel refused the program (errno ${load.errno})`;
  return [
    {
      file: src?.path ?? source ?? load.name,
      line: src ? sectionLine(src.text, load.section) : 1,
      column: 1,
      severity: 'error',
      message: err ? `${reason}\n${err.explanation}` : reason,
      program: verdict.name,
      insn: err?.insn ?? null,
      class: err?.class ?? 'load-failed',
      related: [],
    },
  ];
}

export async function verifyObjectOnNode(
  agent: AgentRequester,
  object: Buffer,
  opts: VerifyOptions = {},
): Promise<VerifyOutcome> {
  const res = await agent.request(VerifyRequest, {
    object: object.toString('base64'),
    objectName: opts.objectName ?? (opts.source ? basename(opts.source).replace(/\.c$/, '.o') : 'object.bpf.o'),
    ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
  });
  const files = sourceIndex(opts.source);
  const sources = new Map([...files].map(([name, f]) => [name, f.text]));
  const programs = res.programs.map((load): VerifiedProgram => {
    const log = gunzipSync(Buffer.from(load.logGz, 'base64')).toString('utf8');
    const { verdict, lines } = parseProgramLog(
      log,
      { name: load.name, section: load.section, rejected: load.errno !== 0 },
      { sources, btfLines: btfLineInfo(object, load.section, load.name) },
    );
    return { load, verdict, log, lines };
  });
  return {
    ok: programs.every((p) => p.verdict.verdict === 'accepted'),
    kernel: res.kernel,
    programs,
    diagnostics: programs.flatMap((p) => toDiagnostics(p, files, opts.source)),
  };
}

export interface SourceVerification {
  build: NodeBuild;
  /** null when the source does not compile. */
  outcome: VerifyOutcome | null;
}

export interface VerifySourceOptions extends BuildForNodeOptions {
  logLevel?: 1 | 2;
  /** Sees the build before the verification starts (the editor publishes compiler diagnostics then). */
  onBuilt?: (build: NodeBuild) => void;
}

/**
 * Build one source for the node and have the node verify it: what a save does in the editor
 * (extension/src/verifier/service.ts), what `dfs-ebpf verify FILE.bpf.c` does, and exactly what
 * `bench verify` times.
 */
export async function verifySourceOnNode(
  agent: AgentRequester,
  source: string,
  o: VerifySourceOptions = {},
): Promise<SourceVerification> {
  const build = await buildForNode(agent, [source], o);
  o.onBuilt?.(build);
  const built = build.results[0];
  if (!built?.bytes) return { build, outcome: null };
  const outcome = await verifyObjectOnNode(agent, built.bytes, {
    objectName: basename(built.object),
    source: built.source,
    ...(o.logLevel ? { logLevel: o.logLevel } : {}),
  });
  return { build, outcome };
}
