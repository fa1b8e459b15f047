/**
 * The build-and-verify loop inside VS Code: build a `.bpf.c` against the connected node's
 * vmlinux.h and have the node's kernel verify every program (core's verifySourceOnNode, the
 * path `bench verify` times), and publish what came back:
 * compiler and verifier diagnostics (on the exact lines, with the path as related
 * information), the last outcome per source for the CodeLens budget and the log explorer.
 * One verification per source runs at a time; a newer request supersedes a queued one.
 * verifyOn/publishAcross do the same on several nodes at once ("Verify on nodes…"): one finding
 * per line and message, naming the nodes whose kernel said it.
 */

import { resolve } from 'node:path';
import * as vscode from 'vscode';
import type { ProgramVerdict } from '@dfs/protocol';
import type { NodeSession } from '@dfs/core/agent/session';
import type { CompilerDiagnostic } from '@dfs/core/build/clang';
import { buildForNode, type BuildForNodeOptions, type NodeBuild } from '@dfs/core/build/forNode';
import { findBpfSources } from '@dfs/core/build/workspace';
import { verifySourceOnNode, type VerifierDiagnostic, type VerifyOutcome } from '@dfs/core/verifier/verify';
import type { Ctx } from '../ctx';
import { readSettings } from '../settings';

export interface Verification {
  source: vscode.Uri;
  outcome: VerifyOutcome;
  at: Date;
  /** Milliseconds from the request (e.g. the save) to published diagnostics. */
  elapsedMs: number;
  /** The same programs' verdicts from the verification before this one, by name. */
  previous: Map<string, ProgramVerdict>;
}

function toVsDiagnostic(d: CompilerDiagnostic): vscode.Diagnostic {
  const line = Math.max(0, d.line - 1);
  const diag = new vscode.Diagnostic(
    new vscode.Range(line, Math.max(0, d.column - 1), line, Number.MAX_SAFE_INTEGER),
    d.message,
    d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning,
  );
  diag.source = 'clang (bpf)';
  return diag;
}

/** A node's verification of one source, as "Verify on nodes…" collects it. */
export interface NodeVerification {
  node: string;
  outcome: VerifyOutcome;
}

function verifierDiagnostic(d: VerifierDiagnostic, nodes?: string[]): vscode.Diagnostic {
  const line = Math.max(0, d.line - 1);
  const diag = new vscode.Diagnostic(
    new vscode.Range(line, 0, line, Number.MAX_SAFE_INTEGER),
    `${d.program}: ${d.message}${nodes ? ` [on ${nodes.join(', ')}]` : ''}`,
    vscode.DiagnosticSeverity.Error,
  );
  diag.source = 'BPF verifier';
  diag.code = d.class;
  diag.relatedInformation = d.related.map(
    (r) =>
      new vscode.DiagnosticRelatedInformation(
        new vscode.Location(vscode.Uri.file(r.file), new vscode.Position(Math.max(0, r.line - 1), 0)),
        `on the path: ${r.text}`,
      ),
  );
  return diag;
}

