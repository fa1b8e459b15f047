/**
 * One row of the map table: its elements, built once per column layout and then only updated
 * (new text in existing cells costs far less style and layout work than new cells), and left
 * alone when a refresh brings the same row again, so its fading highlights keep running. Cells
 * are the host's display text (textContent only); a numeric cell shows its rate beside it; a
 * cell in `changed` fades from a highlight counted from when its refresh arrived (a diff's stay
 * marked); the histogram column is one small canvas; a socket map's socket column is text.
 */

import type { MapRow } from '@dfs/protocol';
import { el } from '../components/dom';
import { cssVar } from '../profile/colours';
import { formatRate } from './format';
import { drawSmallHistogram, histColours, type HistColours } from './histogram';
import { cellClass, columnVar, HIST_VAR, HIST_W, SOCKET_VAR, STATUS_VAR, type HeadLayout } from './tableHead';

export type RowStatus = 'added' | 'removed' | 'changed';

export interface TableRow {
  row: MapRow;
  /** performance.now() when the refresh that set row.changed arrived (its fade starts there);
   *  null: changed cells stay marked (a diff). */
  changedAt: number | null;
  status?: RowStatus;
}

export const FADE_MS = 2500;
/** A column grows to fit its cells up to this many characters (then they end in "…"). */
const MAX_CH = 40;
const STATUS_TEXT: Record<RowStatus, string> = { added: '+ added', removed: '− removed', changed: '~ changed' };

interface CellParts {
  cell: HTMLElement;
  rate: HTMLElement;
  v: HTMLElement;
  /** The fading highlight, and the refresh it is for. */
  fade: Animation | null;
  fadeFrom: number | null;
}

interface RowParts {
  layout: HeadLayout;
  status: HTMLElement | null;
  cells: CellParts[];
  canvas: HTMLCanvasElement | null;
  socket: HTMLElement | null;
}

function setText(e: HTMLElement, text: string): void {
  if (e.textContent !== text) e.textContent = text;
}

export class RowPainter {
  /** What each row element shows (see the header). */
  private readonly drawn = new WeakMap<HTMLElement, string>();
  private readonly parts = new WeakMap<HTMLElement, RowParts>();
  /** Theme colours, read once (getComputedStyle forces a style pass). */
  private colours: HistColours | null = null;
  private changedColour: string | null = null;

  constructor(
    private readonly rowHeight: number,
    private readonly idPrefix: string,
  ) {}

  /** A new row element, positioned by the table. */
  newRow(): HTMLElement {
    const row = el('div');
    row.setAttribute('role', 'row');
    Object.assign(row.style, {
      position: 'absolute',
      left: '0',
      top: '0',
      height: `${this.rowHeight}px`,
      lineHeight: `${this.rowHeight}px`,
    });
    return row;
  }

  /** The row element is free again: its next paint draws everything. */
  forget(row: HTMLElement): void {
    this.drawn.delete(row);
  }

  themeChanged(): void {
    this.colours = null;
    this.changedColour = null;
  }

