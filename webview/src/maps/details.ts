/**
 * The selected row's details: its key and value as `maps dump` prints them, re-indented (a
 * per-CPU value is an array with one element per CPU), the socket behind a socket map's value,
 * and its log2 histogram drawn large with slot labels. It draws the row it is given (the host's
 * text) and redraws the histogram when its width changes or the theme does.
 */

import type { MapRow, MapsPanelMeta } from '@dfs/protocol';
import { el } from '../components/dom';
import { drawLargeHistogram, summary } from './histogram';
import { prettyJson } from './json';

export class DetailsView {
  readonly element = el('section', undefined, 'details');
  private readonly title = el('h2', 'Details');
  private readonly note = el('span', '', 'details-note');
  private readonly body = el('div', undefined, 'details-body');
  private readonly keyPre = el('pre', '', 'json');
  private readonly valuePre = el('pre', '', 'json');
  private readonly valueTitle = el('h3', 'Value');
  private readonly socket = el('p', '', 'socket');
  private readonly histBox = el('figure', undefined, 'hist-large');
  private readonly histCaption = el('figcaption', '');
  private readonly canvas = el('canvas');
  private meta: MapsPanelMeta | null = null;
  private row: MapRow | null = null;
  /** Skips re-rendering when a refresh brings the same row again. */
  private shown = '';

  constructor() {
    this.element.setAttribute('aria-label', 'Selected entry');
    const head = el('div', undefined, 'pane-head');
    head.append(this.title, this.note);
    const keyBox = el('div', undefined, 'json-box');
    keyBox.append(el('h3', 'Key'), this.keyPre);
    const valueBox = el('div', undefined, 'json-box');
    valueBox.append(this.valueTitle, this.valuePre);
    keyBox.classList.add('key-box');
    valueBox.classList.add('value-box');
    const jsons = el('div', undefined, 'jsons');
    jsons.append(keyBox, valueBox);
    this.canvas.setAttribute('role', 'img');
    this.histBox.append(this.histCaption, this.canvas);
    this.body.append(this.socket, this.histBox, jsons);
    this.element.append(head, this.body);
    new ResizeObserver(() => this.drawHistogram()).observe(this.histBox);
    this.show(null);
  }

  setMeta(meta: MapsPanelMeta): void {
    this.meta = meta;
    this.valueTitle.textContent = meta.perCpu ? `Value (per CPU: element i is CPU i, ${meta.cpus} CPUs)` : 'Value';
    this.shown = '';
    this.show(null);
  }

  /** Shows `row`, or the hint when nothing is selected; `context` says where it is from (a diff). */
  show(row: MapRow | null, context = ''): void {
    const sig = row
      ? `${context}\u0000${row.id}\u0000${row.keyJson}\u0000${row.valueJson}\u0000${row.socket ?? ''}`
      : '';
    if (sig === this.shown && row) {
      this.row = row;
      return;
    }
    this.shown = sig;
    this.row = row;
    this.body.hidden = row === null;
    this.note.textContent =
      row || context ? context : 'Select a row (click, or arrow keys in the table) to see its key and value.';
    if (!row) return;
    this.keyPre.textContent = prettyJson(row.keyJson);
    this.valuePre.textContent = prettyJson(row.valueJson);
    const sockets = this.meta?.sockets === true;
    this.socket.hidden = !sockets;
    this.socket.textContent = sockets ? `Socket: ${row.socket ?? 'none found for this cookie'}` : '';
    this.histBox.hidden = !(this.meta?.histogram && row.hist);
    this.drawHistogram();
  }

  /** Redraw in the theme's colours. */
  redraw(): void {
    this.drawHistogram();
  }

  private drawHistogram(): void {
    const hist = this.row?.hist;
    if (!hist || this.histBox.hidden) return;
    const w = Math.max(240, Math.min(720, this.histBox.clientWidth));
    this.histCaption.textContent = `Histogram (log2 slots, summed over CPUs): ${summary(hist)}`;
    drawLargeHistogram(this.canvas, hist, w);
  }
}
