/**
 * Extension entry point: activate() only wires. It builds the Ctx (which owns every
 * lifetime), registers the command factories and returns the API the extension tests use.
 */

import * as vscode from 'vscode';
import { attachBypassCommand, detachBypassCommand } from './commands/bypass';
import { connectCommand, disconnectCommand, showLogCommand } from './commands/node';
import { Commands } from './contributions';
import { Ctx, type ExtensionApi } from './ctx';
import { readSettings } from './settings';
import { BypassPanel } from './webview/bypassPanel';
import {
  buildCommand,
  openVerifierLogCommand,
  showVerifierLogCommand,
  verifyCommand,
  verifyOnSave,
} from './commands/verify';
import { BudgetCodeLens } from './verifier/codeLens';
import { VerifierService } from './verifier/service';
import { registerTasks } from './verifier/task';
import { describeError } from '@dfs/core/errors';

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const ctx = new Ctx(context);
  context.subscriptions.push(ctx);
  const verifier = new VerifierService(ctx);
  const budget = new BudgetCodeLens(verifier);
  ctx.push(verifier);
  ctx.push(budget);
  ctx.push(vscode.languages.registerCodeLensProvider({ pattern: '**/*.bpf.c' }, budget));
  ctx.push(registerTasks(ctx, verifier));
  ctx.push(verifyOnSave(ctx, verifier));

  const register = (id: string, fn: (...args: unknown[]) => unknown): void =>
    ctx.push(vscode.commands.registerCommand(id, fn));
  register(Commands.connect, connectCommand(ctx));
  register(Commands.disconnect, disconnectCommand(ctx));
  register(Commands.attachBypass, attachBypassCommand(ctx, verifier));
  register(Commands.detachBypass, detachBypassCommand(ctx));
  register(Commands.showLog, showLogCommand(ctx));
  register(Commands.showBypass, () => BypassPanel.show(ctx));
  register(Commands.build, buildCommand(ctx, verifier));
  register(Commands.verify, verifyCommand(ctx, verifier));
  register(Commands.showVerifierLog, showVerifierLogCommand(ctx, verifier));
  register(Commands.openVerifierLog, openVerifierLogCommand(ctx));

  const { version } = context.extension.packageJSON as { version: string };
  ctx.log.info(`DFS eBPF ${version} activated`);
  if (readSettings().autoConnect) {
    // Quietly: a node that is not up is logged, not shown; commands report errors loudly.
    ctx.ensureConnected().catch((err: unknown) => ctx.log.info(`not connected at startup: ${describeError(err)}`));
  }
  return { ctx, verifier };
}

export function deactivate(): void {
  // Ctx is disposed through context.subscriptions, which closes the node session.
}
