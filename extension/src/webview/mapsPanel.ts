/**
 * The map inspector ("DFS eBPF: Open map…", or a map in the node explorer): one panel per
 * map. The host reads the map through the agent in pages, decodes it through BTF and keeps a
 * MapTable (core/src/inspect/table.ts) that filters, sorts, marks changes and rates; the
 * webview draws the window of rows it asks for. Live refresh at the chosen rate (slowed down
 * when a read takes longer than half the period), writes checked against BTF before they reach
 * the agent (a map that is not ours asks first), snapshots with diff and JSON/CSV export.
 */

import * as vscode from 'vscode';
import {
  isMapsPanelRequest,
  MAP_TYPES_WITHOUT_ENTRIES,
  MapDescribeRequest,
  type MapQuery,
  type MapRow,
  type MapsPanelMeta,
  type MapsPanelRequest,
  type MapsPanelUpdate,
  type MapSummary,
} from '@dfs/protocol';
import { describeError } from '@dfs/core/errors';
import type { JsonValue } from '@dfs/core/btf';
import type { Entry, MapCodecs } from '@dfs/core/inspect/entries';
import { deleteEntry, dumpEntries, openCodecs, socketCookie, socketsOf, updateEntry } from '@dfs/core/inspect/onNode';
import { diffEntries, entriesCsv, MapTable, tableLayout } from '@dfs/core/inspect/table';
import type { NodeSession } from '@dfs/core/agent/session';
import type { Ctx } from '../ctx';
import { PanelHost } from './panelHost';

const DEFAULT_REFRESH_MS = 1000;
/** Maps with more entries than this start paused (a refresh reads them whole). */
const LIVE_LIMIT = 200_000;

interface Snapshot {
  id: string;
  label: string;
  at_ms: number;
  entries: Entry[];
}

export class MapInspector implements vscode.Disposable {
  readonly host: PanelHost<MapsPanelUpdate, MapsPanelRequest>;
  private codecs: MapCodecs | null = null;
  private table: MapTable | null = null;
  private meta: MapsPanelMeta | null = null;
  private query: MapQuery = { filter: '', sort: null, offset: 0, limit: 200 };
  private refreshMs = DEFAULT_REFRESH_MS;
  private timer: NodeJS.Timeout | undefined;
  private readonly snapshots: Snapshot[] = [];
  private sockets = new Map<string, string>();
  private reading: Promise<void> | null = null;
  private disposed = false;
  private atMs = 0;
  /** The last message of each type sent to the webview (the extension tests read them). */
  private readonly sent = new Map<MapsPanelUpdate['type'], MapsPanelUpdate>();

  constructor(
    private readonly ctx: Ctx,
    private readonly session: NodeSession,
    readonly map: MapSummary,
  ) {
    this.host = new PanelHost<MapsPanelUpdate, MapsPanelRequest>(
      ctx,
      {
        viewType: 'dfsEbpf.maps',
        title: `Map ${map.name} (${map.id})`,
        bundle: 'maps',
        style: true,
        isRequest: isMapsPanelRequest,
        retainContextWhenHidden: true,
      },
      // Nothing from PanelHost's own `ready` reply: meta, snapshots and rows go in order below.
      () => undefined,
      (m) => void this.handle(m),
    );
    this.host.onDidDispose(() => this.dispose());
    // `ready` → the host's state is undefined; start() sends meta and rows when they exist.
    this.host.panel.webview.onDidReceiveMessage((m: { type?: string }) => {
      if (m?.type === 'ready') this.resend();
    });
  }

