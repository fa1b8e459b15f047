/**
 * The bypass status bar item: whether a node is connected, whether the bypass is on, and
 * how much traffic it redirected (messages and bytes, from the BPF program's own counters,
 * since redirected bytes are invisible to TCP statistics). A view only: it follows the
 * connection (Ctx) and the bypass model and redraws on their events. Clicking it opens the
 * bypass panel when the bypass is on, else attaches it.
 */

import * as vscode from 'vscode';
import type { BypassModel } from './bypass/model';
import { Commands, StatusBarId } from './contributions';
import type { Ctx } from './ctx';
import { barText, type BarState } from './format';

export class BypassStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(StatusBarId, vscode.StatusBarAlignment.Left, 50);
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly ctx: Ctx,
    private readonly model: BypassModel,
  ) {
    this.item.name = 'DFS eBPF bypass';
    this.subscriptions = [ctx.onDidChangeConnection(() => this.redraw()), model.onDidChange(() => this.redraw())];
    this.redraw();
    this.item.show();
  }

  get text(): string {
    return this.item.text;
  }

  private state(): BarState {
    const c = this.ctx.connection;
    if (c.kind === 'connecting') return { kind: 'busy', text: `connecting to ${c.label}` };
    const bypass = this.model.status;
    if (c.kind === 'connected' && bypass) return { kind: 'connected', node: c.session.target.label, bypass };
    if (c.kind === 'connected') return { kind: 'busy', text: `${c.session.target.label}: reading the bypass` };
    return { kind: 'disconnected' };
  }

  private redraw(): void {
    const s = this.state();
    this.item.text = barText(s);
    if (s.kind === 'connected' && s.bypass.attached) {
      const c = s.bypass.counters;
      const eps = s.bypass.endpoints.map((e) => `${e.host}:${e.port} (${e.source})`).join(', ');
      this.item.tooltip = new vscode.MarkdownString(
        [
          `**Bypass on** at \`${s.bypass.mountpoint ?? ''}\` (cgroup \`${s.bypass.cgroup ?? ''}\`)`,
          `Endpoints: ${eps}`,
          `Redirected: ${c.redirected_msgs} messages, ${c.redirected_bytes} bytes`,
          `Misses: ${c.misses} · errors: ${c.errors} · sockets: ${c.sockets_added}`,
          'Click for details.',
        ].join('\n\n'),
      );
      this.item.command = Commands.showBypass;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    } else {
      this.item.tooltip =
        s.kind === 'connected'
          ? `Connected to ${s.node}. Click to attach the bypass.`
          : 'DFS eBPF: click to attach the bypass';
      this.item.command = s.kind === 'busy' ? undefined : Commands.attachBypass;
      this.item.backgroundColor = undefined;
    }
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
    this.item.dispose();
  }
}
