/**
 * The fleet's two views over FleetModel: the fleet status bar item (shown while the extension
 * knows more than one node: nodes, on how many the bypass is on, what they redirected together,
 * a line per node in its tooltip; click: the Nodes view) and the Nodes view (each node with its
 * bypass state, or why it could not be read, and which one the editor is connected to). Views only: they redraw on the model's events.
 */

import * as vscode from 'vscode';
import { formatBytes, formatCount } from '@dfs/protocol';
import { Commands, FleetStatusBarId } from '../contributions';
import { fleetText } from '../format';
import type { FleetModel } from './model';

export class FleetStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(FleetStatusBarId, vscode.StatusBarAlignment.Left, 49);
  private readonly subscription: vscode.Disposable;

  constructor(private readonly model: FleetModel) {
    this.item.name = 'DFS eBPF nodes';
    this.item.command = 'dfsEbpf.nodes.focus';
    this.subscription = model.onDidChange(() => this.redraw());
    this.redraw();
    model.start();
  }

  get text(): string {
    return this.item.text;
  }

  private redraw(): void {
    const names = this.model.nodes();
    if (names.length < 2) {
      this.item.hide();
      return;
    }
    const { text, tooltip } = fleetText(names.map((n) => this.model.state(n)));
    this.item.text = text;
    this.item.tooltip = tooltip;
    this.item.show();
  }

  dispose(): void {
    this.subscription.dispose();
    this.item.dispose();
  }
}

export class NodesView implements vscode.TreeDataProvider<string>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;
  private readonly view: vscode.TreeView<string>;

  constructor(private readonly model: FleetModel) {
    this.subscription = model.onDidChange(() => this.changed.fire(undefined));
    this.view = vscode.window.createTreeView('dfsEbpf.nodes', { treeDataProvider: this });
    this.view.onDidChangeVisibility((e) => {
      if (e.visible) void model.refresh();
    });
  }

  getChildren(element?: string): string[] {
    return element === undefined ? this.model.nodes() : [];
  }

  getTreeItem(name: string): vscode.TreeItem {
    const st = this.model.state(name);
    const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None);
    item.contextValue = 'node';
    // The node the explorer, the inspector, verify and profile work on ("Connect to node…").
    const here = this.model.isConnected(name) ? 'connected · ' : '';
    if (!st.bypass) {
      item.description = `${here}${st.error ?? 'not read yet'}`;
      item.iconPath = new vscode.ThemeIcon(st.error ? 'warning' : 'server');
      item.tooltip = st.error ?? `${name}: not read yet (${Commands.refreshNodes})`;
      return item;
    }
    const c = st.bypass.counters;
    item.iconPath = new vscode.ThemeIcon(st.bypass.attached ? 'zap' : 'circle-slash');
    const skipped = c.sockets_skipped + st.bypass.remoteLeftAtAttach;
    item.description =
      here +
      (st.bypass.attached
        ? `bypass on · ${formatCount(c.redirected_msgs)} msgs · ${formatBytes(c.redirected_bytes)}${skipped > 0 ? ` · ${skipped} remote skipped` : ''}`
        : 'bypass off');
    item.tooltip = [
      `${name}: bypass ${st.bypass.attached ? `on (${st.bypass.owner ?? ''})` : 'off'}`,
      ...(st.bypass.attached
        ? [
            `redirected ${c.redirected_msgs} messages, ${c.redirected_bytes} bytes`,
            `remote peers skipped: ${c.sockets_skipped} at connect, ${st.bypass.remoteLeftAtAttach} open at attach`,
            `endpoints: ${st.bypass.endpoints.map((e) => `${e.host}:${e.port}`).join(', ')}`,
          ]
        : []),
      ...(st.error ? [`last error: ${st.error}`] : []),
    ].join('\n');
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.view.dispose();
    this.changed.dispose();
  }
}
