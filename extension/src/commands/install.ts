/**
 * "Install agent on node…" and "Uninstall agent from node…": core/src/install over SSH, the
 * same steps as `dfs-ebpf node install|uninstall`, with progress in a notification. When sudo
 * on the node asks for the SSH user's password it is asked in a password box, handed to sudo
 * and forgotten: never stored (unlike a key's passphrase), logged or written to settings.
 * After an install the node can be made the one the extension connects to.
 */

import * as vscode from 'vscode';
import { installAgent, uninstallAgent, type InstallResult, type UninstallResult } from '@dfs/core/install';
import { localNodeName } from '@dfs/core/ssh/target';
import { SettingsSection } from '../contributions';
import type { Ctx } from '../ctx';
import { readSettings } from '../settings';

/** The node to act on: the argument, else asked (offering the configured node when it is remote). */
async function askNode(given: string | undefined, action: string): Promise<string | undefined> {
  if (given) return given;
  const configured = readSettings().node;
  const typed = await vscode.window.showInputBox({
    title: `DFS eBPF: ${action}`,
    prompt:
      'The node, as ssh reaches it: user@host[:port] or a Host of ~/.ssh/config (its host key must be in known_hosts)',
    placeHolder: 'jfsadmin@jfs1.example:22 or jfs1',
    value: configured && localNodeName(configured) === null ? configured : '',
    ignoreFocusOut: true,
    validateInput: (v) => (/^\S+$/.test(v.trim()) ? undefined : 'one node: user@host[:port] or an ssh Host'),
  });
  return typed?.trim() || undefined;
}

function options(ctx: Ctx, report: (step: string) => void) {
  const s = readSettings();
  return {
    log: ctx.log,
    progress: report,
    overrides: { knownHostsFile: s.knownHostsFile, identityFile: s.identityFile },
    askPassphrase: (file: string) => ctx.askPassphrase(file),
    askPassword: async (prompt: string) =>
      vscode.window.showInputBox({ title: 'DFS eBPF', prompt, password: true, ignoreFocusOut: true }),
    clientName: `vscode ${vscode.version}`,
  };
}

export function installAgentCommand(ctx: Ctx): (node?: string) => Promise<InstallResult | undefined> {
  return async (given) => {
    const node = await askNode(given, 'Install agent on node');
    if (!node) return undefined;
    try {
      const r = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `DFS eBPF: installing the agent on ${node}` },
        (progress) =>
          installAgent(node, {
            ...options(ctx, (step) => progress.report({ message: step })),
            bundleDir: ctx.agentBundleDir,
          }),
      );
      ctx.log.info(
        `node install ${node}: ${r.result} ${r.installed.version} (build ${r.installed.build}), Node ${r.agent.runtime.node}, libbpf ${r.agent.libbpf}`,
      );
      const use = 'Use this node';
      const current = readSettings().node === node;
      void vscode.window
        .showInformationMessage(
          r.result === 'unchanged'
            ? `DFS eBPF: the agent ${r.installed.version} is already installed on ${r.ssh}; nothing changed.`
            : `DFS eBPF: installed the agent ${r.installed.version} on ${r.ssh} (Node ${r.agent.runtime.node}, libbpf ${r.agent.libbpf}${r.agent.missing_features.length ? `; the kernel lacks ${r.agent.missing_features.join(', ')}` : ''}).`,
          ...(current ? [] : [use]),
        )
        .then(async (pick) => {
          if (pick !== use) return;
          await vscode.workspace
            .getConfiguration(SettingsSection)
            .update('node', node, vscode.ConfigurationTarget.Global);
          ctx.disconnect();
          await ctx.ensureConnected().catch((err: unknown) => ctx.reportError(`cannot connect to ${node}`, err));
        });
      return r;
    } catch (err) {
      ctx.reportError(`cannot install the agent on ${node}`, err);
      return undefined;
    }
  };
}

export function uninstallAgentCommand(ctx: Ctx): (node?: string) => Promise<UninstallResult | undefined> {
  return async (given) => {
    const node = await askNode(given, 'Uninstall agent from node');
    if (!node) return undefined;
    const yes = 'Uninstall';
    const pick = await vscode.window.showWarningMessage(
      `Remove the agent from ${node}? Running agents are stopped, pinned bypasses released, and every file and sudo rule it installed removed.`,
      { modal: true },
      yes,
    );
    if (pick !== yes) return undefined;
    if (ctx.connected?.target.label === node) ctx.disconnect();
    try {
      const r = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `DFS eBPF: removing the agent from ${node}` },
        (progress) =>
          uninstallAgent(
            node,
            options(ctx, (step) => progress.report({ message: step })),
          ),
      );
      void vscode.window.showInformationMessage(
        r.result === 'absent'
          ? `DFS eBPF: nothing of ours was installed on ${r.ssh}.`
          : `DFS eBPF: removed the agent from ${r.ssh}${r.stopped.length ? ` (stopped ${r.stopped.length} running agent${r.stopped.length === 1 ? '' : 's'})` : ''}.`,
      );
      return r;
    } catch (err) {
      ctx.reportError(`cannot remove the agent from ${node}`, err);
      return undefined;
    }
  };
}
