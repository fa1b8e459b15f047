/**
 * The latency histograms view: per layer (FUSE, syscalls, metadata engine, object store, cache
 * disk) one row per op; a FUSE op has three charts side by side (total, queue, daemon). Each
 * chart is a small canvas of the log2 buckets (the x axis is log2, shared by the layer's charts
 * so they compare at a glance) with p50 and p99 drawn as lines; the numbers are also text
 * beside it (readable by screen readers and copyable). With a base profile (compare), the
 * base's buckets are drawn as an outline and the text gives both percentiles and the change.
 * Percentiles come from core's histogram.ts (how they are interpolated is said there); this
 * module only draws. It rebuilds its DOM on every render (a few dozen charts at most).
 */

import type { LatencyHistogram, ProfileLayer } from '@dfs/protocol';
import { formatUs, histogramKey, percentiles, sortHistograms, thousands } from '@dfs/core/profile/histogram';
import { el } from '../components/dom';
import { cssVar } from './colours';

const LAYER_TITLES: Record<ProfileLayer, string> = {
  fuse: 'FUSE requests',
  syscall: 'System calls on the mount',
  meta: 'Metadata engine',
  object: 'Object store',
  block: 'Cache disk (block I/O)',
};

const CHART_W = 300;
const CHART_H = 96;

const change = (a: number, b: number): string => {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a === 0) return '';
  const c = ((b - a) / a) * 100;
  return ` (${c >= 0 ? '+' : '−'}${Math.abs(c).toFixed(Math.abs(c) < 10 ? 1 : 0)}%)`;
};

export function renderHistograms(
  container: HTMLElement,
  histograms: readonly LatencyHistogram[],
  base: readonly LatencyHistogram[] | null,
): void {
  container.replaceChildren();
  if (histograms.length === 0) {
    container.append(el('p', 'No latency histograms in this profile.', 'placeholder'));
    return;
  }
  const baseBy = new Map((base ?? []).map((h) => [histogramKey(h), h]));
  const sorted = sortHistograms(histograms);
  const layers = [...new Set(sorted.map((h) => h.layer))];
  for (const layer of layers) {
    const mine = sorted.filter((h) => h.layer === layer);
    const all = [...mine, ...mine.map((h) => baseBy.get(histogramKey(h))).filter((h): h is LatencyHistogram => !!h)];
    const les = all.flatMap((h) => h.buckets.filter((b) => b.count > 0).map((b) => b.le_us));
    const lo = Math.max(0, Math.floor(Math.log2(Math.max(1, Math.min(...les)))) - 1);
    const hi = Math.ceil(Math.log2(Math.max(1, Math.max(...les))));
    const section = el('section', undefined, 'hist-layer');
    section.append(el('h2', LAYER_TITLES[layer]));
    const ops = [...new Set(mine.map((h) => h.op))];
    for (const op of ops) {
      const row = el('div', undefined, 'hist-op');
      row.append(el('div', op, 'hist-op-name'));
      const charts = el('div', undefined, 'hist-charts');
      for (const h of mine.filter((x) => x.op === op)) {
        charts.append(chart(h, baseBy.get(histogramKey(h)) ?? null, lo, hi));
      }
      row.append(charts);
      section.append(row);
    }
    container.append(section);
  }
}

function chart(h: LatencyHistogram, base: LatencyHistogram | null, lo: number, hi: number): HTMLElement {
  const fig = el('figure', undefined, 'hist-chart');
  const p = percentiles(h);
  const b = base ? percentiles(base) : null;
  const phase = h.phase ?? 'total';
  const cap = el('figcaption');
  cap.append(el('span', phase, 'hist-phase'), el('span', ` n=${thousands(h.count)}`, 'hist-n'));
  const lines = el('div', undefined, 'hist-numbers');
  const line = (label: string, cls: string, now: number, was: number | undefined): HTMLElement => {
    const s = el('span', undefined, cls);
    s.textContent =
      was === undefined
        ? `${label} ${formatUs(now)}`
        : `${label} ${formatUs(was)} → ${formatUs(now)}${change(was, now)}`;
    return s;
  };
  lines.append(
    line('p50', 'p50', p.p50Us, b?.p50Us),
    line('p99', 'p99', p.p99Us, b?.p99Us),
    el('span', `mean ${formatUs(p.meanUs)}`, 'hist-mean'),
  );
  const canvas = document.createElement('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute(
    'aria-label',
    `${h.layer} ${h.op} ${phase}: ${h.count} requests, p50 ${formatUs(p.p50Us)}, p99 ${formatUs(p.p99Us)}`,
  );
  fig.append(cap, canvas, lines);
  draw(canvas, h, base, lo, hi, p.p50Us, p.p99Us);
  return fig;
}

