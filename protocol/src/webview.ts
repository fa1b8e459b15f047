/**
 * Messages between the extension and its webviews (typed postMessage, never HTML with data).
 * Every webview sends `ready` first; the extension answers with its current state.
 */

import type { BypassStatus } from './messages';
import type { ProgramVerdict, SourceLocation } from './verify';

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

// ---------------------------------------------------------------------------------------------
// Verifier log explorer: one program's verifier log beside the C source.

/**
 * One program of the explorer: its verdict, its whole log as the kernel printed it, and where
 * each log line is in the source, as core's parser decided (core/src/verifier/parse.ts
 * LineSources): the explorer draws that and never reads the log's annotations itself, so it
 * opens the line the diagnostic names.
 */
export interface VerifierLogProgram {
  verdict: ProgramVerdict;
  /**
   * The log, UTF-8, gzip-compressed. VS Code hands a Uint8Array to a webview as binary, where a
   * string would be JSON-encoded on the way; and a million-line log (60 MiB) shrinks ten-fold
   * or more, which matters when the extension host is remote (code-server, Remote-SSH).
   */
  logGz: Uint8Array;
  /** The distinct source locations of the log's lines. */
  locations: SourceLocation[];
  /**
   * Per log line (the log split on '\n'), an index into `locations` or -1, as little-endian
   * int32 (lineIndexToBytes), gzip-compressed: a few bytes per thousand lines.
   */
  lineLocationsGz: Uint8Array;
}

/** LineSources.at as bytes for the wire: one little-endian int32 per log line. */
export function lineIndexToBytes(at: Int32Array): Uint8Array {
  const bytes = new Uint8Array(at.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < at.length; i++) view.setInt32(i * 4, at[i] ?? -1, true);
  return bytes;
}

/** The inverse of lineIndexToBytes. */
export function lineIndexFromBytes(bytes: Uint8Array): Int32Array {
  const at = new Int32Array(bytes.byteLength >> 2);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < at.length; i++) at[i] = view.getInt32(i * 4, true);
  return at;
}

/** Extension → verifier log explorer, after every `ready` and whenever another log is shown. */
export type VerifierLogPanelUpdate = {
  type: 'load';
  programs: VerifierLogProgram[];
  /** Index into `programs` of the program to show first. */
  selected: number;
  /** The C source the log annotates (`@ name:line`), or null when it was not found. */
  source: { name: string; text: string } | null;
};

/** Verifier log explorer → extension. */
export type VerifierLogPanelRequest =
  | { type: 'ready' }
  /** The user picked an instruction: open `file` at 1-based `line` in an editor. */
  | { type: 'reveal'; file: string; line: number }
  /** The user switched programs; the extension remembers it for the next `load`. */
  | { type: 'selectProgram'; index: number };

export function isVerifierLogPanelRequest(m: unknown): m is VerifierLogPanelRequest {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  const count = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  switch (r.type) {
    case 'ready':
      return true;
    case 'reveal':
      return typeof r.file === 'string' && count(r.line) && (r.line as number) >= 1;
    case 'selectProgram':
      return count(r.index);
    default:
      return false;
  }
}