  /** Read the map's types and first contents, then refresh at the default rate. */
  async start(): Promise<void> {
    const codecs = await openCodecs(this.session, this.map.id);
    this.codecs = codecs;
    const described = MAP_TYPES_WITHOUT_ENTRIES[this.map.type];
    const layout = tableLayout(codecs.keyShape, codecs.valueShape, codecs.perCpu);
    this.table = new MapTable(layout);
    const sockets = this.map.type === 'sockhash' || this.map.type === 'sockmap';
    this.meta = {
      node: this.session.target.label,
      map: this.map,
      keyType: codecs.key.typeName,
      valueType: codecs.value.typeName,
      btf: codecs.btf,
      perCpu: codecs.perCpu,
      cpus: codecs.cpus,
      columns: layout.columns.map(({ path, side, numeric }) => ({ path, side, numeric })),
      histogram: layout.histogram !== null,
      sockets,
      ...(described ? { described, readOnly: 'it has no entries to write' } : {}),
      ...(sockets ? { readOnly: 'socket maps are written by programs (values are sockets)' } : {}),
    };
    if (this.map.max_entries > LIVE_LIMIT) this.refreshMs = 0;
    await this.readNow();
    this.schedule();
  }

  private resend(): void {
    if (!this.meta) return;
    this.post({ type: 'meta', meta: this.meta });
    this.sendSnapshots();
    this.sendRows();
  }

  /** One read of the whole map (or the ring buffer's positions), then the visible rows. */
  private readNow(): Promise<void> {
    if (this.reading) return this.reading;
    this.reading = (async () => {
      try {
        if (!this.codecs || !this.table || !this.meta) return;
        if (this.meta.described) {
          const d = await this.session.request(MapDescribeRequest, { id: this.map.id });
          if (d.ringbuf) this.post({ type: 'ringbuf', ...d.ringbuf, at_ms: Date.now() });
          return;
        }
        const started = Date.now();
        const entries = await dumpEntries(this.session, this.codecs);
        this.atMs = started;
        this.table.update(entries, started);
        if (this.meta.sockets) await this.resolveSockets(entries);
        this.sendRows();
        // A read that takes more than half the period slows the refresh down.
        const took = Date.now() - started;
        if (this.refreshMs > 0 && took > this.refreshMs / 2) this.refreshMs = Math.min(60_000, took * 2);
      } catch (err) {
        this.result(false, `reading map ${this.map.id}: ${describeError(err)}`);
      } finally {
        this.reading = null;
      }
    })();
    return this.reading;
  }

  private async resolveSockets(entries: Entry[]): Promise<void> {
    const found = await socketsOf(this.session, entries);
    this.sockets = new Map([...found].map(([c, s]) => [c, `${s.src}:${s.sport} → ${s.dst}:${s.dport} ${s.state}`]));
  }

  private withSocket(row: MapRow): MapRow {
    if (!this.meta?.sockets) return row;
    const cookie = socketCookie(JSON.parse(row.valueJson) as JsonValue);
    if (cookie === null) return row;
    return { ...row, socket: this.sockets.get(cookie) ?? `cookie ${cookie}: no TCP socket in the node's namespace` };
  }

  private sendRows(): void {
    if (!this.table || this.meta?.described) return;
    const { rows, matching } = this.table.query(this.query);
    this.post({
      type: 'rows',
      rows: rows.map((r) => this.withSocket(r)),
      total: this.table.size,
      matching,
      query: this.query,
      at_ms: this.atMs,
      refreshMs: this.refreshMs,
    });
  }

