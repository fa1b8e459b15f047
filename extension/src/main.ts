/**
 * Extension entry point: activate() only wires. It builds the Ctx (which owns every
 * lifetime), the feature models and views, registers the command factories with their typed
 * arguments, and returns the API the extension tests use.
 */

import * as vscode from 'vscode';
import { describeError } from '@dfs/core/errors';
import { BypassModel } from './bypass/model';
import { attachBypassCommand, detachBypassCommand } from './commands/bypass';
import { connectCommand, disconnectCommand, showLogCommand } from './commands/node';
import { compareProfilesCommand, profileNodeCommand, profileOffOnCommand } from './commands/profile';
import {
  copyIdCommand,
  detachLinkCommand,
  MapInspectors,
  openMapCommand,
  refreshExplorerCommand,
  verifyProgramCommand,
} from './commands/inspect';
import {
  attachBypassNodesCommand,
  detachBypassNodesCommand,
  profileNodesCommand,
  refreshNodesCommand,
  useNodeCommand,
  verifyNodesCommand,
} from './commands/fleet';
import { installAgentCommand, uninstallAgentCommand } from './commands/install';
import { FleetModel } from './fleet/model';
import { FleetStatusBar, NodesView } from './fleet/views';
import { registerCommands } from './commands/registry';
import {
  buildCommand,
  openVerifierLogCommand,
  showVerifierLogCommand,
  verifyCommand,
  verifyOnSave,
} from './commands/verify';
import { Commands } from './contributions';
import { Ctx, type ExtensionApi } from './ctx';
import { NodeExplorer } from './inspect/nodeExplorer';
import { readSettings } from './settings';
import { BypassStatusBar } from './statusBar';
import { BudgetCodeLens } from './verifier/codeLens';
import { VerifierService } from './verifier/service';
import { EditingService } from './editing/service';
import { registerEditingProviders } from './editing/providers';
import { registerTasks } from './verifier/task';
import { bypassPanelCommand } from './webview/bypassPanel';
import { createWorkspaceCommand, newProgramCommand } from './commands/new';
import { ProfileViewer } from './webview/profilePanel';
import { VerifierLogExplorer } from './webview/verifierLogPanel';

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const ctx = new Ctx(context);
  context.subscriptions.push(ctx);
  const bypass = new BypassModel(ctx);
  const verifier = new VerifierService(ctx);
  const editing = new EditingService(ctx);
  ctx.push(editing);
  for (const d of registerEditingProviders(editing)) ctx.push(d);
  const budget = new BudgetCodeLens(verifier);
  const explorer = new VerifierLogExplorer(ctx);
  ctx.push(bypass);
  const statusBar = new BypassStatusBar(ctx, bypass);
  ctx.push(statusBar);
  ctx.push(verifier);
  ctx.push(budget);
  ctx.push(explorer);
  const profiles = new ProfileViewer(ctx);
  ctx.push(profiles);
  const nodeExplorer = new NodeExplorer(ctx);
  ctx.push(nodeExplorer);
  const maps = new MapInspectors(ctx);
  ctx.push(maps);
  const fleet = new FleetModel(ctx);
  ctx.push(fleet);
  const fleetStatusBar = new FleetStatusBar(fleet);
  ctx.push(fleetStatusBar);
  ctx.push(new NodesView(fleet));
  ctx.push(vscode.languages.registerCodeLensProvider({ pattern: '**/*.bpf.c' }, budget));
  ctx.push(registerTasks(ctx, verifier));
  ctx.push(verifyOnSave(ctx, verifier));

  for (const d of registerCommands(
    {
      [Commands.connect]: connectCommand(ctx),
      [Commands.disconnect]: disconnectCommand(ctx),
      [Commands.attachBypass]: attachBypassCommand(ctx, bypass, verifier),
      [Commands.detachBypass]: detachBypassCommand(ctx, bypass),
      [Commands.showLog]: showLogCommand(ctx),
      [Commands.showBypass]: bypassPanelCommand(ctx, bypass),
      [Commands.build]: buildCommand(ctx, verifier, editing),
      [Commands.verify]: verifyCommand(ctx, verifier, editing),
      [Commands.showVerifierLog]: showVerifierLogCommand(ctx, verifier, explorer),
      [Commands.openVerifierLog]: openVerifierLogCommand(ctx, explorer),
      [Commands.profileNode]: profileNodeCommand(ctx, profiles),
      [Commands.compareProfiles]: compareProfilesCommand(ctx, profiles),
      [Commands.profileBypassOffOn]: profileOffOnCommand(ctx, profiles),
      [Commands.openMap]: openMapCommand(ctx, maps),
      [Commands.refreshNodeExplorer]: refreshExplorerCommand(nodeExplorer),
      [Commands.detachLink]: detachLinkCommand(ctx, nodeExplorer),
      [Commands.verifyProgram]: verifyProgramCommand(),
      [Commands.copyId]: copyIdCommand(),
      [Commands.installAgent]: installAgentCommand(ctx),
      [Commands.uninstallAgent]: uninstallAgentCommand(ctx),
      [Commands.attachBypassNodes]: attachBypassNodesCommand(ctx, fleet),
      [Commands.detachBypassNodes]: detachBypassNodesCommand(ctx, fleet),
      [Commands.refreshNodes]: refreshNodesCommand(fleet),
      [Commands.verifyNodes]: verifyNodesCommand(ctx, fleet, verifier, explorer),
      [Commands.profileNodes]: profileNodesCommand(ctx, fleet, profiles),
      [Commands.useNode]: useNodeCommand(ctx, fleet, bypass),
      [Commands.newProgram]: newProgramCommand(ctx),
      [Commands.createWorkspace]: createWorkspaceCommand(ctx),
    },
    ctx.log,
  ))
    ctx.push(d);

  const { version } = context.extension.packageJSON as { version: string };
  ctx.log.info(`DFS eBPF ${version} activated`);
  if (readSettings().autoConnect) {
    // Quietly: a node that is not up is logged, not shown; commands report errors loudly.
    ctx.ensureConnected().catch((err: unknown) => ctx.log.info(`not connected at startup: ${describeError(err)}`));
  }
  return { ctx, verifier, editing, bypass, statusBar, profiles, nodeExplorer, maps, fleet, fleetStatusBar };
}

export function deactivate(): void {
  // Ctx is disposed through context.subscriptions, which closes the node session.
}
