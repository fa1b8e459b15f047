/**
 * The toolbar's snapshot controls: "Snapshot" (the host copies the map's entries now), a diff
 * of two of them or of one against the live map ("Diff A → B"), and "Export JSON" / "Export
 * CSV" of the live map or of a snapshot. The snapshot list is the host's (`snapshots`); the
 * pickers keep what the user chose while it refreshes, and pick the newest snapshot for A when
 * one is added.
 */

import type { MapSnapshotInfo, MapsPanelRequest } from '@dfs/protocol';
import { el } from '../components/dom';
import { clock, thousands } from './format';

export const LIVE = 'live';

type Request = Extract<MapsPanelRequest, { type: 'snapshot' | 'diff' | 'export' }>;

export class SnapshotControls {
  readonly element = el('div', undefined, 'group snapshots');
  private readonly take = el('button', 'Snapshot');
  private readonly a = el('select');
  private readonly b = el('select');
  private readonly diff = el('button', 'Diff');
  private readonly exportFrom = el('select');
  private readonly exportButtons: HTMLButtonElement[] = [];
  /** The host's snapshots, oldest first. */
  list: MapSnapshotInfo[] = [];

  constructor(private readonly send: (r: Request) => void) {
    this.take.id = 'snapshot';
    this.take.title = "Keep a copy of the map's entries as they are now";
    this.take.addEventListener('click', () => this.send({ type: 'snapshot' }));
    this.a.id = 'diff-a';
    this.a.setAttribute('aria-label', 'Diff from');
    this.b.id = 'diff-b';
    this.b.setAttribute('aria-label', 'Diff to');
    this.diff.id = 'diff';
    this.diff.title = 'Entries added, removed and changed from the first to the second';
    this.diff.addEventListener('click', () => {
      if (this.a.value && this.b.value && this.a.value !== this.b.value)
        this.send({ type: 'diff', a: this.a.value, b: this.b.value });
    });
    for (const s of [this.a, this.b]) s.addEventListener('change', () => this.enable());
    this.exportFrom.id = 'export-from';
    this.exportFrom.setAttribute('aria-label', 'Export what');
    const diffGroup = el('div', undefined, 'group');
    diffGroup.append(this.a, el('span', '→', 'arrow-sep'), this.b, this.diff);
    const exportGroup = el('div', undefined, 'group');
    exportGroup.append(el('span', 'Export', 'label'), this.exportFrom);
    for (const format of ['json', 'csv'] as const) {
      const btn = el('button', format.toUpperCase());
      btn.id = `export-${format}`;
      btn.title = `Export as ${format.toUpperCase()} (the host asks where to save it)`;
      btn.addEventListener('click', () => {
        const from = this.exportFrom.value;
        this.send(from === LIVE ? { type: 'export', format } : { type: 'export', format, snapshot: from });
      });
      this.exportButtons.push(btn);
      exportGroup.append(btn);
    }
    this.element.append(this.take, diffGroup, exportGroup);
    this.setSnapshots([]);
  }

  /** Ring and perf buffers have no entries to keep, compare or export. */
  setAvailable(on: boolean): void {
    this.element.hidden = !on;
  }

  setSnapshots(list: MapSnapshotInfo[]): void {
    const known = new Set(this.list.map((s) => s.id));
    const added = list.filter((s) => !known.has(s.id));
    this.list = list;
    // The host's label says when ("s1 at 09:41:05"); the option's title says how many entries.
    const options = (withLive: boolean, emptyText: string | null): HTMLOptionElement[] => {
      const out: HTMLOptionElement[] = [];
      if (withLive) out.push(option(LIVE, 'Live map'));
      if (emptyText && list.length === 0) out.push(option('', emptyText));
      for (const s of list) {
        const o = option(s.id, s.label);
        o.title = `${thousands(s.entries)} entries, read at ${clock(s.at_ms)}`;
        out.push(o);
      }
      return out;
    };
    const keep = (sel: HTMLSelectElement, fallback: string, opts: HTMLOptionElement[]): void => {
      const was = sel.value;
      sel.replaceChildren(...opts);
      sel.value = opts.some((o) => o.value === was) ? was : fallback;
    };
    const newest = added.at(-1)?.id ?? list.at(-1)?.id ?? '';
    keep(this.a, newest, options(false, 'No snapshots yet'));
    if (added.length > 0) this.a.value = newest;
    keep(this.b, LIVE, options(true, null));
    keep(this.exportFrom, LIVE, options(true, null));
    this.enable();
  }

  private enable(): void {
    this.a.disabled = this.list.length === 0;
    this.diff.disabled = this.list.length === 0 || !this.a.value || this.a.value === this.b.value;
  }
}

function option(value: string, text: string): HTMLOptionElement {
  const o = el('option', text);
  o.value = value;
  return o;
}
