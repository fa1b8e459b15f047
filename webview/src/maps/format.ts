/**
 * Display text of the map inspector: counts, rates, clock times and log2 slot labels, plus
 * the after-paint hook its timings use. Text only: every value shown is the host's (cells
 * arrive as display text); these helpers only lay numbers out for reading.
 */

import { thousands } from '@dfs/core/profile/histogram';

export { thousands };

/** A change per second as "+12.3/s", "−4/s", "+1.2k/s" (three significant digits). */
export function formatRate(r: number): string {
  const sign = r > 0 ? '+' : '−';
  let a = Math.abs(r);
  let unit = '';
  for (const [limit, suffix] of [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ] as const) {
    if (a >= limit) {
      a /= limit;
      unit = suffix;
      break;
    }
  }
  return `${sign}${Number(a.toPrecision(3))}${unit}/s`;
}

/** A count in at most five characters or so: 980, 26.5k, 1.2M (for labels on a chart). */
export function compactCount(n: number): string {
  if (n < 1000) return String(n);
  for (const [limit, suffix] of [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ] as const) {
    if (n >= limit) return `${Number((n / limit).toPrecision(3))}${suffix}`;
  }
  return String(n);
}

/** "12:04:31" of a time in ms since the Unix epoch (local time, like VS Code's own clocks). */
export function clock(atMs: number): string {
  const d = new Date(atMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** 2^k in short form: 512, 1K, 64M (K, M, G, T are powers of 1024). */
export function powerOfTwo(k: number): string {
  const units = ['', 'K', 'M', 'G', 'T', 'P', 'E'];
  const u = Math.min(units.length - 1, Math.floor(Math.max(0, k) / 10));
  return `${2 ** (k - 10 * u)}${units[u]}`;
}

/** The short label of log2 slot k: slot 0 counts values ≤ 1, slot k values in (2^(k-1), 2^k]. */
export function slotLabel(k: number): string {
  return k === 0 ? '≤1' : powerOfTwo(k);
}

/** The range of log2 slot k in words, for tooltips and screen readers. */
export function slotRange(k: number): string {
  return k === 0 ? '≤ 1' : `(${powerOfTwo(k - 1)}, ${powerOfTwo(k)}]`;
}

/** Runs `fn` once the frame that shows the current DOM has been painted (a task queued from
 *  requestAnimationFrame runs after that frame). */
export function afterPaint(fn: () => void): void {
  requestAnimationFrame(() => {
    const c = new MessageChannel();
    c.port1.onmessage = () => {
      c.port1.close();
      fn();
    };
    c.port2.postMessage(null);
  });
}
