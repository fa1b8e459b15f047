/**
 * Pure text formatting for the status bar and messages (no vscode import, so unit tests run
 * it directly): the status bar text for each state.
 */

import { formatBytes, formatCount, type BypassStatus } from '@dfs/protocol';

export type BarState =
  { kind: 'disconnected' } | { kind: 'busy'; text: string } | { kind: 'connected'; node: string; bypass: BypassStatus };

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
