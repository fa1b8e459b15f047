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

/** One node of the fleet as the fleet status item sums it: its bypass, or why it is unknown. */
export interface FleetNodeView {
  name: string;
  bypass: BypassStatus | null;
  error?: string;
}

/**
 * The fleet status item: how many nodes, on how many the bypass is on, what they redirected
 * together, and how many could not be read; the tooltip has a line per node.
 */
export function fleetText(nodes: readonly FleetNodeView[]): { text: string; tooltip: string } {
  const on = nodes.filter((n) => n.bypass?.attached);
  const down = nodes.filter((n) => n.error !== undefined && !n.bypass);
  const msgs = on.reduce((s, n) => s + (n.bypass?.counters.redirected_msgs ?? 0), 0);
  const bytes = on.reduce((s, n) => s + (n.bypass?.counters.redirected_bytes ?? 0), 0);
  const parts = [`${nodes.length} nodes`, `bypass ${on.length}/${nodes.length}`];
  if (on.length > 0) parts.push(`${formatCount(msgs)} msgs · ${formatBytes(bytes)}`);
  if (down.length > 0) parts.push(`${down.length} unreachable`);
  const line = (n: FleetNodeView): string => {
    if (!n.bypass) return `${n.name}: ${n.error ?? 'not read yet'}`;
    const c = n.bypass.counters;
    if (!n.bypass.attached) return `${n.name}: bypass off`;
    return `${n.name}: bypass on · ${formatCount(c.redirected_msgs)} msgs · ${formatBytes(c.redirected_bytes)} · ${c.sockets_skipped + n.bypass.remoteLeftAtAttach} remote skipped`;
  };
  return {
    text: `${down.length > 0 ? '$(warning)' : on.length > 0 ? '$(zap)' : '$(server-environment)'} ${parts.join(' · ')}`,
    tooltip: nodes.map(line).join('\n'),
  };
}
