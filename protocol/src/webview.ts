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

// ---------------------------------------------------------------------------------------------
// Verifier log explorer: one program's verifier log beside the C source.

/** A source position as the verifier log names it (`; <text> @ file:line`). */
export interface VerifierLogLocation {
  /** The file's basename, e.g. "bypass.bpf.c". */
  file: string;
  /** 1-based. */
  line: number;
  text: string;
}

/**
 * The part of a program's verdict the explorer shows. core's ProgramVerdict (core/src/verifier/
 * model.ts) is assignable to it, so the extension passes parsed verdicts as they are.
 */
export interface VerifierLogVerdict {
  name: string;
  /** ELF section, e.g. "sk_msg"; "" when unknown (a log read from a file). */
  section: string;
  verdict: 'accepted' | 'rejected';
  insnsProcessed: number | null;
  states: number | null;
  error: {
    /** The verifier's reason. */
    message: string;
    /** The failing instruction index, or null. */
    insn: number | null;
    /** 0-based log line of the failing instruction (or of the error when there is none). */
    logLine: number;
    location: VerifierLogLocation | null;
  } | null;
}

/** One program of the explorer: its verdict and its whole log as the kernel printed it. */
export interface VerifierLogProgram {
  verdict: VerifierLogVerdict;
  /**
   * The log, UTF-8, gzip-compressed. VS Code hands a Uint8Array to a webview as binary, where a
   * string would be JSON-encoded on the way; and a million-line log (60 MiB) shrinks ten-fold
   * or more, which matters when the extension host is remote (code-server, Remote-SSH).
   */
  logGz: Uint8Array;
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