/** x in [0, 1] of a latency on the log2 axis from 2^lo to 2^hi µs (linear inside a bucket). */
function xOf(us: number, lo: number, hi: number): number {
  if (!(us > 0)) return 0;
  const k = Math.ceil(Math.log2(us));
  const lower = 2 ** (k - 1);
  const pos = k - 1 + Math.min(1, Math.max(0, (us - lower) / lower));
  return Math.min(1, Math.max(0, (pos - lo) / Math.max(1, hi - lo)));
}

function draw(
  canvas: HTMLCanvasElement,
  h: LatencyHistogram,
  base: LatencyHistogram | null,
  lo: number,
  hi: number,
  p50: number,
  p99: number,
): void {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = CHART_W * dpr;
  canvas.height = CHART_H * dpr;
  canvas.style.width = `${CHART_W}px`;
  canvas.style.height = `${CHART_H}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const fg = cssVar('--vscode-foreground', '#ccc');
  const muted = cssVar('--vscode-descriptionForeground', '#999');
  const bar = cssVar('--vscode-charts-blue', '#3794ff');
  const baseColour = cssVar('--vscode-charts-yellow', '#cca700');
  const p50Colour = cssVar('--vscode-charts-green', '#89d185');
  const p99Colour = cssVar('--vscode-charts-red', '#f14c4c');
  const font = cssVar('--vscode-font-family', 'sans-serif');
  const top = 16;
  const bottom = CHART_H - 16;
  const left = 4;
  const right = CHART_W - 4;
  const plotW = right - left;
  const max = Math.max(1, ...h.buckets.map((b) => b.count), ...(base?.buckets.map((b) => b.count) ?? []));
  const barsOf = (hist: LatencyHistogram, fill: boolean): void => {
    for (const b of hist.buckets) {
      if (b.count <= 0) continue;
      const k = Math.ceil(Math.log2(Math.max(1, b.le_us)));
      const x0 = left + ((k - 1 - lo) / Math.max(1, hi - lo)) * plotW;
      const x1 = left + ((k - lo) / Math.max(1, hi - lo)) * plotW;
      const y = bottom - ((bottom - top) * b.count) / max;
      if (fill) ctx.fillRect(x0 + 0.5, y, Math.max(1, x1 - x0 - 1), bottom - y);
      else ctx.strokeRect(x0 + 0.5, y + 0.5, Math.max(1, x1 - x0 - 1), bottom - y - 0.5);
    }
  };
  ctx.fillStyle = bar;
  barsOf(h, true);
  if (base) {
    ctx.strokeStyle = baseColour;
    ctx.lineWidth = 1;
    barsOf(base, false);
  }
  // Axis and its end labels.
  ctx.strokeStyle = muted;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(left, bottom + 0.5);
  ctx.lineTo(right, bottom + 0.5);
  ctx.stroke();
  ctx.font = `10px ${font}`;
  ctx.fillStyle = muted;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(formatUs(2 ** lo), left, bottom + 3);
  ctx.textAlign = 'right';
  ctx.fillText(formatUs(2 ** hi), right, bottom + 3);
  ctx.textAlign = 'center';
  const mid = Math.round((lo + hi) / 2);
  ctx.fillText(formatUs(2 ** mid), left + ((mid - lo) / Math.max(1, hi - lo)) * plotW, bottom + 3);
  // p50 and p99 lines, labels above the plot, kept apart when the lines are close.
  const marker = (us: number, colour: string, label: string, align: CanvasTextAlign): void => {
    if (!Number.isFinite(us)) return;
    const x = left + xOf(us, lo, hi) * plotW;
    ctx.strokeStyle = colour;
    ctx.setLineDash([3, 2]);
    ctx.beginPath();
    ctx.moveTo(Math.round(x) + 0.5, top - 2);
    ctx.lineTo(Math.round(x) + 0.5, bottom);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = colour;
    ctx.textBaseline = 'bottom';
    ctx.textAlign = x < 40 ? 'left' : x > CHART_W - 40 ? 'right' : align;
    ctx.fillText(label, x + (ctx.textAlign === 'right' ? -2 : ctx.textAlign === 'left' ? 2 : 0), top - 3);
  };
  marker(p50, p50Colour, 'p50', 'right');
  marker(p99, p99Colour, 'p99', 'left');
  ctx.fillStyle = fg;
}