export class VerifierService implements vscode.Disposable {
  readonly compilerDiagnostics = vscode.languages.createDiagnosticCollection('dfs-ebpf-build');
  readonly verifierDiagnostics = vscode.languages.createDiagnosticCollection('dfs-ebpf-verifier');
  private readonly results = new Map<string, Verification>();
  /** The files each source's last verification put findings on (cleared before the next). */
  private readonly published = new Map<string, vscode.Uri[]>();
  private readonly running = new Map<string, Promise<Verification | null>>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly ctx: Ctx) {}

  last(source: vscode.Uri): Verification | undefined {
    return this.results.get(source.fsPath);
  }

  private root(source?: vscode.Uri): string {
    const folder = source ? vscode.workspace.getWorkspaceFolder(source) : vscode.workspace.workspaceFolders?.[0];
    return folder?.uri.fsPath ?? (source ? vscode.Uri.joinPath(source, '..').fsPath : process.cwd());
  }

  /** Publish compiler diagnostics for the sources just built (clearing theirs first). */
  private publishBuild(res: NodeBuild): void {
    for (const r of res.results) this.compilerDiagnostics.delete(vscode.Uri.file(r.source));
    const byFile = new Map<string, vscode.Diagnostic[]>();
    for (const d of res.diagnostics) byFile.set(d.file, [...(byFile.get(d.file) ?? []), toVsDiagnostic(d)]);
    for (const [file, list] of byFile) this.compilerDiagnostics.set(vscode.Uri.file(file), list);
  }

  /** Where a build of `source` (or of the workspace) goes, with the configured include directories. */
  private buildOptions(source?: vscode.Uri): BuildForNodeOptions & { root: string } {
    const root = this.root(source);
    return { root, includeDirs: readSettings()['build.includeDirs'].map((d) => resolve(root, d)) };
  }

  /** Build sources (default: every *.bpf.c of the workspace) for the connected node's kernel. */
  async build(session: NodeSession, sources?: vscode.Uri[]): Promise<NodeBuild> {
    const o = this.buildOptions(sources?.[0]);
    const files = sources?.map((s) => s.fsPath) ?? findBpfSources(o.root);
    const res = await buildForNode(session, files, o);
    this.publishBuild(res);
    return res;
  }

  /** Build and verify one source on the connected node; null when it does not compile. */
  verify(session: NodeSession, source: vscode.Uri, startedAt = Date.now()): Promise<Verification | null> {
    const key = source.fsPath;
    const prior = this.running.get(key) ?? Promise.resolve(null);
    const next = prior.catch(() => null).then(() => this.verifyNow(session, source, startedAt));
    this.running.set(key, next);
    void next.finally(() => {
      if (this.running.get(key) === next) this.running.delete(key);
    });
    return next;
  }

  private async verifyNow(session: NodeSession, source: vscode.Uri, startedAt: number): Promise<Verification | null> {
    const outcome = await this.verifyOn(session, source);
    if (!outcome) {
      this.publishVerifier(source, []);
      return null;
    }
    const before = this.results.get(source.fsPath);
    this.publishVerifier(
      source,
      outcome.diagnostics.map((d) => ({ file: d.file, diag: verifierDiagnostic(d) })),
    );
    const v: Verification = {
      source,
      outcome,
      at: new Date(),
      elapsedMs: Date.now() - startedAt,
      previous: new Map((before?.outcome.programs ?? []).map((p) => [p.verdict.name, p.verdict])),
    };
    this.results.set(source.fsPath, v);
    this.ctx.log.info(
      `verified ${vscode.workspace.asRelativePath(source)} on ${session.target.label} in ${v.elapsedMs} ms: ` +
        outcome.programs.map((p) => `${p.verdict.name} ${p.verdict.verdict}`).join(', '),
    );
    this.changed.fire(source);
    return v;
  }

  /** Replace a source's verifier findings: the files it touched before and now. */
  private publishVerifier(source: vscode.Uri, found: { file: string; diag: vscode.Diagnostic }[]): void {
    for (const uri of this.published.get(source.fsPath) ?? []) this.verifierDiagnostics.delete(uri);
    this.verifierDiagnostics.delete(source);
    const byFile = new Map<string, vscode.Diagnostic[]>();
    for (const f of found) byFile.set(f.file, [...(byFile.get(f.file) ?? []), f.diag]);
    const uris = [...byFile.keys()].map((f) => vscode.Uri.file(f));
    for (const uri of uris) this.verifierDiagnostics.set(uri, byFile.get(uri.fsPath) ?? []);
    this.published.set(source.fsPath, uris);
  }

  /**
   * Build and verify one source on a node without publishing its findings (the build's compiler
   * diagnostics are published); null when it does not compile.
   */
  async verifyOn(session: NodeSession, source: vscode.Uri): Promise<VerifyOutcome | null> {
    // The same core path `bench verify` times: build for the node, then verify there.
    const { outcome } = await verifySourceOnNode(session, source.fsPath, {
      ...this.buildOptions(source),
      onBuilt: (b) => this.publishBuild(b),
    });
    return outcome;
  }

  /** Publish several nodes' verdicts on one source: each finding once, with the nodes that said it. */
  publishAcross(source: vscode.Uri, verdicts: NodeVerification[]): void {
    const seen = new Map<string, { d: VerifierDiagnostic; nodes: string[] }>();
    for (const v of verdicts)
      for (const d of v.outcome.diagnostics) {
        const key = `${d.file}:${d.line}:${d.program}:${d.message}`;
        const at = seen.get(key) ?? { d, nodes: [] };
        at.nodes.push(v.node);
        seen.set(key, at);
      }
    this.publishVerifier(
      source,
      [...seen.values()].map(({ d, nodes }) => ({ file: d.file, diag: verifierDiagnostic(d, nodes) })),
    );
    this.ctx.log.info(
      `verified ${vscode.workspace.asRelativePath(source)} on ${verdicts.map((v) => v.node).join(', ')}: ${seen.size} findings`,
    );
  }

  dispose(): void {
    this.compilerDiagnostics.dispose();
    this.verifierDiagnostics.dispose();
    this.changed.dispose();
  }
}
