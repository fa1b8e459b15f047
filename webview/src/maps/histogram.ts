/**
 * Log2 histograms of a map's values, drawn on canvas (one canvas per chart, never a DOM node
 * per bar): a small bar chart in a table cell, and the selected row's histogram large, with a
 * label under each slot. Slot 0 counts values ≤ 1 unit and slot k values in (2^(k-1), 2^k]
 * (the host sends the slots, summed over CPUs); this module only draws them. Colours are read
 * from the theme at each draw.
 */

import { cssVar } from '../profile/colours';
import { compactCount, slotLabel, slotRange, thousands } from './format';

/** Sizes a canvas for the device's pixel ratio and returns its context in CSS pixels. */
function prepare(canvas: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  const pw = Math.round(w * dpr);
  const ph = Math.round(h * dpr);
  if (canvas.width !== pw) canvas.width = pw;
  if (canvas.height !== ph) canvas.height = ph;
  canvas.style.width = `${w}px`;
  canvas.style.height = `${h}px`;
  const ctx = canvas.getContext('2d');
  if (!ctx) return null;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  return ctx;
}

/** The colours of a chart, read once per draw of a table (not per cell). */
export interface HistColours {
  bar: string;
  axis: string;
  text: string;
  font: string;
}

export function histColours(): HistColours {
  return {
    bar: cssVar('--vscode-charts-blue', '#3794ff'),
    axis: cssVar('--vscode-descriptionForeground', '#999'),
    text: cssVar('--vscode-foreground', '#ccc'),
    font: cssVar('--vscode-editor-font-family', 'monospace'),
  };
}

/** One row's slots as a small chart: every slot of the array, bars scaled to the row's largest. */
export function drawSmallHistogram(
  canvas: HTMLCanvasElement,
  slots: readonly number[],
  w: number,
  h: number,
  colours: HistColours,
): void {
  const ctx = prepare(canvas, w, h);
  if (!ctx) return;
  const n = Math.max(1, slots.length);
  const max = Math.max(0, ...slots);
  ctx.fillStyle = colours.axis;
  ctx.fillRect(0, h - 1, w, 1);
  if (max <= 0) return;
  const step = w / n;
  ctx.fillStyle = colours.bar;
  for (let k = 0; k < slots.length; k++) {
    const c = slots[k]!;
    if (c <= 0) continue;
    // Any non-zero slot is at least one pixel tall, so a lone count is never invisible.
    const bh = Math.max(1, Math.round(((h - 2) * c) / max));
    ctx.fillRect(Math.floor(k * step), h - 1 - bh, Math.max(1, Math.floor(step) - (step >= 3 ? 1 : 0)), bh);
  }
  canvas.setAttribute('aria-label', summary(slots));
}

/** "n=1,234, most in (512, 1K] (41%)", for screen readers and the details caption. */
export function summary(slots: readonly number[]): string {
  const total = slots.reduce((s, c) => s + c, 0);
  if (total <= 0) return 'empty histogram';
  let mode = 0;
  slots.forEach((c, k) => {
    if (c > slots[mode]!) mode = k;
  });
  return `n=${thousands(total)}, most in ${slotRange(mode)} (${((100 * slots[mode]!) / total).toFixed(0)}%)`;
}

const LARGE_H = 150;

/**
 * The selected row's histogram, `w` CSS pixels wide: the slots from the first to the last
 * non-zero one (at least 8), a bar and a label per slot (every other label when they would
 * touch), each bar's count above it when there is room.
 */
export function drawLargeHistogram(canvas: HTMLCanvasElement, slots: readonly number[], w: number): void {
  const ctx = prepare(canvas, w, LARGE_H);
  if (!ctx) return;
  const c = histColours();
  const nonZero = slots.map((v, k) => (v > 0 ? k : -1)).filter((k) => k >= 0);
  let lo = nonZero[0] ?? 0;
  let hi = nonZero.at(-1) ?? Math.min(7, slots.length - 1);
  // Show at least 8 slots, and one empty slot either side when there is one, for context.
  lo = Math.max(0, lo - 1);
  hi = Math.min(Math.max(slots.length - 1, 0), Math.max(hi + 1, lo + 7));
  const n = hi - lo + 1;
  const max = Math.max(1, ...slots);
  const left = 4;
  const right = w - 4;
  const top = 16;
  const bottom = LARGE_H - 20;
  const step = (right - left) / n;
  ctx.font = `10px ${c.font}`;
  ctx.textBaseline = 'top';
  ctx.textAlign = 'center';
  const labelW = Math.max(...Array.from({ length: n }, (_, i) => ctx.measureText(slotLabel(lo + i)).width));
  const labelEvery = labelW + 4 > step ? Math.ceil((labelW + 4) / step) : 1;
  for (let i = 0; i < n; i++) {
    const k = lo + i;
    const v = slots[k] ?? 0;
    const x = left + i * step;
    const bw = Math.max(1, step - Math.min(4, step * 0.2));
    if (v > 0) {
      const bh = Math.max(1, ((bottom - top) * v) / max);
      ctx.fillStyle = c.bar;
      ctx.fillRect(x, bottom - bh, bw, bh);
      const count = compactCount(v);
      if (ctx.measureText(count).width <= step) {
        ctx.fillStyle = c.text;
        ctx.textBaseline = 'bottom';
        ctx.fillText(count, x + bw / 2, bottom - bh - 2);
        ctx.textBaseline = 'top';
      }
    }
    if (i % labelEvery === 0) {
      ctx.fillStyle = c.axis;
      ctx.fillText(slotLabel(k), x + bw / 2, bottom + 4);
    }
  }
  ctx.fillStyle = c.axis;
  ctx.fillRect(left, bottom, right - left, 1);
  canvas.setAttribute(
    'aria-label',
    `Histogram: ${summary(slots)}. ${slots
      .map((v, k) => (v > 0 ? `${slotRange(k)}: ${thousands(v)}` : ''))
      .filter(Boolean)
      .join('; ')}`,
  );
}
