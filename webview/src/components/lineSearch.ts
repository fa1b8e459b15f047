/**
 * LineSearch: every line of a large array that contains a query, found without stalling the
 * UI. It scans in slices of about 8 ms and yields to the event loop between them (through a
 * MessageChannel, which unlike setTimeout is not clamped to 4 ms). The newest start() wins and
 * cancels the scan before it. Matches grow in line order, so seek() can answer "the next match
 * after line n" while the scan runs, or wait for it. Smart case: a query without capitals
 * matches any case.
 */

const SLICE_MS = 8;
/** Lines between two looks at the clock. */
const BATCH = 4096;

export class LineSearch {
  /** The query of the latest start(); '' when there is none. */
  query = '';
  /** Indexes of the matching lines, ascending; grows while `running`. */
  matches: number[] = [];
  running = false;
  private generation = 0;
  private pending: { from: number; dir: 1 | -1; then: (k: number) => void } | null = null;

  /** `onProgress` runs after every slice, the last one included. */
  constructor(private readonly onProgress: () => void) {}

  start(lines: readonly string[], query: string): void {
    const generation = ++this.generation;
    this.query = query;
    this.matches = [];
    this.pending = null;
    this.running = query !== '';
    if (!this.running) return;
    const fold = query === query.toLowerCase();
    const found = this.matches;
    const channel = new MessageChannel();
    let i = 0;
    const slice = (): void => {
      if (generation !== this.generation) {
        channel.port1.close();
        return;
      }
      const end = performance.now() + SLICE_MS;
      while (i < lines.length && performance.now() < end) {
        for (const stop = Math.min(lines.length, i + BATCH); i < stop; i++) {
          const line = lines[i] ?? '';
          if ((fold ? line.toLowerCase() : line).includes(query)) found.push(i);
        }
      }
      this.running = i < lines.length;
      const waiting = this.pending;
      this.pending = null;
      if (waiting) this.seek(waiting.from, waiting.dir, waiting.then);
      this.onProgress();
      if (this.running) channel.port2.postMessage(null);
      else channel.port1.close();
    };
    channel.port1.onmessage = slice;
    slice();
  }

  /**
   * Calls `then` with the index (into `matches`) of the first match after line `from` (dir 1)
   * or the last one before it (dir -1), wrapping around once the scan is done; until the scan
   * gets that far, the call waits (only the latest waiting seek is kept).
   */
  seek(from: number, dir: 1 | -1, then: (k: number) => void): void {
    const m = this.matches;
    let lo = 0;
    let hi = m.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((m[mid] ?? 0) <= from) lo = mid + 1;
      else hi = mid;
    }
    // m[lo] is the first match after `from`; the one before `from` skips `from` itself.
    let k = dir === 1 ? lo : m[lo - 1] === from ? lo - 2 : lo - 1;
    if (k < 0 || k >= m.length) {
      if (this.running) {
        this.pending = { from, dir, then };
        return;
      }
      k = dir === 1 ? 0 : m.length - 1;
    }
    if (k >= 0 && k < m.length) then(k);
  }
}
