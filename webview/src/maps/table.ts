/**
 * The map table: a virtual grid of a map's rows with a sticky two-line header (key / value
 * groups, then one sort button per column), that only ever has the visible rows plus a few in
 * the DOM, so a map of a million entries scrolls like a short one. Rows come from a RowSource
 * (the live pager, which asks the host for the window the view shows, or a diff's rows); a row
 * the source does not have yet is drawn as loading. The view owns its scroller, a pool of row
 * elements, column widths (grown to fit what it has drawn, never shrunk while the columns stay),
 * the selection and the keyboard (Up/Down/PageUp/PageDown/Home/End; Left/Right scroll).
 *
 * The header is tableHead.ts; what a row shows, and how it is kept cheap, is tableRow.ts.
 *
 * Browsers cap an element's height, so the scroll space is capped at MAX_SCROLL_PX and scaled
 * as in components/virtualList.ts: virtual offset = scrollTop × (total − viewport) /
 * (space − viewport), exact at both ends. The User Timing `maps:scroll` runs from a scroll that
 * showed rows the source lacked to the paint of the frame that has them all.
 */

import type { MapColumn, MapRow } from '@dfs/protocol';
import { el } from '../components/dom';
import { afterPaint } from './format';
import { buildHead, columnVar, HIST_VAR, HIST_W, showSort, SOCKET_VAR, STATUS_VAR, type HeadLayout } from './tableHead';
import { RowPainter, type TableRow } from './tableRow';
import './table.css';

export type { RowStatus, TableRow } from './tableRow';

export interface RowSource {
  readonly count: number;
  get(index: number): TableRow | undefined;
  /** The view shows rows first..last: a paged source asks the host for those it lacks. */
  want?(first: number, last: number): void;
}

export interface TableOptions {
  ariaLabel: string;
  /** The selection moved, or the selected row's data arrived or changed. */
  onSelect(index: number, row: MapRow | undefined): void;
  /** Sort by a column; absent: headers are plain labels (a diff is not sorted). */
  onSort?: (column: number) => void;
  /** A first column with the row's status (a diff). */
  statusColumn?: boolean;
}

const MAX_SCROLL_PX = 10_000_000;
const OVERSCAN = 6;
const EMPTY: RowSource = { count: 0, get: () => undefined };

export class MapTableView {
  /** The scroller; put it in a container that gives it a height. */
  readonly element = el('div', undefined, 'mtable');
  private readonly head = el('div', undefined, 'mhead');
  private readonly space = el('div', undefined, 'mspace');
  private readonly emptyNote = el('div', '', 'mempty');
  private readonly rows = new Map<number, HTMLElement>();
  private readonly free: HTMLElement[] = [];
  private readonly idPrefix = `mrow-${Math.random().toString(36).slice(2, 8)}`;
  private readonly painter: RowPainter;
  /** The columns; a new object for new columns (rows built for another are rebuilt). */
  private layout: HeadLayout;
  private widths: number[] = [];
  private source: RowSource = EMPTY;
  private sort: { column: number; desc: boolean } | null = null;
  private selected = -1;
  private frame = 0;
  private headH = 0;
  /** The column widths last set, by CSS variable (setting one restyles every row). */
  private readonly widthVars = new Map<string, string>();
  private scrolledAt: number | null = null;
  private missingSince: number | null = null;

  constructor(
    private readonly o: TableOptions,
    readonly rowHeight: number,
  ) {
    this.painter = new RowPainter(rowHeight, this.idPrefix);
    this.layout = { columns: [], lastKey: -1, histogram: false, socket: false, statusColumn: o.statusColumn === true };
    const e = this.element;
    e.tabIndex = 0;
    e.setAttribute('role', 'grid');
    e.setAttribute('aria-label', o.ariaLabel);
    e.setAttribute('aria-multiselectable', 'false');
    // Layout that correctness depends on is set here, not left to the CSS.
    Object.assign(e.style, { position: 'relative', overflow: 'auto' });
    Object.assign(this.head.style, { position: 'sticky', top: '0', zIndex: '2' });
    Object.assign(this.space.style, { position: 'relative', overflow: 'clip' });
    this.head.setAttribute('role', 'rowgroup');
    this.emptyNote.hidden = true;
    e.append(this.head, this.space, this.emptyNote);
    e.addEventListener('scroll', () => {
      this.scrolledAt ??= performance.now();
      this.schedule();
    });
    e.addEventListener('keydown', (ev) => this.onKey(ev));
    this.space.addEventListener('click', (ev) => {
      const row = (ev.target as Element | null)?.closest<HTMLElement>('.mrow');
      const index = row ? Number(row.dataset.index) : NaN;
      if (!Number.isInteger(index)) return;
      e.focus({ preventScroll: true });
      this.select(index);
    });
    new ResizeObserver(() => {
      this.headH = this.head.offsetHeight;
      this.render();
    }).observe(e);
  }

