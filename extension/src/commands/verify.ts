/**
 * "Build BPF programs", "Verify on test node", verify-on-save, and the two ways into the
 * verifier log explorer ("Show verifier log" of the last verification, "Open verifier log…"). Verification builds the
 * source for the connected node's kernel, has that kernel verify every program, and puts the
 * result where the user is looking: diagnostics on the failing line, the budget CodeLens, and
 * a notification that opens the verifier log explorer.
 */

import * as vscode from 'vscode';
import type { VerifyOutcome } from '@dfs/core/verifier/verify';
import type { Ctx } from '../ctx';
import { Commands } from '../contributions';
import { readSettings } from '../settings';
import type { EditingService } from '../editing/service';
import type { VerifierService } from '../verifier/service';
import type { VerifierLogExplorer } from '../webview/verifierLogPanel';

/** The given source, else the active editor's `.bpf.c`. */
export function bpfSourceOf(arg: vscode.Uri | undefined): vscode.Uri | undefined {
  if (arg) return arg;
  const doc = vscode.window.activeTextEditor?.document;
  return doc && doc.fileName.endsWith('.bpf.c') ? doc.uri : undefined;
}

export function buildCommand(ctx: Ctx, service: VerifierService, editing: EditingService): () => Promise<void> {
  return async () => {
    try {
      const session = await ctx.ensureConnected();
      // The checks before the verifier first, on the open sources (their findings in Problems).
      await Promise.all(
        vscode.workspace.textDocuments.filter((d) => d.fileName.endsWith('.bpf.c')).map((d) => editing.check(d)),
      );
      const res = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `DFS eBPF: building for ${session.target.label}` },
        () => service.build(session),
      );
      const failed = res.results.filter((r) => !r.ok).length;
      const msg = `built ${res.results.length - failed} of ${res.results.length} BPF programs for ${session.info.kernel.release}${failed ? ` (${failed} failed: see Problems)` : ''}`;
      ctx.log.info(msg);
      if (failed) void vscode.window.showWarningMessage(`DFS eBPF: ${msg}`);
      else void vscode.window.setStatusBarMessage(`DFS eBPF: ${msg}`, 5000);
    } catch (err) {
      ctx.reportError('build failed', err);
    }
  };
}

export function verifyCommand(
  ctx: Ctx,
  service: VerifierService,
  editing: EditingService,
): (source?: vscode.Uri) => Promise<void> {
  return async (arg?: vscode.Uri) => {
    const source = bpfSourceOf(arg);
    if (!source) {
      void vscode.window.showInformationMessage('DFS eBPF: open a .bpf.c file to verify it on the test node.');
      return;
    }
    try {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === source.fsPath);
      if (doc?.isDirty) await doc.save();
      const session = await ctx.ensureConnected();
      await editing.checkUri(source); // the checks before the verifier: their findings come first
      const v = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `DFS eBPF: verifying on ${session.target.label}` },
        () => service.verify(session, source),
      );
      if (!v) {
        void vscode.window.showWarningMessage(
          `DFS eBPF: ${vscode.workspace.asRelativePath(source)} does not compile (see Problems).`,
        );
        return;
      }
      const rejected = v.outcome.programs.filter((p) => p.verdict.verdict === 'rejected');
      if (rejected.length === 0) {
        void vscode.window.setStatusBarMessage(
          `DFS eBPF: ${v.outcome.programs.length} programs verified on ${v.outcome.kernel} in ${v.elapsedMs} ms`,
          5000,
        );
        return;
      }
      const first = rejected[0]?.verdict;
      const e = first?.error;
      // Not awaited: the command completes when the diagnostics are published, not when the
      // user answers the notification.
      const reason = e ? `: ${e.message}${e.location ? ` (line ${e.location.line})` : ''}` : '';
      void vscode.window
        .showErrorMessage(
          `DFS eBPF: the verifier rejected ${rejected.map((p) => p.verdict.name).join(', ')}${reason}`,
          'Show Verifier Log',
        )
        .then((choice) => {
          if (choice === 'Show Verifier Log')
            void vscode.commands.executeCommand(Commands.showVerifierLog, source, first?.name);
        });
    } catch (err) {
      ctx.reportError('verification failed', err);
    }
  };
}

/** Verify a saved `.bpf.c` when enabled and a node is connected (never connects by itself). */
export function verifyOnSave(ctx: Ctx, service: VerifierService): vscode.Disposable {
  return vscode.workspace.onDidSaveTextDocument((doc) => {
    if (!doc.fileName.endsWith('.bpf.c') || !readSettings()['verify.onSave']) return;
    const session = ctx.connected;
    if (!session) return;
    const savedAt = Date.now();
    service
      .verify(session, doc.uri, savedAt)
      .catch((err: unknown) => ctx.reportError('verification on save failed', err));
  });
}

/** "Show verifier log": the last verification of a source, in the log explorer. */
export function showVerifierLogCommand(
  ctx: Ctx,
  service: VerifierService,
  explorer: VerifierLogExplorer,
): (source?: vscode.Uri, program?: string) => Promise<void> {
  return async (arg?: vscode.Uri, program?: string) => {
    const source = bpfSourceOf(arg);
    let v = source ? service.last(source) : undefined;
    try {
      if (source && !v) {
        // Nothing verified yet: verify first, then show.
        const session = await ctx.ensureConnected();
        v = (await service.verify(session, source)) ?? undefined;
      }
      if (!source || !v) {
        void vscode.window.showInformationMessage(
          'DFS eBPF: open a .bpf.c that compiles, then verify it, to see its verifier log.',
        );
        return;
      }
      await showOutcome(explorer, source, v.outcome, program);
    } catch (err) {
      ctx.reportError('cannot show the verifier log', err);
    }
  };
}

/** One verification in the log explorer: the program named, else the first rejected one. */
export async function showOutcome(
  explorer: VerifierLogExplorer,
  source: vscode.Uri,
  outcome: VerifyOutcome,
  program?: string,
): Promise<void> {
  const programs = outcome.programs;
  const named = programs.findIndex((p) => p.verdict.name === program);
  const rejected = programs.findIndex((p) => p.verdict.verdict === 'rejected');
  explorer.show({
    programs: programs.map((p) => ({ verdict: p.verdict, log: p.log, lines: p.lines })),
    selected: named >= 0 ? named : Math.max(0, rejected),
    source: { uri: source, text: (await vscode.workspace.openTextDocument(source)).getText() },
  });
}

/** "Open verifier log…": a saved log file (e.g. from CI), given as a URI argument or picked. */
export function openVerifierLogCommand(ctx: Ctx, explorer: VerifierLogExplorer): (file?: vscode.Uri) => Promise<void> {
  return async (arg?: vscode.Uri) => {
    const picked = arg
      ? [arg]
      : await vscode.window.showOpenDialog({
          title: 'Open a verifier log',
          canSelectMany: false,
          filters: { 'Verifier logs': ['log', 'txt'], 'All files': ['*'] },
        });
    const uri = picked?.[0];
    if (!uri) return;
    try {
      await explorer.openFile(uri);
    } catch (err) {
      ctx.reportError(`cannot open ${uri.fsPath}`, err);
    }
  };
}
