/**
 * The inspector's header line: which map (name, id, type) on which node, its key and value
 * types, how many entries it has and how many pass the filter, and tags for what matters when
 * reading or writing it: ours or not ours, per-CPU with its CPU count, decoded with BTF or
 * shown as hex, read-only. Facts only, as the host sent them.
 */

import type { MapsPanelMeta } from '@dfs/protocol';
import { el } from '../components/dom';
import { clock, thousands } from './format';

export interface Counts {
  total: number;
  matching: number;
  filter: string;
  atMs: number;
  refreshMs: number;
}

export class HeaderView {
  readonly element = el('header', undefined, 'map-header');
  private readonly title = el('h1');
  private readonly tags = el('span', undefined, 'tags');
  private readonly types = el('span', '', 'types');
  private readonly counts = el('span', '', 'counts');
  private readonly clockText = el('span', '', 'clock');
  private meta: MapsPanelMeta | null = null;

  constructor() {
    const line = el('div', undefined, 'facts');
    line.append(this.types, this.counts, this.clockText);
    const top = el('div', undefined, 'title-line');
    top.append(this.title, this.tags);
    this.element.append(top, line);
    this.title.append(el('span', 'Waiting for the map…', 'placeholder'));
  }

  setMeta(meta: MapsPanelMeta): void {
    this.meta = meta;
    const m = meta.map;
    this.title.replaceChildren(
      el('span', m.name || '(unnamed map)', 'map-name'),
      el('span', ` #${m.id}`, 'map-id'),
      el('span', m.type, 'map-type'),
      el('span', `on ${meta.node}`, 'node'),
    );
    const tag = (text: string, cls: string, title: string): HTMLElement => {
      const t = el('span', text, `tag ${cls}`);
      t.title = title;
      return t;
    };
    const tags = [
      m.ours
        ? tag('ours', 'ours', 'Loaded by dfs-ebpf (the bypass, or a profile of this connection)')
        : tag('not ours', 'not-ours', 'Not loaded by dfs-ebpf: another program on the node uses it'),
    ];
    if (meta.perCpu) tags.push(tag(`per-CPU × ${meta.cpus}`, 'percpu', `One value per CPU; ${meta.cpus} CPUs`));
    tags.push(
      meta.btf
        ? tag('BTF', 'btf', 'Decoded with the map’s BTF')
        : tag('hex', 'hex', 'The map has no BTF: keys and values are shown as hex bytes'),
    );
    if (meta.readOnly !== undefined) tags.push(tag('read-only', 'ro', meta.readOnly));
    this.tags.replaceChildren(...tags);
    this.types.replaceChildren(
      el('span', 'key ', 'dim'),
      el('code', meta.keyType, 'key-type'),
      el('span', ' → value ', 'dim'),
      el('code', meta.valueType, 'value-type'),
    );
    this.setCounts(null);
  }

  setCounts(c: Counts | null): void {
    const m = this.meta;
    if (!m) return;
    this.types.hidden = m.described !== undefined;
    if (m.described !== undefined) {
      this.counts.textContent = '';
      this.clockText.textContent = '';
      return;
    }
    const max = ` (max ${thousands(m.map.max_entries)})`;
    if (!c) {
      this.counts.textContent = `max ${thousands(m.map.max_entries)} entries`;
      this.clockText.textContent = '';
      return;
    }
    const matching = c.filter.trim() !== '' ? ` · ${thousands(c.matching)} match “${c.filter.trim()}”` : '';
    this.counts.textContent = `${thousands(c.total)} entries${max}${matching}`;
    this.clockText.textContent = `read ${clock(c.atMs)}${c.refreshMs === 0 ? ' · paused' : ''}`;
  }
}
