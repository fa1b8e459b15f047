/**
 * One profile as plain text, for the CLI and the extension's output: the per-layer latency
 * table (count, mean, p50, p99 read off the log2 buckets by histogram.ts), the frames that
 * took the most time (self and total, each frame counted once per stack), drops and the
 * programs' own cost. Pure.
 */

import type { Profile } from '@dfs/protocol';
import { formatMs, formatUs, percentiles, sortHistograms } from './histogram';

function table(rows: string[][], rightFrom: number): string[] {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (c >= rightFrom ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** The frames with the most time: [frame, self ns, total ns], by total. */
export function topFrames(p: Profile, n: number): [string, number, number][] {
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const s of p.stacks) {
    const seen = new Set<string>();
    for (const f of s.frames) {
      if (seen.has(f)) continue; // recursion: count a frame once per stack
      seen.add(f);
      total.set(f, (total.get(f) ?? 0) + s.total_ns);
    }
    const leaf = s.frames[s.frames.length - 1];
    if (leaf !== undefined) self.set(leaf, (self.get(leaf) ?? 0) + s.total_ns);
  }
  return [...total.entries()]
    .map(([f, t]): [string, number, number] => [f, self.get(f) ?? 0, t])
    .sort((a, b) => b[2] - a[2] || (a[0] < b[0] ? -1 : 1))
    .slice(0, n);
}

export function profileSummary(p: Profile, frames = 15): string {
  const out = [
    `${p.node}: ${p.mountpoint} (JuiceFS ${p.juicefs}), ${p.duration_s} s from ${p.started_at}`,
    '',
    'Latency',
  ];
  const rows = [['layer', 'op', 'phase', 'count', 'mean', 'p50', 'p99']];
  for (const h of sortHistograms(p.histograms)) {
    const q = percentiles(h);
    rows.push([
      h.layer,
      h.op,
      h.phase ?? 'total',
      String(h.count),
      formatUs(q.meanUs),
      formatUs(q.p50Us),
      formatUs(q.p99Us),
    ]);
  }
  out.push(...(rows.length > 1 ? table(rows, 3) : ['  (no requests seen)']));
  const top = topFrames(p, frames);
  out.push('', `Time by frame (${p.stacks.length} stacks; on- and off-CPU)`);
  if (top.length === 0) out.push('  (no stacks)');
  else out.push(...table([['frame', 'self', 'total'], ...top.map(([f, s, t]) => [f, formatMs(s), formatMs(t)])], 1));
  const d = p.drops;
  if (d.events + d.stacks + d.inflight > 0)
    out.push('', `Dropped: ${d.events} events, ${d.stacks} stacks, ${d.inflight} in-flight starts (maps full)`);
  if (p.cost.length > 0) {
    const ns = p.cost.reduce((s, c) => s + c.run_time_ns, 0);
    const runs = p.cost.reduce((s, c) => s + c.run_cnt, 0);
    const over =
      p.cost_sampled_s !== undefined
        ? `, counted over ${p.cost_sampled_s.toFixed(1)} of ${p.duration_s.toFixed(1)} s`
        : '';
    out.push(
      '',
      `Profiler cost in the kernel: ${formatMs(ns)} in ${runs} program runs (${runs ? formatUs(ns / runs / 1000) : '–'} each)${over}`,
    );
  }
  return out.join('\n');
}
