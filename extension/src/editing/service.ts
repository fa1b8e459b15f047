/**
 * The checks before the verifier inside the editor (core/src/editing): as the user types in a
 * `.bpf.c` (debounced), when one opens, and before a build or verify. Each run reads the
 * document (scanSource), checks it against the connected node's kernel facts (loaded once per
 * connection: core's loadNodeFacts, cached per kernel on disk) or, with no node, the checks
 * that need none; targets the node has not answered yet are asked and the document is checked
 * again when the answers come. Diagnostics go to their own collection (source "dfs-ebpf
 * check", code = the check); each keeps its quick fixes for the code action provider. The
 * hover and completion providers (providers.ts) read the same model and facts.
 */

import * as vscode from 'vscode';
import { checkSource, unansweredTargets, type CheckDiagnostic, type CheckFix } from '@dfs/core/editing/check';
import { loadNodeFacts, type NodeFacts } from '@dfs/core/editing/facts';
import { scanSource, type SourceModel } from '@dfs/core/editing/source';
import { describeError } from '@dfs/core/errors';
import type { NodeSession } from '@dfs/core/agent/session';
import type { Ctx } from '../ctx';

export const CHECK_SOURCE = 'dfs-ebpf check';
/**
 * Typing pauses this long before a check runs (a burst of changes, a paste or a multi-cursor
 * edit, is checked once): a check of 1,000 lines takes a few ms (the benchmark in
 * test/extension/suite/editing.test.ts), so the pause is short.
 */
const DEBOUNCE_MS = 10;

const isBpfSource = (doc: vscode.TextDocument): boolean => doc.fileName.endsWith('.bpf.c');

/** The range of a check's 1-based line/column span. */
export function rangeOf(d: { line: number; column: number; endLine: number; endColumn: number }): vscode.Range {
  return new vscode.Range(d.line - 1, d.column - 1, d.endLine - 1, d.endColumn - 1);
}

export class EditingService implements vscode.Disposable {
  readonly diagnostics = vscode.languages.createDiagnosticCollection('dfs-ebpf-check');
  private readonly models = new Map<string, { version: number; model: SourceModel }>();
  private readonly fixes = new Map<string, Map<string, CheckFix[]>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private node: { session: NodeSession; facts: Promise<NodeFacts | null> } | null = null;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly checked = new vscode.EventEmitter<vscode.Uri>();
  /** Fires after a document's diagnostics were published (tests, the benchmark). */
  readonly onDidCheck = this.checked.event;

  constructor(private readonly ctx: Ctx) {
    this.subscriptions.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document, DEBOUNCE_MS)),
      vscode.workspace.onDidCloseTextDocument((d) => this.forget(d.uri)),
      ctx.onDidChangeConnection((state) => {
        if (state.kind === 'connecting') return;
        this.node = null;
        // With a node (or without one now), every open source is checked again.
        for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
      }),
    );
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
  }

  /** The connected node's facts, loaded once per connection; null without a node or when they cannot be read. */
  facts(): Promise<NodeFacts | null> {
    const session = this.ctx.connected;
    if (!session) return Promise.resolve(null);
    if (this.node?.session !== session) {
      const facts = loadNodeFacts(session).catch((err: unknown) => {
        this.ctx.log.warn(`the node's kernel facts for the editor checks: ${describeError(err)}`);
        return null;
      });
      this.node = { session, facts };
    }
    return this.node.facts;
  }

  /** The facts already loaded (no waiting): what hovers and completions use. */
  async loadedFacts(): Promise<NodeFacts | null> {
    return this.node ? this.node.facts : null;
  }

  /** The document's model, read once per version. */
  model(doc: vscode.TextDocument): SourceModel {
    const key = doc.uri.toString();
    const known = this.models.get(key);
    if (known && known.version === doc.version) return known.model;
    const model = scanSource(doc.getText());
    this.models.set(key, { version: doc.version, model });
    return model;
  }

  private schedule(doc: vscode.TextDocument, delay: number): void {
    if (!isBpfSource(doc)) return;
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.check(doc).catch((err: unknown) => this.ctx.log.warn(`check of ${doc.fileName}: ${describeError(err)}`));
      }, delay),
    );
  }

  /**
   * Check a document now against what is known (the first check on a connection waits for the
   * node's facts), publish, then ask the node about targets it has not answered and publish again.
   */
  async check(doc: vscode.TextDocument): Promise<CheckDiagnostic[]> {
    const version = doc.version;
    const model = this.model(doc);
    const node = await this.facts();
    let found = checkSource(model, node?.facts ?? null);
    this.publish(doc, found);
    const asked = node ? unansweredTargets(model, node.facts) : [];
    if (node && asked.length > 0) {
      await node.answer(asked);
      if (doc.version !== version || doc.isClosed) return found;
      found = checkSource(model, node.facts);
      this.publish(doc, found);
    }
    return found;
  }

  /** Check a source by its URI (before a build or verify): opened if needed. */
  async checkUri(uri: vscode.Uri): Promise<CheckDiagnostic[]> {
    return this.check(await vscode.workspace.openTextDocument(uri));
  }

  private publish(doc: vscode.TextDocument, found: CheckDiagnostic[]): void {
    const fixes = new Map<string, CheckFix[]>();
    this.diagnostics.set(
      doc.uri,
      found.map((d) => {
        const diag = new vscode.Diagnostic(
          rangeOf(d),
          d.message,
          d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning,
        );
        diag.source = CHECK_SOURCE;
        diag.code = d.code;
        if (d.fixes) fixes.set(fixKey(diag), d.fixes);
        return diag;
      }),
    );
    this.fixes.set(doc.uri.toString(), fixes);
    this.checked.fire(doc.uri);
  }

  /** The quick fixes of one of our diagnostics. */
  fixesFor(uri: vscode.Uri, diag: vscode.Diagnostic): CheckFix[] {
    return this.fixes.get(uri.toString())?.get(fixKey(diag)) ?? [];
  }

  private forget(uri: vscode.Uri): void {
    const key = uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.models.delete(key);
    this.fixes.delete(key);
    this.diagnostics.delete(uri);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const s of this.subscriptions) s.dispose();
    this.diagnostics.dispose();
    this.checked.dispose();
  }
}

function fixKey(d: vscode.Diagnostic): string {
  const code = typeof d.code === 'object' ? d.code.value : d.code;
  return `${d.range.start.line}:${d.range.start.character}:${code ?? ''}:${d.message}`;
}
