/**
 * The bypass panel ("DFS eBPF: Show bypass"): one webview panel at a time, fed with the
 * Ctx's state whenever it changes and on the webview's `ready`; its buttons run the same
 * commands as the palette. The HTML comes from html.ts; data only by postMessage.
 */

import * as vscode from 'vscode';
import { isBypassPanelRequest, type BypassPanelUpdate } from '@dfs/protocol';
import { Commands } from '../contributions';
import type { Ctx } from '../ctx';
import { webviewHtml } from './html';

export class BypassPanel implements vscode.Disposable {
  private static current: BypassPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  static show(ctx: Ctx): BypassPanel {
    if (BypassPanel.current) {
      BypassPanel.current.panel.reveal();
      return BypassPanel.current;
    }
    BypassPanel.current = new BypassPanel(ctx);
    return BypassPanel.current;
  }

  private readonly panel: vscode.WebviewPanel;

  private constructor(private readonly ctx: Ctx) {
    const root = vscode.Uri.joinPath(ctx.extension.extensionUri, 'dist', 'webview');
    this.panel = vscode.window.createWebviewPanel('dfsEbpf.bypass', 'DFS eBPF: Bypass', vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [root],
      retainContextWhenHidden: false,
    });
    const web = this.panel.webview;
    web.html = webviewHtml({
      cspSource: web.cspSource,
      scriptUri: web.asWebviewUri(vscode.Uri.joinPath(root, 'bypass.js')).toString(),
      styleUri: web.asWebviewUri(vscode.Uri.joinPath(root, 'bypass.css')).toString(),
      title: 'DFS eBPF: Bypass',
    });
    this.disposables.push(
      web.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      ctx.onDidChange(() => this.update()),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  private onMessage(m: unknown): void {
    if (!isBypassPanelRequest(m)) {
      this.ctx.log.warn(`bypass panel sent an unknown message: ${JSON.stringify(m)}`);
      return;
    }
    const command = {
      ready: undefined,
      attach: Commands.attachBypass,
      detach: Commands.detachBypass,
      connect: Commands.connect,
    }[m.type];
    if (command) void vscode.commands.executeCommand(command).then(() => this.update());
    else this.update();
  }

  private update(): void {
    const s = this.ctx.connected;
    const msg: BypassPanelUpdate = {
      type: 'state',
      node: s ? s.target.label : null,
      bypass: s ? this.ctx.bypass : null,
      error: this.ctx.lastError ?? null,
    };
    void this.panel.webview.postMessage(msg);
  }

  dispose(): void {
    if (BypassPanel.current === this) BypassPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
