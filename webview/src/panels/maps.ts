/**
 * The map inspector: one BPF map on the node, live. A header line (which map, its types, its
 * counts and tags), a toolbar (refresh rate, filter, snapshot / diff / export), the table of
 * entries (webview/src/maps/table.ts, paged by maps/liveRows.ts), the selected entry's details
 * and an editor; a ring or perf buffer shows its description and positions instead; a diff of
 * two snapshots replaces the table until "Back to live".
 * The host reads, decodes, filters, sorts and pages the map (core/src/inspect/table.ts); this
 * panel sends `query` for the window it shows and draws the `rows` it gets, never filtering,
 * sorting or decoding itself. Writes send the editor's texts; only the host's `result` says
 * whether they worked.
 * State arrives by postMessage after `ready`: `meta`, `rows`, `ringbuf`, `snapshots`, `diff`,
 * `result`; other types are ignored.
 * Timings are User Timing entries: `maps:rows` (a `rows` message received → the frame that
 * shows it painted), `maps:rows-work` (its handling, the message's decoding included, before
 * that frame) and `maps:scroll` (recorded by the table: a scroll that showed rows not yet
 * received → the frame that has them all painted).
 */

import {
  MAP_REFRESH_CHOICES_MS,
  type MapRow,
  type MapsPanelMeta,
  type MapsPanelRequest,
  type MapsPanelUpdate,
} from '@dfs/protocol';
import { el } from '../components/dom';
import { channel } from '../vscodeApi';
import { DetailsView } from '../maps/details';
import { EditorView } from '../maps/editor';
import { afterPaint, thousands } from '../maps/format';
import { HeaderView } from '../maps/header';
import { LiveRows, type Sort } from '../maps/liveRows';
import { RingbufView } from '../maps/ringbuf';
import { LIVE, SnapshotControls } from '../maps/snapshots';
import { MapTableView, type RowSource, type TableRow } from '../maps/table';
import '../components/page.css';
import './maps.css';

type Update<T extends MapsPanelUpdate['type']> = Extract<MapsPanelUpdate, { type: T }>;
/**
 * The requests that always get exactly one `result` (extension/src/webview/mapsPanel.ts): a
 * `result` answers the oldest of them still open. An export answers only once saved (not when
 * its save dialog is cancelled) and a diff only when it fails, so neither waits in line; their
 * results, and the host's own (a failed read), go to the status line. `result` names no
 * request, so a read failure while a write is open is taken for the write's answer.
 */
type Asked = 'write' | 'snapshot';

const FILTER_DEBOUNCE_MS = 200;

function rowHeight(): number {
  const px = parseFloat(getComputedStyle(document.documentElement).getPropertyValue('--vscode-editor-font-size'));
  return Math.max(20, Math.round((Number.isFinite(px) && px > 0 ? px : 13) * 1.6));
}

class DiffRows implements RowSource {
  constructor(private readonly rows: TableRow[]) {}
  get count(): number {
    return this.rows.length;
  }
  get(index: number): TableRow | undefined {
    return this.rows[index];
  }
}

