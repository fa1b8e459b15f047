/**
 * A map with no entries to list (ring buffer, perf event array): the host's description of it
 * and, for a ring buffer, its size, consumer and producer positions, the bytes written but not
 * yet consumed, and a fill bar of pending / size. Positions are the kernel's monotonic byte
 * counters, shown as sent.
 */

import { formatBytes, type MapsPanelUpdate } from '@dfs/protocol';
import { el } from '../components/dom';
import { clock, thousands } from './format';

type RingbufUpdate = Extract<MapsPanelUpdate, { type: 'ringbuf' }>;

export class RingbufView {
  readonly element = el('section', undefined, 'ringbuf');
  private readonly description = el('p', '', 'description');
  private readonly figures = el('dl', undefined, 'figures');
  private readonly bar = el('div', undefined, 'fill-bar');
  private readonly fill = el('div', undefined, 'fill');
  private readonly fillText = el('span', '', 'fill-text');
  private readonly waiting = el('p', '', 'placeholder');

  constructor() {
    this.bar.setAttribute('role', 'meter');
    this.bar.setAttribute('aria-label', 'Pending bytes of the ring buffer');
    this.bar.setAttribute('aria-valuemin', '0');
    this.bar.append(this.fill);
    const barRow = el('div', undefined, 'fill-row');
    barRow.append(this.bar, this.fillText);
    this.element.append(el('h2', 'Contents'), this.description, this.waiting, this.figures, barRow);
    this.show('', null);
  }

  /** The map's description; its positions follow in `update`. */
  show(description: string, isRingbuf: boolean | null): void {
    this.description.textContent = description;
    this.figures.replaceChildren();
    this.figures.hidden = true;
    this.bar.parentElement!.hidden = true;
    this.waiting.hidden = !isRingbuf;
    this.waiting.textContent = isRingbuf ? 'Waiting for its positions…' : '';
  }

  update(m: RingbufUpdate): void {
    this.waiting.hidden = true;
    this.figures.hidden = false;
    this.bar.parentElement!.hidden = false;
    const bytes = (n: number): string => `${thousands(n)} B${n >= 1024 ? ` (${formatBytes(n)})` : ''}`;
    const rows: [string, string][] = [
      ['Size', bytes(m.size)],
      ['Consumer position', thousands(m.consumer)],
      ['Producer position', thousands(m.producer)],
      ['Pending', bytes(m.pending)],
      ['Read at', clock(m.at_ms)],
    ];
    this.figures.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', k), el('dd', v)]));
    const share = m.size > 0 ? Math.min(1, Math.max(0, m.pending / m.size)) : 0;
    this.fill.style.width = `${(share * 100).toFixed(2)}%`;
    this.fill.classList.toggle('high', share >= 0.75);
    this.bar.setAttribute('aria-valuemax', String(m.size));
    this.bar.setAttribute('aria-valuenow', String(m.pending));
    this.fillText.textContent = `${(share * 100).toFixed(share > 0 && share < 0.01 ? 2 : 1)}% full`;
  }
}
