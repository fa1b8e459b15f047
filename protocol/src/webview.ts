/**
 * Messages between the extension and its webviews (typed postMessage, never HTML with data).
 * Every webview sends `ready` first; the extension answers with its current state.
 */

import type { BypassStatus } from './messages';
import type { ProgramVerdict, SourceLocation } from './verify';
import type { LatencyHistogram, ProfileConfig, ProfileDrops, ProfileUpdate, ProgramCost } from './profile';
import type { MapSummary } from './inspect';

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

// ---------------------------------------------------------------------------------------------
// Profile viewer: a latency-weighted flame graph, sandwich, differential view and histograms.

/**
 * A profile's stacks in the compact form core/src/profile/flame.ts builds (FlameData), for the
 * wire: frame names once, then flat arrays. The numeric arrays travel as the bytes of
 * little-endian typed arrays (VS Code hands a Uint8Array to a webview as binary, where an array
 * of numbers would be JSON-encoded): 100,000 stacks of depth 24 are about 10 MB of bytes
 * instead of a 30 MB JSON string. core's flameToWire / flameFromWire convert.
 */
export interface FlameWire {
  /** Unique frame names; stacks refer to them by index. */
  frames: string[];
  /** Int32 per stack + 1: stack i is stackFrames[offsets[i] .. offsets[i+1]), root first. */
  offsets: Uint8Array;
  /** Int32 frame indices of every stack, concatenated. */
  stackFrames: Uint8Array;
  /** Float64 per stack: its weight, ns. */
  weights: Uint8Array;
  /** Float64 per stack: how many samples or events it stands for. */
  counts: Uint8Array;
  /** One byte per stack: STACK_KIND_CODES index of its kind. */
  kinds: Uint8Array;
}

/** The byte code of each StackKind in FlameWire.kinds (and FlameData.kinds). */
export const STACK_KIND_CODES = ['oncpu', 'offcpu', 'slow'] as const;

/** What the viewer shows about one profile besides its stacks. */
export interface ProfilePanelMeta {
  /** How the viewer names this profile ("dfsnode0, 30 s at 12:00", a file name). */
  label: string;
  node: string;
  mountpoint: string;
  juicefs: string;
  started_at: string;
  duration_s: number;
  drops: ProfileDrops;
  cost: ProgramCost[];
  /** Seconds over which `cost` was counted (Profile.cost_sampled_s); absent: the whole profile. */
  cost_sampled_s?: number;
  config: ProfileConfig;
}

/** One profile as the viewer receives it. */
export interface ProfilePanelProfile {
  meta: ProfilePanelMeta;
  flame: FlameWire;
  histograms: LatencyHistogram[];
  /** Frames that have a source location (the host opens it on `openSource`). */
  withSource: string[];
}

/** A workload run once with the bypass off (the base) and once on (the profile). */
export interface OffOnFigures {
  workload: string;
  /** What the workload did, in words. */
  description: string;
  unit: 'ops/s' | 'runs/s';
  off: { value: number; seconds: number };
  on: { value: number; seconds: number };
  /** on/off of the value: above 1 the bypass helped. */
  ratio: number;
  redirected_msgs: number;
}

/** Extension → profile viewer. */
export type ProfilePanelUpdate =
  | {
      /**
       * Show `profile`. With `base`, the viewer also offers the differential view of base
       * (before, A) → profile (after, B); the histograms view then compares them too.
       */
      type: 'load';
      profile: ProfilePanelProfile;
      base?: ProfilePanelProfile;
      /** "Profile bypass off vs on": the workload's own figures, shown beside the views. */
      figures?: OffOnFigures;
    }
  /** While a profile runs: its cumulative histograms so far (the agent's ProfileUpdate). */
  | ({ type: 'live' } & Omit<ProfileUpdate, 'profileId'>)
  | {
      /** A command started from the panel failed (an import that did not parse, …). */
      type: 'error';
      message: string;
    };

/** What the viewer can export; the host writes the file (DESIGN.md §7 formats). */
export type ProfileExportFormat = 'json' | 'folded' | 'speedscope';

/** Profile viewer → extension. */
export type ProfilePanelRequest =
  | { type: 'ready' }
  /** Open the definition of `frame` (one of the profile's `withSource`). */
  | { type: 'openSource'; frame: string }
  /** Save the shown profile (B when comparing) in `format`. */
  | { type: 'export'; format: ProfileExportFormat }
  /** Ask the user for a profile file (json, folded or speedscope) and load it. */
  | { type: 'import' }
  /** Ask the user for a second profile to compare the shown one with (it becomes the base). */
  | { type: 'compare' };

