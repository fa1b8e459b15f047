/**
 * The bypass status bar item: whether a node is connected, whether the bypass is on, and
 * how much traffic it redirected (messages and bytes, from the BPF program's own counters,
 * since redirected bytes are invisible to TCP statistics). Clicking it opens the bypass panel.
 */

import * as vscode from 'vscode';
import { Commands, StatusBarId } from './contributions';
import { barText, type BarState } from './format';

export class BypassStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(StatusBarId, vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.item.name = 'DFS eBPF bypass';
    this.render({ kind: 'disconnected' });
    this.item.show();
  }

  get text(): string {
    return this.item.text;
  }

  render(s: BarState): void {
    this.item.text = barText(s);
    if (s.kind === 'connected' && s.bypass.attached) {
      const c = s.bypass.counters;
      const eps = s.bypass.endpoints.map((e) => `${e.host}:${e.port} (${e.source})`).join(', ');
      this.item.tooltip = new vscode.MarkdownString(
        [
          `**Bypass on** at \`${s.bypass.cgroup ?? ''}\``,
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
    this.item.dispose();
  }
}