  /**
   * Shows `data` (undefined: not received yet) as row `index` of a table laid out as `layout`;
   * grows `widths` (characters per column) to fit it and says whether any grew.
   */
  paint(
    row: HTMLElement,
    index: number,
    data: TableRow | undefined,
    layout: HeadLayout,
    selected: boolean,
    widths: number[],
  ): boolean {
    const r = data?.row;
    const sig = r
      ? `${index}\u0001${data.status ?? ''}\u0001${r.changed.length > 0 ? data.changedAt : ''}\u0001${r.changed.join()}\u0001${r.rates.join()}\u0001${r.cells.join('\u0000')}\u0001${r.hist?.join() ?? ''}\u0001${r.socket ?? ''}`
      : `${index}\u0001loading`;
    if (this.drawn.get(row) === sig) return false;
    this.drawn.set(row, sig);
    let p = this.parts.get(row);
    if (!p || p.layout !== layout) p = this.build(row, layout);
    const cls = `mrow${index % 2 === 1 ? ' odd' : ''}${selected ? ' selected' : ''}${
      data ? (data.status ? ` ${data.status}` : '') : ' loading'
    }`;
    if (row.className !== cls) row.className = cls;
    row.dataset.index = String(index);
    row.id = `${this.idPrefix}-${index}`;
    row.setAttribute('aria-rowindex', String(index + 3));
    row.setAttribute('aria-selected', String(selected));
    if (p.status) setText(p.status, data?.status ? STATUS_TEXT[data.status] : '');
    const since = data?.changedAt === null || !data ? 0 : performance.now() - data.changedAt;
    let grew = false;
    p.cells.forEach((cp, i) => {
      const c = layout.columns[i]!;
      const text = r ? (r.cells[i] ?? null) : null;
      const rate = r && c.numeric ? (r.rates[i] ?? null) : null;
      const rateText = rate !== null && rate !== 0 && Number.isFinite(rate) ? formatRate(rate) : '';
      setText(cp.rate, rateText);
      setText(cp.v, r ? (text ?? '—') : i === 0 ? 'loading…' : '');
      cp.v.classList.toggle('none', r !== undefined && text === null);
      const title = r ? (rateText ? `${text ?? '—'} (${rateText})` : (text ?? 'not present')) : '';
      if (cp.cell.title !== title) cp.cell.title = title;
      const changed = r !== undefined && r.changed.includes(i);
      cp.cell.classList.toggle('diff-changed', changed && data?.changedAt === null);
      this.fade(cp, changed && data?.changedAt != null && since < FADE_MS ? data.changedAt : null, since);
      const want = Math.min(MAX_CH, (text?.length ?? 1) + (rateText ? rateText.length + 1 : 0) + 1);
      if (want > (widths[i] ?? 0)) {
        widths[i] = want;
        grew = true;
      }
    });
    if (p.canvas) {
      this.colours ??= histColours();
      drawSmallHistogram(p.canvas, r?.hist ?? [], HIST_W, this.rowHeight - 6, this.colours);
    }
    if (p.socket) {
      setText(p.socket, r?.socket ?? '');
      if (p.socket.title !== (r?.socket ?? '')) p.socket.title = r?.socket ?? '';
    }
    return grew;
  }

  private build(row: HTMLElement, layout: HeadLayout): RowParts {
    const status = layout.statusColumn ? el('div', '', 'cell status') : null;
    if (status) status.style.width = `var(${STATUS_VAR})`;
    const cells = layout.columns.map((_, i): CellParts => {
      const cell = el('div', undefined, `cell ${cellClass(layout, i)}`);
      cell.style.width = `var(${columnVar(i)})`;
      cell.setAttribute('role', 'gridcell');
      const rate = el('span', '', 'rate');
      const v = el('span', '', 'v');
      cell.append(rate, v);
      return { cell, rate, v, fade: null, fadeFrom: null };
    });
    let canvas: HTMLCanvasElement | null = null;
    const all = [...(status ? [status] : []), ...cells.map((c) => c.cell)];
    if (layout.histogram) {
      const cell = el('div', undefined, 'cell hist');
      cell.style.width = `var(${HIST_VAR})`;
      canvas = el('canvas');
      canvas.setAttribute('role', 'img');
      cell.append(canvas);
      all.push(cell);
    }
    let socket: HTMLElement | null = null;
    if (layout.socket) {
      socket = el('div', '', 'cell value socket');
      socket.style.width = `var(${SOCKET_VAR})`;
      socket.setAttribute('role', 'gridcell');
      all.push(socket);
    }
    row.replaceChildren(...all);
    const parts = { layout, status, cells, canvas, socket };
    this.parts.set(row, parts);
    return parts;
  }

  /** Starts a cell's fading highlight for the refresh that arrived at `from` (already `since`
   *  ms into it), keeps the one running for that refresh, or ends it (`from` null). */
  private fade(cp: CellParts, from: number | null, since: number): void {
    if (cp.fadeFrom === from) return;
    cp.fade?.cancel();
    cp.fade = null;
    cp.fadeFrom = from;
    if (from === null) return;
    this.changedColour ??= cssVar('--vscode-charts-yellow', '#cca700');
    const reduce = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    cp.fade = cp.cell.animate(
      [
        { backgroundColor: `color-mix(in srgb, ${this.changedColour} 45%, transparent)` },
        { backgroundColor: 'transparent' },
      ],
      { duration: FADE_MS, easing: reduce ? 'steps(1, end)' : 'ease-out' },
    );
    cp.fade.currentTime = since;
  }
}
