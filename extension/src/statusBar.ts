/**
 * The bypass status bar item: whether a node is connected, whether the bypass is on, and
 * how much traffic it redirected (messages and bytes, from the BPF program's own counters,
 * since redirected bytes are invisible to TCP statistics). Clicking it attaches or detaches.
 */

import * as vscode from 'vscode';
import type { BypassStatus } from '@dfs/protocol';
import { Commands, StatusBarId } from './contributions';

export type BarState =
  | { kind: 'disconnected' }
  | { kind: 'busy'; text: string }
  | { kind: 'connected'; node: string; bypass: BypassStatus };

export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1e6) return `${(n / 1e3).toFixed(1)}k`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)}M`;
  return `${(n / 1e9).toFixed(1)}G`;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** The item's text for a state (pure, so the unit tests can check it). */
export function barText(s: BarState): string {
  switch (s.kind) {
    case 'disconnected':
      return '$(debug-disconnect) DFS: no node';
    case 'busy':
      return `$(sync~spin) DFS: ${s.text}`;
    case 'connected': {
      const c = s.bypass.counters;
      if (!s.bypass.attached) return `$(circle-slash) ${s.node}: bypass off`;
      return `$(zap) ${s.node}: bypass on · ${formatCount(c.redirected_msgs)} msgs · ${formatBytes(c.redirected_bytes)}`;
    }
  }
}

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
          'Click to detach.',
        ].join('\n\n'),
      );
      this.item.command = Commands.detachBypass;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    } else {
      this.item.tooltip =
        s.kind === 'connected' ? `Connected to ${s.node}. Click to attach the bypass.` : 'DFS eBPF: click to attach the bypass';
      this.item.command = s.kind === 'busy' ? undefined : Commands.attachBypass;
      this.item.backgroundColor = undefined;
    }
  }

  dispose(): void {
    this.item.dispose();
  }
}
