/**
 * Pure text formatting for the status bar and messages (no vscode import, so unit tests run
 * it directly): counts, byte sizes, and the status bar text for each state.
 */

import type { BypassStatus } from '@dfs/protocol';

export type BarState =
  { kind: 'disconnected' } | { kind: 'busy'; text: string } | { kind: 'connected'; node: string; bypass: BypassStatus };

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