export function isProfilePanelRequest(m: unknown): m is ProfilePanelRequest {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  switch (r.type) {
    case 'ready':
    case 'import':
    case 'compare':
      return true;
    case 'openSource':
      return typeof r.frame === 'string' && r.frame.length > 0 && r.frame.length <= 4096;
    case 'export':
      return r.format === 'json' || r.format === 'folded' || r.format === 'speedscope';
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Map inspector: one map's entries decoded through BTF, live, editable, with snapshots.
// The host reads and decodes (core/src/inspect); the webview draws the rows it is sent.

/** One column of the table: a key or value field by its dotted path ("peer.port", "bytes[1][2]"). */
export interface MapColumn {
  path: string;
  side: 'key' | 'value';
  /** Numbers (summed over CPUs for per-CPU maps; rates are computed for them). */
  numeric: boolean;
}

export interface MapsPanelMeta {
  node: string;
  map: MapSummary;
  /** C spelling of the key and value types ("struct fx_record"; "8 bytes (no BTF)"). */
  keyType: string;
  valueType: string;
  btf: boolean;
  perCpu: boolean;
  cpus: number;
  columns: MapColumn[];
  /** The value holds a log2 histogram (slots of counts): rows carry `hist` and it is drawn. */
  histogram: boolean;
  /** What the map is, when it has no entries to list (ring buffer, perf buffer). */
  described?: string;
  /** Why entries cannot be written, if they cannot. */
  readOnly?: string;
  /** A socket map: rows carry the socket behind each value's cookie. */
  sockets: boolean;
}

export interface MapRow {
  /** Stable id of the entry (its key as JSON text). */
  id: string;
  /** Display text per column (index as in meta.columns); null: not present. */
  cells: (string | null)[];
  /** Column indexes whose value changed since the previous refresh. */
  changed: number[];
  /** Change per second per column (numeric columns of a live map), null when unknown. */
  rates: (number | null)[];
  /** The key and value as `maps dump` prints them (JSON text), for the editor and details. */
  keyJson: string;
  valueJson: string;
  /** Log2 histogram slots (summed over CPUs) when meta.histogram. */
  hist?: number[];
  /** "127.0.0.1:41234 → 127.0.0.1:6379 established" for a socket map's value cookie. */
  socket?: string;
}

export interface MapQuery {
  /** Case-insensitive text that a row's cells must contain; "" for every row. */
  filter: string;
  sort: { column: number; desc: boolean } | null;
  offset: number;
  limit: number;
}

export interface MapSnapshotInfo {
  id: string;
  label: string;
  entries: number;
  at_ms: number;
}

/** Extension → map inspector. */
export type MapsPanelUpdate =
  | { type: 'meta'; meta: MapsPanelMeta }
  | {
      type: 'rows';
      rows: MapRow[];
      /** Entries in the map, and those that pass the filter. */
      total: number;
      matching: number;
      query: MapQuery;
      at_ms: number;
      /** Refresh period, ms; 0: paused. */
      refreshMs: number;
    }
  | { type: 'ringbuf'; size: number; consumer: number; producer: number; pending: number; at_ms: number }
  | { type: 'snapshots'; snapshots: MapSnapshotInfo[] }
  | {
      type: 'diff';
      /** Snapshot ids (or "live"). */
      a: string;
      b: string;
      added: MapRow[];
      removed: MapRow[];
      /** Rows as in b, with `changed` naming the columns that differ from a. */
      changed: MapRow[];
    }
  /** The outcome of a write, snapshot or export asked for by the webview. */
  | { type: 'result'; ok: boolean; message: string };

export const MAP_REFRESH_CHOICES_MS = [0, 500, 1000, 2000, 5000] as const;

/** Map inspector → extension. */
export type MapsPanelRequest =
  | { type: 'ready' }
  | { type: 'refresh'; ms: number }
  | ({ type: 'query' } & MapQuery)
  /** Key and value as JSON text, in the shape the rows show (keyJson / valueJson). */
  | { type: 'write'; op: 'update' | 'insert' | 'delete'; key: string; value?: string }
  | { type: 'snapshot' }
  | { type: 'diff'; a: string; b: string }
  | { type: 'export'; format: 'json' | 'csv'; snapshot?: string };

const MAX_JSON_TEXT = 1 << 20;

function smallString(v: unknown, max = MAX_JSON_TEXT): v is string {
  return typeof v === 'string' && v.length <= max;
}

function intIn(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

export function isMapsPanelRequest(m: unknown): m is MapsPanelRequest {
  if (typeof m !== 'object' || m === null) return false;
  const r = m as Record<string, unknown>;
  switch (r.type) {
    case 'ready':
    case 'snapshot':
      return true;
    case 'refresh':
      return (MAP_REFRESH_CHOICES_MS as readonly unknown[]).includes(r.ms);
    case 'query': {
      const s = r.sort as Record<string, unknown> | null;
      const sortOk = s === null || (typeof s === 'object' && intIn(s.column, 0, 4096) && typeof s.desc === 'boolean');
      return smallString(r.filter, 1024) && sortOk && intIn(r.offset, 0, 1 << 30) && intIn(r.limit, 1, 10_000);
    }
    case 'write':
      return (
        (r.op === 'update' || r.op === 'insert' || r.op === 'delete') &&
        smallString(r.key) &&
        (r.value === undefined || smallString(r.value)) &&
        (r.op === 'delete' || r.value !== undefined)
      );
    case 'diff':
      return smallString(r.a, 64) && smallString(r.b, 64);
    case 'export':
      return (r.format === 'json' || r.format === 'csv') && (r.snapshot === undefined || smallString(r.snapshot, 64));
    default:
      return false;
  }
}