  get selection(): number {
    return this.selected;
  }

  /** New columns (and the histogram and socket columns after them): widths from the headers,
   *  nothing selected, scrolled to the top. */
  setColumns(columns: MapColumn[], extra: { histogram: boolean; socket: boolean }): void {
    this.layout = {
      columns,
      lastKey: columns.map((c) => c.side).lastIndexOf('key'),
      histogram: extra.histogram,
      socket: extra.socket,
      statusColumn: this.o.statusColumn === true,
    };
    this.widths = columns.map((c) => Math.max(6, c.path.length + 2));
    buildHead(this.head, this.layout, this.o.onSort);
    showSort(this.head, this.sort);
    this.headH = this.head.offsetHeight;
    this.applyWidths();
    this.releaseAll();
    this.selected = -1;
    this.element.scrollTop = 0;
    this.element.scrollLeft = 0;
    this.render();
  }

  /** The sort the headers show (the host sorts). */
  setSort(sort: { column: number; desc: boolean } | null): void {
    this.sort = sort;
    showSort(this.head, sort);
  }

  setSource(source: RowSource): void {
    this.source = source;
    this.releaseAll();
    this.render();
  }

  /** The text shown when there are no rows ("No entries match …"). */
  setEmptyText(text: string): void {
    this.emptyNote.textContent = text;
  }

  /** Scroll to the top and clear the selection (a new filter or sort). */
  resetPosition(): void {
    this.selectNone();
    this.element.scrollTop = 0;
    this.releaseAll();
    this.render();
  }

  /** The theme changed: redraw every visible row in its colours. */
  themeChanged(): void {
    this.painter.themeChanged();
    this.releaseAll();
    this.render();
  }

  /** The source's rows or count changed: redraw what is visible. */
  refresh(): void {
    for (const [index, row] of this.rows) this.fill(row, index);
    this.applyWidths();
    this.render();
    if (this.selected >= this.source.count) this.selectNone();
    if (this.selected >= 0) this.o.onSelect(this.selected, this.source.get(this.selected)?.row);
  }

  focus(): void {
    this.element.focus({ preventScroll: true });
  }

  selectNone(): void {
    this.rows.get(this.selected)?.classList.remove('selected');
    this.rows.get(this.selected)?.setAttribute('aria-selected', 'false');
    this.selected = -1;
    this.element.removeAttribute('aria-activedescendant');
  }

  /** Select row `index` (clamped) and bring it into view unless `scroll` is false. */
  select(index: number, scroll = true): void {
    if (this.source.count === 0) return;
    const i = Math.max(0, Math.min(this.source.count - 1, index));
    this.selectNone();
    this.selected = i;
    if (scroll) this.scrollToIndex(i);
    const row = this.rows.get(i);
    row?.classList.add('selected');
    row?.setAttribute('aria-selected', 'true');
    this.element.setAttribute('aria-activedescendant', `${this.idPrefix}-${i}`);
    this.o.onSelect(i, this.source.get(i)?.row);
  }

  scrollToIndex(index: number): void {
    const g = this.geometry();
    const h = this.rowHeight;
    const top = index * h;
    let v: number;
    if (top < g.offset) v = top;
    else if (top + h > g.offset + g.viewport) v = top + h - g.viewport;
    else return;
    v = Math.max(0, Math.min(g.maxOffset, v));
    const st = v / g.scale;
    this.element.scrollTop = v <= g.offset ? Math.floor(st) : Math.ceil(st);
    this.render();
  }

