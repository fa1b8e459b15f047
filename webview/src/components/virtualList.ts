/**
 * VirtualList: a list of fixed-height rows that only ever has the visible rows (plus an
 * overscan) in the DOM, so a million-line verifier log scrolls like a short one. It owns its
 * scroller element, a pool of row elements it recycles, the selection and the keyboard
 * (Up/Down/PageUp/PageDown/Home/End, Enter activates); what a row shows is the caller's
 * `renderRow`, which must build it with DOM APIs and textContent only.
 *
 * Browsers cap an element's height (Chromium near 33.5M px, Firefox near 17.9M px), and a
 * million 18 px rows need 18M px. The scroll space is therefore capped at MAX_SCROLL_PX and
 * scaled: the virtual offset is scrollTop × (total − viewport) / (scroll space − viewport),
 * exact at both ends; rows are placed relative to that offset inside a clipped layer, so they
 * never grow the scroll space themselves. Below the cap the scale is exactly 1.
 */

/** Well under every browser's cap; a scale of ~2 at a million rows keeps wheel steps usable. */
const MAX_SCROLL_PX = 10_000_000;

export interface VirtualListOptions {
  /** Row height in CSS pixels; every row has exactly this height. */
  rowHeight: number;
  /** Fill `row` for `index`: children and extra classes (classList), nothing positional. */
  renderRow(row: HTMLElement, index: number): void;
  /** The selection moved (by click, keyboard or select()). */
  onSelect?(index: number, how: 'click' | 'keyboard' | 'api'): void;
  /** Enter on the selected row, or a click on a row (after onSelect). */
  onActivate?(index: number, how: 'click' | 'keyboard'): void;
  /** Rows rendered beyond each edge of the viewport; default 8. */
  overscan?: number;
  ariaLabel: string;
}

export class VirtualList {
  /** The scroller; put it in a container that gives it a height. */
  readonly element: HTMLElement;
  private readonly space: HTMLElement;
  private readonly layer: HTMLElement;
  private readonly rows = new Map<number, HTMLElement>();
  private readonly free: HTMLElement[] = [];
  private readonly overscan: number;
  private readonly idPrefix = `vrow-${Math.random().toString(36).slice(2, 8)}`;
  private count = 0;
  private selected = -1;
  private frame = 0;
  /** Whether the selected row was entirely in view at the last render. */
  private selectionInView = false;

  constructor(private readonly o: VirtualListOptions) {
    this.overscan = o.overscan ?? 8;
    this.element = document.createElement('div');
    this.element.className = 'vlist';
    this.element.tabIndex = 0;
    this.element.setAttribute('role', 'listbox');
    this.element.setAttribute('aria-label', o.ariaLabel);
    this.space = document.createElement('div');
    this.space.className = 'vlist-space';
    this.layer = document.createElement('div');
    this.layer.className = 'vlist-layer';
    this.space.append(this.layer);
    this.element.append(this.space);
    // Layout that correctness depends on is set here, not left to each panel's CSS.
    Object.assign(this.element.style, { position: 'relative', overflowY: 'auto', overflowX: 'hidden' });
    Object.assign(this.space.style, { position: 'relative', overflow: 'clip' });
    Object.assign(this.layer.style, { position: 'absolute', left: '0', right: '0', top: '0' });

    this.element.addEventListener('scroll', () => this.schedule());
    this.element.addEventListener('keydown', (e) => this.onKey(e));
    this.layer.addEventListener('click', (e) => {
      const row = (e.target as Element | null)?.closest<HTMLElement>('.vrow');
      const index = row ? Number(row.dataset.index) : NaN;
      if (!Number.isInteger(index)) return;
      this.element.focus({ preventScroll: true });
      this.select(index, { how: 'click' });
      this.o.onActivate?.(index, 'click');
    });
    // A resize (the panel narrowed beside an editor, say) keeps a selection that was in view there.
    new ResizeObserver(() => {
      const keep = this.selectionInView;
      this.render();
      if (keep && !this.isVisible(this.selected)) this.scrollToIndex(this.selected, true);
    }).observe(this.element);
  }

  get length(): number {
    return this.count;
  }

  get selection(): number {
    return this.selected;
  }

  /** New contents: `count` rows, nothing selected, scrolled to the top. */
  reset(count: number): void {
    this.count = count;
    this.selected = -1;
    this.element.removeAttribute('aria-activedescendant');
    for (const [, row] of this.rows) this.release(row);
    this.rows.clear();
    this.space.style.height = `${Math.min(count * this.o.rowHeight, MAX_SCROLL_PX)}px`;
    this.element.scrollTop = 0;
    this.render();
  }

  /** Render the visible rows again (their data or styling changed). */
  refresh(): void {
    for (const [index, row] of this.rows) this.fill(row, index);
  }