  private sendSnapshots(): void {
    this.post({
      type: 'snapshots',
      snapshots: this.snapshots.map(({ id, label, at_ms, entries }) => ({ id, label, at_ms, entries: entries.length })),
    });
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.disposed || this.refreshMs === 0) return;
    this.timer = setTimeout(() => {
      void this.readNow().then(() => this.schedule());
    }, this.refreshMs);
  }

  /** What the webview asked for; public for the extension tests (they drive it as the webview would). */
  async handle(m: Exclude<MapsPanelRequest, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'refresh':
        this.refreshMs = m.ms;
        this.schedule();
        this.sendRows();
        return;
      case 'query':
        this.query = { filter: m.filter, sort: m.sort, offset: m.offset, limit: m.limit };
        this.sendRows();
        return;
      case 'write':
        return this.write(m.op, m.key, m.value);
      case 'snapshot': {
        const entries = this.table?.entries() ?? [];
        const at = this.atMs || Date.now();
        const id = `s${this.snapshots.length + 1}`;
        this.snapshots.push({ id, label: `${id} at ${new Date(at).toLocaleTimeString()}`, at_ms: at, entries });
        this.sendSnapshots();
        this.result(true, `snapshot ${id}: ${entries.length} entries`);
        return;
      }
      case 'diff':
        return this.diff(m.a, m.b);
      case 'export':
        return this.export(m.format, m.snapshot);
    }
  }

  private entriesOf(id: string): Entry[] | undefined {
    if (id === 'live') return this.table?.entries();
    return this.snapshots.find((s) => s.id === id)?.entries;
  }

  private diff(a: string, b: string): void {
    const before = this.entriesOf(a);
    const after = this.entriesOf(b);
    if (!before || !after || !this.table) {
      this.result(false, `no snapshot ${!before ? a : b}`);
      return;
    }
    const d = diffEntries(this.table.layout, before, after);
    const rows = (r: MapRow[]): MapRow[] => r.map((x) => this.withSocket(x));
    this.post({ type: 'diff', a, b, added: rows(d.added), removed: rows(d.removed), changed: rows(d.changed) });
  }

  private async export(format: 'json' | 'csv', snapshot?: string): Promise<void> {
    const entries = this.entriesOf(snapshot ?? 'live');
    if (!entries || !this.table) return;
    const base = `${this.map.name}-${snapshot ?? 'live'}.${format}`;
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.joinPath(vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file('/tmp'), base),
      filters: format === 'json' ? { JSON: ['json'] } : { CSV: ['csv'] },
    });
    if (!target) return;
    const text =
      format === 'json'
        ? JSON.stringify({ map: this.map, entries }, null, 2) + '\n'
        : entriesCsv(this.table.layout, entries);
    await vscode.workspace.fs.writeFile(target, Buffer.from(text, 'utf8'));
    this.result(true, `${entries.length} entries written to ${target.fsPath}`);
  }

  private async write(op: 'update' | 'insert' | 'delete', keyText: string, valueText?: string): Promise<void> {
    const codecs = this.codecs;
    if (!codecs || this.meta?.readOnly) {
      this.result(false, `map ${this.map.name} cannot be written: ${this.meta?.readOnly ?? 'not loaded'}`);
      return;
    }
    const parse = (text: string, what: string): unknown => {
      try {
        return JSON.parse(text) as unknown;
      } catch (err) {
        throw new Error(`${what} is not JSON: ${(err as Error).message}`, { cause: err });
      }
    };
    try {
      const key = parse(keyText, 'key');
      const value = op === 'delete' ? undefined : parse(valueText ?? '', 'value');
      let confirmedNotOurs = false;
      if (!this.map.ours) {
        const yes = `Change ${this.map.name}`;
        const pick = await vscode.window.showWarningMessage(
          `Map ${this.map.name} (id ${this.map.id}) belongs to programs that are not ours. Change it anyway?`,
          { modal: true },
          yes,
        );
        if (pick !== yes) {
          this.result(false, 'not written: not confirmed');
          return;
        }
        confirmedNotOurs = true;
      }
      if (op === 'delete') await deleteEntry(this.session, codecs, key, { confirmedNotOurs });
      else
        await updateEntry(this.session, codecs, key, value, {
          mode: op === 'insert' ? 'noexist' : 'any',
          confirmedNotOurs,
        });
      this.ctx.log.info(`map ${this.map.name} (${this.map.id}): ${op} ${keyText}`);
      this.result(true, `${op === 'delete' ? 'deleted' : 'written'}: ${keyText}`);
      // A read already under way may have passed the entry before the write: read again after it.
      await this.reading;
      await this.readNow();
    } catch (err) {
      this.result(false, describeError(err));
    }
  }

  private result(ok: boolean, message: string): void {
    this.post({ type: 'result', ok, message });
  }

  private post(u: MapsPanelUpdate): void {
    this.sent.set(u.type, u);
    this.host.post(u);
  }

  /** The last message of this type sent to the webview, as the webview got it (for the tests). */
  last<T extends MapsPanelUpdate['type']>(type: T): Extract<MapsPanelUpdate, { type: T }> | undefined {
    return this.sent.get(type) as Extract<MapsPanelUpdate, { type: T }> | undefined;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearTimeout(this.timer);
    this.host.dispose();
  }
}
