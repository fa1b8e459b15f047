/**
 * Messages between the extension and its webviews (typed postMessage, never HTML with data).
 * Every webview sends `ready` first; the extension answers with its current state.
 */

import type { BypassStatus } from './messages';

/** Extension → bypass panel. */
export type BypassPanelUpdate = {
  type: 'state';
  /** Connected node's label, or null when no node is connected. */
  node: string | null;
  bypass: BypassStatus | null;
  /** The last failure of a command run from the panel, if any. */
  error: string | null;
};

/** Bypass panel → extension. */
export type BypassPanelRequest = { type: 'ready' } | { type: 'attach' } | { type: 'detach' } | { type: 'connect' };

export function isBypassPanelRequest(m: unknown): m is BypassPanelRequest {
  const t = (m as { type?: unknown } | null)?.type;
  return t === 'ready' || t === 'attach' || t === 'detach' || t === 'connect';
}