  /** Select `index` (clamped), or nothing when it is negative; scrolls it into view unless
   *  `scroll` is false. onSelect is told about rows, not about clearing. */
  select(index: number, opts: { how?: 'click' | 'keyboard' | 'api'; scroll?: boolean; center?: boolean } = {}): void {
    const previous = this.rows.get(this.selected);
    previous?.classList.remove('selected');
    previous?.setAttribute('aria-selected', 'false');
    if (this.count === 0 || index < 0) {
      this.selected = -1;
      this.element.removeAttribute('aria-activedescendant');
      return;
    }
    const i = Math.min(this.count - 1, index);
    this.selected = i;
    if (opts.scroll !== false) this.scrollToIndex(i, opts.center === true);
    const row = this.rows.get(i);
    row?.classList.add('selected');
    row?.setAttribute('aria-selected', 'true');
    this.element.setAttribute('aria-activedescendant', `${this.idPrefix}-${i}`);
    this.selectionInView = this.isVisible(i);
    this.o.onSelect?.(i, opts.how ?? 'api');
  }

  /** Bring row `index` into view: centred, or else moved just far enough. */
  scrollToIndex(index: number, center = false): void {
    const g = this.geometry();
    const top = index * this.o.rowHeight;
    let v: number;
    if (center) v = top - (g.viewport - this.o.rowHeight) / 2;
    else if (top < g.offset) v = top;
    else if (top + this.o.rowHeight > g.offset + g.viewport) v = top + this.o.rowHeight - g.viewport;
    else return;
    v = Math.max(0, Math.min(g.maxOffset, v));
    // Round towards the row so the scaled position never leaves it a pixel short.
    const scrollTop = v / g.scale;
    this.element.scrollTop = v <= g.offset ? Math.floor(scrollTop) : Math.ceil(scrollTop);
    this.render();
  }

  /** Whether row `index` is entirely inside the viewport. */
  isVisible(index: number): boolean {
    const g = this.geometry();
    const top = index * this.o.rowHeight;
    return top >= g.offset - 0.5 && top + this.o.rowHeight <= g.offset + g.viewport + 0.5;
  }

  private geometry(): { viewport: number; offset: number; maxOffset: number; scale: number } {
    const viewport = this.element.clientHeight;
    const total = this.count * this.o.rowHeight;
    const space = Math.min(total, MAX_SCROLL_PX);
    const maxOffset = Math.max(0, total - viewport);
    const maxScroll = Math.max(0, space - viewport);
    const scale = maxScroll > 0 && maxOffset > maxScroll ? maxOffset / maxScroll : 1;
    const offset = Math.min(maxOffset, this.element.scrollTop * scale);
    return { viewport, offset, maxOffset, scale };
  }

  private schedule(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private render(): void {
    const h = this.o.rowHeight;
    const g = this.geometry();
    if (this.count === 0 || g.viewport === 0) {
      for (const [, row] of this.rows) this.release(row);
      this.rows.clear();
      return;
    }
    const first = Math.max(0, Math.floor(g.offset / h) - this.overscan);
    const last = Math.min(this.count - 1, Math.ceil((g.offset + g.viewport) / h) + this.overscan);
    for (const [index, row] of this.rows) {
      if (index < first || index > last) {
        this.rows.delete(index);
        this.release(row);
      }
    }
    for (let i = first; i <= last; i++) {
      let row = this.rows.get(i);
      if (!row) {
        row = this.free.pop() ?? this.newRow();
        this.rows.set(i, row);
        this.fill(row, i);
        if (!row.isConnected) this.layer.append(row);
      }
      row.style.transform = `translateY(${(i - first) * h}px)`;
    }
    // The layer sits where row `first` belongs in the (capped) scroll space.
    const scrollTop = this.element.scrollTop;
    this.layer.style.transform = `translateY(${scrollTop + first * h - g.offset}px)`;
    this.selectionInView = this.selected >= 0 && this.isVisible(this.selected);
  }

  private newRow(): HTMLElement {
    const row = document.createElement('div');
    row.setAttribute('role', 'option');
    Object.assign(row.style, {
      position: 'absolute',
      left: '0',
      right: '0',
      top: '0',
      height: `${this.o.rowHeight}px`,
      lineHeight: `${this.o.rowHeight}px`,
    });
    return row;
  }

  private fill(row: HTMLElement, index: number): void {
    row.className = 'vrow';
    row.dataset.index = String(index);
    row.id = `${this.idPrefix}-${index}`;
    row.replaceChildren();
    this.o.renderRow(row, index);
    const selected = index === this.selected;
    row.classList.toggle('selected', selected);
    row.setAttribute('aria-selected', String(selected));
  }

  private release(row: HTMLElement): void {
    row.style.transform = 'translateY(-100000px)';
    this.free.push(row);
  }

  private onKey(e: KeyboardEvent): void {
    if (this.count === 0) return;
    const page = Math.max(1, Math.floor(this.element.clientHeight / this.o.rowHeight) - 1);
    const from = this.selected < 0 ? 0 : this.selected;
    const target = {
      ArrowDown: from + 1,
      ArrowUp: from - 1,
      PageDown: from + page,
      PageUp: from - page,
      Home: 0,
      End: this.count - 1,
    }[e.key];
    if (target !== undefined) {
      e.preventDefault();
      this.select(target, { how: 'keyboard' });
    } else if (e.key === 'Enter' && this.selected >= 0) {
      e.preventDefault();
      this.o.onActivate?.(this.selected, 'keyboard');
    }
  }
}