class MapsInspector {
  private readonly post = channel<MapsPanelUpdate, MapsPanelRequest>((m) => this.receive(m));
  private readonly header = new HeaderView();
  private readonly refresh = el('select');
  private readonly filter = el('input');
  private readonly snapshots = new SnapshotControls((r) => this.ask(r.type === 'snapshot' ? 'snapshot' : null, r));
  private readonly status = el('div', '', 'status-line');
  private readonly tableArea = el('section', undefined, 'table-area');
  private readonly diffBar = el('div', undefined, 'diff-bar');
  private readonly diffTitle = el('span', '', 'diff-title');
  private readonly bottom = el('div', undefined, 'bottom');
  private readonly details = new DetailsView();
  private readonly editor = new EditorView((w) => this.ask('write', w));
  private readonly ringbuf = new RingbufView();
  private readonly live: LiveRows;
  private readonly table: MapTableView;
  private readonly diffTable: MapTableView;
  private meta: MapsPanelMeta | null = null;
  private inDiff = false;
  private selectedId: string | null = null;
  private readonly asked: Asked[] = [];
  private debounce: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly app: HTMLElement) {
    const h = rowHeight();
    this.live = new LiveRows((q) => this.post({ type: 'query', ...q }));
    this.table = new MapTableView(
      {
        ariaLabel: 'Map entries',
        onSelect: (i, row) => this.selected(i, row, `Row ${thousands(i + 1)} of ${thousands(this.live.count)}.`),
        onSort: (c) => this.sortBy(c),
      },
      h,
    );
    this.table.setSource(this.live);
    this.diffTable = new MapTableView(
      {
        ariaLabel: 'Diff of entries',
        statusColumn: true,
        onSelect: (i, row) => this.selected(i, row, 'From the diff.'),
      },
      h,
    );
    this.layout();
    new MutationObserver(() => this.themeChanged()).observe(document.body, {
      attributes: true,
      attributeFilter: ['class'],
    });
    this.post({ type: 'ready' });
  }

  private layout(): void {
    const bar = el('div', undefined, 'toolbar');
    const refreshGroup = el('label', undefined, 'group');
    refreshGroup.append(el('span', 'Refresh', 'label'), this.refresh);
    for (const ms of MAP_REFRESH_CHOICES_MS) {
      const o = el('option', ms === 0 ? 'Paused' : `${ms / 1000} s`);
      o.value = String(ms);
      this.refresh.append(o);
    }
    this.refresh.id = 'refresh';
    this.refresh.title = 'How often the map is read again (blank: the rate is not known yet)';
    this.refresh.addEventListener('change', () => this.post({ type: 'refresh', ms: Number(this.refresh.value) }));
    this.filter.id = 'filter';
    this.filter.type = 'search';
    this.filter.placeholder = 'Filter rows (any cell contains…)';
    this.filter.setAttribute('aria-label', 'Filter rows');
    // The host refuses a longer filter (isMapsPanelRequest).
    this.filter.maxLength = 1024;
    this.filter.addEventListener('input', () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.query(this.filter.value, this.live.sort), FILTER_DEBOUNCE_MS);
    });
    bar.append(refreshGroup, this.filter, this.snapshots.element);
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    this.status.hidden = true;

    const back = el('button', 'Back to live');
    back.id = 'back-to-live';
    back.addEventListener('click', () => {
      this.showDiff(null);
      this.table.focus();
    });
    const legend = el('span', undefined, 'legend');
    legend.append(
      el('span', '+ added', 'added'),
      el('span', '− removed', 'removed'),
      el('span', '~ changed', 'changed'),
    );
    this.diffBar.append(this.diffTitle, legend, back);
    this.diffBar.hidden = true;
    this.diffTable.element.hidden = true;
    this.tableArea.append(this.diffBar, this.table.element, this.diffTable.element);
    this.bottom.append(this.details.element, this.editor.element);
    this.ringbuf.element.hidden = true;
    const main = el('div', undefined, 'main');
    main.append(this.tableArea, this.ringbuf.element, this.bottom);
    this.app.replaceChildren(this.header.element, bar, this.status, main);
    this.table.setEmptyText('');
  }

  // ---------------------------------------------------------------------------------------
  // Messages

  private receive(m: unknown): void {
    if (typeof m !== 'object' || m === null) return;
    const u = m as MapsPanelUpdate;
    try {
      switch (u.type) {
        case 'meta':
          if (typeof u.meta === 'object' && u.meta !== null) this.setMeta(u.meta);
          break;
        case 'rows':
          if (Array.isArray(u.rows) && typeof u.query === 'object' && u.query !== null) this.rows(u);
          break;
        case 'ringbuf':
          if (this.meta?.described !== undefined) this.ringbuf.update(u);
          break;
        case 'snapshots':
          if (Array.isArray(u.snapshots)) this.snapshots.setSnapshots(u.snapshots);
          break;
        case 'diff':
          if (Array.isArray(u.added) && Array.isArray(u.removed) && Array.isArray(u.changed)) this.showDiff(u);
          break;
        case 'result':
          this.result(u.ok === true, typeof u.message === 'string' ? u.message : '');
          break;
        default:
          // Unknown types are ignored (a newer host, or not ours).
          break;
      }
    } catch (err) {
      this.say(`The panel could not show an update: ${err instanceof Error ? err.message : String(err)}`, 'error');
    }
  }

  private setMeta(meta: MapsPanelMeta): void {
    const same =
      this.meta?.map.id === meta.map.id && JSON.stringify(this.meta.columns) === JSON.stringify(meta.columns);
    this.meta = meta;
    this.header.setMeta(meta);
    this.details.setMeta(meta);
    // The rate is known from the first `rows` (ring buffers never say it: nothing is shown).
    if (!same) this.refresh.selectedIndex = -1;
    this.editor.setMap(meta.readOnly, meta.perCpu);
    const described = meta.described !== undefined;
    this.tableArea.hidden = described;
    this.bottom.hidden = described;
    this.filter.hidden = described;
    this.snapshots.setAvailable(!described);
    this.ringbuf.element.hidden = !described;
    this.ringbuf.show(meta.described ?? '', described ? meta.map.type.includes('ringbuf') : null);
    if (described) return;
    if (!same) {
      this.showDiff(null);
      this.selectedId = null;
      this.details.show(null);
      this.editor.select(null);
      const extra = { histogram: meta.histogram, socket: meta.sockets };
      this.table.setColumns(meta.columns, extra);
      this.diffTable.setColumns(meta.columns, extra);
      this.table.setSort(null);
      this.filter.value = '';
      this.live.setQuery('', null);
    } else this.live.requery();
    this.table.setEmptyText('');
  }

  private rows(m: Update<'rows'>): void {
    const t0 = performance.now();
    if (!this.meta || this.meta.described !== undefined || !this.live.receive(m)) return;
    if (document.activeElement !== this.refresh) this.showRate(m.refreshMs);
    this.header.setCounts({
      total: m.total,
      matching: m.matching,
      filter: this.live.filter,
      atMs: m.at_ms,
      refreshMs: m.refreshMs,
    });
    this.table.setEmptyText(
      m.total === 0
        ? 'The map has no entries.'
        : this.live.filter.trim()
          ? `No entry has a cell containing “${this.live.filter.trim()}”.`
          : '',
    );
    this.table.setSort(this.live.sort);
    // The selected entry keeps its selection across a new filter or sort, once it is in view.
    if (this.table.selection < 0 && this.selectedId !== null) {
      const i = this.live.indexOf(this.selectedId);
      if (i >= 0) this.table.select(i, false);
    }
    if (!this.inDiff) this.table.refresh();
    performance.measure('maps:rows-work', { start: t0 });
    afterPaint(() => performance.measure('maps:rows', { start: t0 }));
  }

  private showDiff(d: Update<'diff'> | null): void {
    this.inDiff = d !== null;
    this.diffBar.hidden = !d;
    this.diffTable.element.hidden = !d;
    this.table.element.hidden = d !== null;
    if (!d) {
      this.diffTable.setSource(new DiffRows([]));
      this.table.refresh();
      return;
    }
    const name = (id: string): string => {
      if (id === LIVE) return 'live map';
      return this.snapshotLabels.get(id) ?? id;
    };
    const rows: TableRow[] = [
      ...d.added.map((row): TableRow => ({ row, changedAt: null, status: 'added' })),
      ...d.removed.map((row): TableRow => ({ row, changedAt: null, status: 'removed' })),
      ...d.changed.map((row): TableRow => ({ row, changedAt: null, status: 'changed' })),
    ];
    this.diffTitle.textContent = `Diff ${name(d.a)} → ${name(d.b)}: ${thousands(d.added.length)} added, ${thousands(
      d.removed.length,
    )} removed, ${thousands(d.changed.length)} changed`;
    this.diffTable.setEmptyText('The two have the same entries.');
    this.diffTable.setSource(new DiffRows(rows));
    this.diffTable.resetPosition();
    this.details.show(null);
    this.editor.select(null);
    this.diffTable.focus();
  }

  private get snapshotLabels(): Map<string, string> {
    return new Map(this.snapshots.list.map((s) => [s.id, s.label]));
  }

  // ---------------------------------------------------------------------------------------
  // Requests and results

  private ask(kind: Asked | null, r: MapsPanelRequest): void {
    if (kind) this.asked.push(kind);
    if (kind === 'snapshot') this.say('Taking a snapshot…', 'pending');
    this.post(r);
  }

  private result(ok: boolean, message: string): void {
    const to = this.asked.shift();
    if (to === 'write') this.editor.result(ok, message);
    else this.say(message || (ok ? 'Done.' : 'That failed.'), ok ? 'ok' : 'error');
  }

  /** The refresh rate the host uses: one of the choices, or the slower one it fell back to
   *  when reads took more than half the period (shown as an extra option). */
  private showRate(ms: number): void {
    const value = String(ms);
    this.refresh.querySelector('option.slowed')?.remove();
    if (![...this.refresh.options].some((o) => o.value === value)) {
      const o = el('option', `${(ms / 1000).toLocaleString('en-US')} s (slowed: reads are slow)`, 'slowed');
      o.value = value;
      this.refresh.append(o);
    }
    this.refresh.value = value;
  }

  private say(text: string, kind: 'ok' | 'error' | 'pending'): void {
    this.status.textContent = text;
    this.status.className = `status-line ${kind}`;
    this.status.hidden = text === '';
  }

  private query(filter: string, sort: Sort): void {
    this.live.setQuery(filter, sort);
    this.table.resetPosition();
  }

  private sortBy(column: number): void {
    const s = this.live.sort;
    const numeric = this.meta?.columns[column]?.numeric ?? false;
    // Numbers sort largest first on the first click (the busiest entries), text A→Z.
    const next = s?.column === column ? { column, desc: !s.desc } : { column, desc: numeric };
    this.table.setSort(next);
    this.query(this.live.filter, next);
  }

  private selected(index: number, row: MapRow | undefined, context: string): void {
    if (!this.inDiff) this.selectedId = row?.id ?? this.selectedId;
    this.details.show(row ?? null, row ? context : `Row ${thousands(index + 1)}: loading…`);
    this.editor.select(row ?? null);
  }

  private themeChanged(): void {
    this.table.themeChanged();
    this.diffTable.themeChanged();
    this.details.redraw();
  }
}

new MapsInspector(document.getElementById('app') as HTMLElement);
