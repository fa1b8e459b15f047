/**
 * `dfs-ebpf profile --compare A.json B.json`: what changed between two Profiles, per latency
 * histogram (count, p50, p99 by layer / op / phase) and per frame (self and total time), as data
 * and as a plain-text table. Pure: no Node, no DOM, no vscode.
 *
 * A frame's total counts each stack once even when the frame recurs in it; its self is the time
 * of stacks that end in it. Times are compared as recorded; when the durations differ the table
 * says so and also gives B's times scaled to A's duration (`scale`), because a longer profile
 * has more time everywhere.
 */

import type { LatencyHistogram, Profile, ProfileLayer, ProfilePhase } from '@dfs/protocol';
import { formatUs, histogramKey, percentiles, sortHistograms } from './histogram';

export interface LayerSide {
  count: number;
  p50Us: number;
  p99Us: number;
}

export interface LayerDiff {
  layer: ProfileLayer;
  op: string;
  phase: ProfilePhase;
  /** null: the histogram is absent from that profile. */
  a: LayerSide | null;
  b: LayerSide | null;
}

export interface FrameDiff {
  frame: string;
  selfA: number;
  selfB: number;
  totalA: number;
  totalB: number;
}

export interface ProfileComparison {
  a: { node: string; duration_s: number; total_ns: number };
  b: { node: string; duration_s: number; total_ns: number };
  /** A's duration over B's (1 when either is 0): multiply B's times by it to compare rates. */
  scale: number;
  layers: LayerDiff[];
  /** Frames by |totalB·scale − totalA|, largest first (at most `maxFrames`). */
  frames: FrameDiff[];
}

function frameTimes(p: Profile): Map<string, { self: number; total: number }> {
  const m = new Map<string, { self: number; total: number }>();
  const get = (f: string): { self: number; total: number } => {
    let v = m.get(f);
    if (!v) m.set(f, (v = { self: 0, total: 0 }));
    return v;
  };
  for (const s of p.stacks) {
    const seen = new Set<string>();
    for (const f of s.frames) {
      if (seen.has(f)) continue;
      seen.add(f);
      get(f).total += s.total_ns;
    }
    const leaf = s.frames[s.frames.length - 1];
    if (leaf !== undefined) get(leaf).self += s.total_ns;
  }
  return m;
}

const side = (h: LatencyHistogram | undefined): LayerSide | null => {
  if (!h) return null;
  const p = percentiles(h);
  return { count: h.count, p50Us: p.p50Us, p99Us: p.p99Us };
};

export function compareProfiles(a: Profile, b: Profile, options: { maxFrames?: number } = {}): ProfileComparison {
  const scale = a.duration_s > 0 && b.duration_s > 0 ? a.duration_s / b.duration_s : 1;
  const hb = new Map(b.histograms.map((h) => [histogramKey(h), h]));
  const ha = new Map(a.histograms.map((h) => [histogramKey(h), h]));
  const keys = new Map<string, LatencyHistogram>();
  for (const h of sortHistograms([...a.histograms, ...b.histograms]))
    if (!keys.has(histogramKey(h))) keys.set(histogramKey(h), h);
  const layers: LayerDiff[] = [...keys.entries()].map(([k, h]) => ({
    layer: h.layer,
    op: h.op,
    phase: h.phase ?? 'total',
    a: side(ha.get(k)),
    b: side(hb.get(k)),
  }));
  const fa = frameTimes(a);
  const fb = frameTimes(b);
  const names = new Set([...fa.keys(), ...fb.keys()]);
  const frames: FrameDiff[] = [...names].map((frame) => ({
    frame,
    selfA: fa.get(frame)?.self ?? 0,
    selfB: fb.get(frame)?.self ?? 0,
    totalA: fa.get(frame)?.total ?? 0,
    totalB: fb.get(frame)?.total ?? 0,
  }));
  const moved = (f: FrameDiff): number => Math.abs(f.totalB * scale - f.totalA);
  frames.sort((x, y) => moved(y) - moved(x) || (x.frame < y.frame ? -1 : 1));
  const sum = (p: Profile): number => p.stacks.reduce((s, x) => s + x.total_ns, 0);
  return {
    a: { node: a.node, duration_s: a.duration_s, total_ns: sum(a) },
    b: { node: b.node, duration_s: b.duration_s, total_ns: sum(b) },
    scale,
    layers,
    frames: frames.slice(0, options.maxFrames ?? 30),
  };
}

const ms = (ns: number): string => (ns / 1e6).toFixed(ns >= 1e8 ? 0 : 2);
const pct = (a: number, b: number): string => {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return '';
  if (a === 0) return b === 0 ? '0%' : 'new';
  const c = ((b - a) / a) * 100;
  return `${c >= 0 ? '+' : ''}${c.toFixed(Math.abs(c) < 10 ? 1 : 0)}%`;
};

function table(rows: string[][], rightFrom: number): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (c >= rightFrom ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The comparison as plain text: a header, the histogram table and the frame table. */
export function comparisonTable(c: ProfileComparison): string {
  const out: string[] = [
    `A: ${c.a.node || '(unnamed)'}, ${c.a.duration_s} s, ${ms(c.a.total_ns)} ms of stacks`,
    `B: ${c.b.node || '(unnamed)'}, ${c.b.duration_s} s, ${ms(c.b.total_ns)} ms of stacks`,
  ];
  if (c.scale !== 1) out.push(`Durations differ: "B·scale" is B's time × ${c.scale.toFixed(3)} (A's duration / B's).`);
  out.push('', 'Latency histograms');
  const h: string[][] = [
    ['layer', 'op', 'phase', 'count A', 'count B', 'p50 A', 'p50 B', 'Δp50', 'p99 A', 'p99 B', 'Δp99'],
  ];
  for (const l of c.layers) {
    h.push([
      l.layer,
      l.op,
      l.phase,
      l.a ? String(l.a.count) : '–',
      l.b ? String(l.b.count) : '–',
      l.a ? formatUs(l.a.p50Us) : '–',
      l.b ? formatUs(l.b.p50Us) : '–',
      l.a && l.b ? pct(l.a.p50Us, l.b.p50Us) : '',
      l.a ? formatUs(l.a.p99Us) : '–',
      l.b ? formatUs(l.b.p99Us) : '–',
      l.a && l.b ? pct(l.a.p99Us, l.b.p99Us) : '',
    ]);
  }
  out.push(c.layers.length ? table(h, 3) : '(none)', '', 'Frames (ms; total counts each stack once)');
  const f: string[][] = [
    ['frame', 'self A', 'self B', 'Δself', 'total A', 'total B', 'Δtotal', ...(c.scale !== 1 ? ['total B·scale'] : [])],
  ];
  for (const x of c.frames) {
    f.push([
      x.frame.length > 80 ? '…' + x.frame.slice(-79) : x.frame,
      ms(x.selfA),
      ms(x.selfB),
      pct(x.selfA, x.selfB * c.scale),
      ms(x.totalA),
      ms(x.totalB),
      pct(x.totalA, x.totalB * c.scale),
      ...(c.scale !== 1 ? [ms(x.totalB * c.scale)] : []),
    ]);
  }
  out.push(c.frames.length ? table(f, 1) : '(no stacks)');
  return out.join('\n') + '\n';
}
