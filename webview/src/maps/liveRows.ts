/**
 * The live table's rows: a window cache of what the host sent, and the `query` requests that
 * fetch the window the view shows. The host filters, sorts and pages; this module never does:
 * it remembers the current filter and sort, asks for rows around the visible ones (WINDOW rows,
 * at most one request per THROTTLE_MS, the latest wins), files each `rows` answer under its
 * offset, and drops answers to a filter or sort it has since left. The host keeps refreshing
 * the last window asked for, so the visible rows stay live. Rows far from the last window are
 * evicted (the cache holds a few windows, whatever the map's size).
 */

import type { MapQuery, MapRow, MapsPanelUpdate } from '@dfs/protocol';
import type { RowSource, TableRow } from './table';

type RowsUpdate = Extract<MapsPanelUpdate, { type: 'rows' }>;
export type Sort = MapQuery['sort'];

/** Rows asked for around the visible ones (a screen is ~40). */
export const WINDOW = 240;
const THROTTLE_MS = 40;
const KEEP = 3 * WINDOW;

const keyOf = (filter: string, sort: Sort): string =>
  JSON.stringify([filter, sort ? sort.column : -1, sort ? sort.desc : false]);

export class LiveRows implements RowSource {
  count = 0;
  total = 0;
  filter = '';
  sort: Sort = null;
  /** Whether an answer for the current filter and sort has arrived. */
  answered = false;
  private cache = new Map<number, TableRow>();
  /** The keys of filters and sorts asked for before the current one (their answers are stale). */
  private readonly left = new Set<string>();
  private sent: { offset: number; limit: number } | null = null;
  private lastSentAt = -Infinity;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private wanted: { first: number; last: number } = { first: 0, last: 0 };
  /** performance.now() when each refresh (the host's at_ms) first arrived: its fade's start. */
  private readonly arrivals = new Map<number, number>();

  constructor(private readonly post: (q: MapQuery) => void) {}

  get(index: number): TableRow | undefined {
    return this.cache.get(index);
  }

  /** A new filter or sort: forget every row and ask for the first window. */
  setQuery(filter: string, sort: Sort): void {
    const before = keyOf(this.filter, this.sort);
    if (before !== keyOf(filter, sort)) this.left.add(before);
    this.left.delete(keyOf(filter, sort));
    this.filter = filter;
    this.sort = sort;
    this.cache.clear();
    this.answered = false;
    this.sent = null;
    this.wanted = { first: 0, last: 0 };
    this.send({ offset: 0, limit: WINDOW });
  }

  /** Ask for the window the view shows again (after `meta`, say). */
  requery(): void {
    this.sent = null;
    this.want(this.wanted.first, this.wanted.last);
  }

  want(first: number, last: number): void {
    this.wanted = { first, last };
    const s = this.sent;
    if (s && first >= s.offset && last < s.offset + s.limit) return;
    const span = last - first + 1;
    const offset = Math.max(0, first - Math.floor((WINDOW - span) / 2));
    const w = { offset, limit: Math.max(WINDOW, span) };
    const wait = this.lastSentAt + THROTTLE_MS - performance.now();
    clearTimeout(this.timer);
    if (wait <= 0) this.send(w);
    else this.timer = setTimeout(() => this.want(this.wanted.first, this.wanted.last), wait);
  }

  private send(w: { offset: number; limit: number }): void {
    clearTimeout(this.timer);
    this.sent = w;
    this.lastSentAt = performance.now();
    this.post({ filter: this.filter, sort: this.sort, offset: w.offset, limit: w.limit });
  }

  /**
   * Files a `rows` answer; false when it answers a filter or sort that was left (ignored). An
   * answer for a query this view never sent (the host's first window) is taken as current.
   */
  receive(m: RowsUpdate): boolean {
    const q = m.query;
    const key = keyOf(q.filter, q.sort);
    if (key !== keyOf(this.filter, this.sort)) {
      if (this.left.has(key)) return false;
      this.filter = q.filter;
      this.sort = q.sort;
      this.cache.clear();
    }
    this.answered = true;
    this.total = m.total;
    this.count = m.matching;
    let arrived = this.arrivals.get(m.at_ms);
    if (arrived === undefined) {
      arrived = performance.now();
      this.arrivals.set(m.at_ms, arrived);
      // Only the latest refreshes matter (a row seen later fades from when its refresh came).
      for (const at of this.arrivals.keys()) if (this.arrivals.size > 8) this.arrivals.delete(at);
    }
    m.rows.forEach((row: MapRow, i) => this.cache.set(q.offset + i, { row, changedAt: arrived }));
    for (const index of this.cache.keys()) {
      if (index >= this.count || index < q.offset - KEEP || index >= q.offset + q.limit + KEEP)
        this.cache.delete(index);
    }
    return true;
  }

  /** The index of the row with `id` among those cached, or -1. */
  indexOf(id: string): number {
    for (const [index, r] of this.cache) if (r.row.id === id) return index;
    return -1;
  }
}