  private geometry(): { viewport: number; offset: number; maxOffset: number; scale: number } {
    const viewport = Math.max(0, this.element.clientHeight - this.headH);
    const total = this.source.count * this.rowHeight;
    const space = Math.min(total, MAX_SCROLL_PX);
    const maxOffset = Math.max(0, total - viewport);
    const maxScroll = Math.max(0, space - viewport);
    const scale = maxScroll > 0 && maxOffset > maxScroll ? maxOffset / maxScroll : 1;
    return { viewport, offset: Math.min(maxOffset, this.element.scrollTop * scale), maxOffset, scale };
  }

  private schedule(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const h = this.rowHeight;
    const count = this.source.count;
    this.space.style.height = `${Math.min(count * h, MAX_SCROLL_PX)}px`;
    this.emptyNote.hidden = count > 0 || this.emptyNote.textContent === '';
    if (this.element.getAttribute('aria-rowcount') !== String(count + 2))
      this.element.setAttribute('aria-rowcount', String(count + 2));
    // Every read of layout happens here, before the writes below (no forced layout per row).
    const g = this.geometry();
    const scrollTop = this.element.scrollTop;
    const scrolledAt = this.scrolledAt;
    this.scrolledAt = null;
    if (count === 0 || g.viewport <= 0) {
      this.releaseAll();
      return;
    }
    const seenFirst = Math.floor(g.offset / h);
    const seenLast = Math.min(count - 1, Math.ceil((g.offset + g.viewport) / h) - 1);
    const first = Math.max(0, seenFirst - OVERSCAN);
    const last = Math.min(count - 1, seenLast + OVERSCAN);
    for (const [index, row] of this.rows) {
      if (index < first || index > last) {
        this.rows.delete(index);
        this.release(row);
      }
    }
    let grew = false;
    for (let i = first; i <= last; i++) {
      let row = this.rows.get(i);
      if (!row || (row.classList.contains('loading') && this.source.get(i))) {
        row ??= this.free.pop() ?? this.painter.newRow();
        this.rows.set(i, row);
        grew = this.fill(row, i) || grew;
        if (!row.isConnected) this.space.append(row);
      }
      row.style.transform = `translateY(${scrollTop + i * h - g.offset}px)`;
    }
    if (grew) this.applyWidths();
    this.source.want?.(seenFirst, seenLast);
    let missing = false;
    for (let i = seenFirst; i <= seenLast && !missing; i++) missing = !this.source.get(i);
    if (missing && scrolledAt !== null) this.missingSince ??= scrolledAt;
    else if (!missing && this.missingSince !== null) {
      const start = this.missingSince;
      this.missingSince = null;
      afterPaint(() => performance.measure('maps:scroll', { start }));
    }
  }

  /** Column widths are CSS variables on the scroller that each cell's width names (cells are
   *  fixed-width flex items: cheaper to lay out than grid items, measured). */
  private applyWidths(): void {
    const set = (name: string, value: string): void => {
      if (this.widthVars.get(name) === value) return;
      this.widthVars.set(name, value);
      this.element.style.setProperty(name, value);
    };
    this.widths.forEach((w, i) => set(columnVar(i), `calc(${w}ch + 14px)`));
    set(STATUS_VAR, 'calc(10ch + 14px)');
    set(HIST_VAR, `${HIST_W + 14}px`);
    // "255.255.255.255:65535 → 255.255.255.255:65535 established"
    set(SOCKET_VAR, 'calc(58ch + 14px)');
  }

  /** Fills `row` for `index`; true when a column had to grow to fit it. */
  private fill(row: HTMLElement, index: number): boolean {
    return this.painter.paint(row, index, this.source.get(index), this.layout, index === this.selected, this.widths);
  }

  private release(row: HTMLElement): void {
    row.style.transform = 'translateY(-100000px)';
    row.classList.remove('selected');
    this.painter.forget(row);
    this.free.push(row);
  }

  private releaseAll(): void {
    for (const [, row] of this.rows) this.release(row);
    this.rows.clear();
  }

  private onKey(e: KeyboardEvent): void {
    const count = this.source.count;
    if (count === 0 || e.target !== this.element) return;
    const page = Math.max(1, Math.floor(this.geometry().viewport / this.rowHeight) - 1);
    const from = this.selected < 0 ? -1 : this.selected;
    const target = {
      ArrowDown: from + 1,
      ArrowUp: Math.max(0, from - 1),
      PageDown: from + page,
      PageUp: Math.max(0, from - page),
      Home: 0,
      End: count - 1,
    }[e.key];
    if (target === undefined) return;
    e.preventDefault();
    this.select(target);
  }
}
