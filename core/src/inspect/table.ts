/**
 * The map inspector's table (pure: no Node, no DOM, no vscode): a map's decoded entries as
 * rows of display cells, one column per key and value field (core/src/btf shapes), per-CPU
 * numbers summed, log2 histogram arrays as one drawn column, cells that changed since the last
 * refresh and their rate per second, filtering, sorting and the visible window; snapshots,
 * their diff, and CSV/JSON export. The host keeps a MapTable per open map and sends the webview
 * only the rows it shows.
 */

import type { MapColumn, MapQuery, MapRow } from '@dfs/protocol';
import { cellValue, flattenColumns, type ColumnDescriptor, type JsonValue, type TypeShape } from '../btf';
import type { Entry } from './entries';

/** One table column: where its cell comes from. */
interface Column extends MapColumn {
  /** null: the whole key or value (a map without BTF, or a scalar type). */
  desc: ColumnDescriptor | null;
}

export interface TableLayout {
  columns: Column[];
  /** The value's histogram counters: the whole value (an array) or this member. */
  histogram: { member: string | null } | null;
  perCpu: boolean;
}

const NUMERIC_KINDS = new Set(['int', 'bool', 'float']);

function sideColumns(side: 'key' | 'value', shape: TypeShape | null, skipMember: string | null): Column[] {
  if (!shape) return [{ path: side, side, numeric: false, desc: null }];
  const leafs = flattenColumns(shape);
  // A scalar type flattens to one column with an empty path.
  return leafs
    .filter((d) => skipMember === null || !(d.keys[0] === skipMember))
    .map((d) => ({
      path: d.path === '' ? side : d.path,
      side,
      numeric: NUMERIC_KINDS.has(d.kind),
      desc: d.path === '' ? null : d,
    }));
}

/** Columns for a map's key and value shapes (null shape: no BTF, one hex column). */
export function tableLayout(keyShape: TypeShape | null, valueShape: TypeShape | null, perCpu: boolean): TableLayout {
  let histogram: TableLayout['histogram'] = null;
  if (valueShape?.log2Histogram) {
    histogram = { member: valueShape.kind === 'array' ? null : (valueShape.histogramField ?? null) };
  }
  const valueColumns =
    histogram && histogram.member === null ? [] : sideColumns('value', valueShape, histogram?.member ?? null);
  return { columns: [...sideColumns('key', keyShape, null), ...valueColumns], histogram, perCpu };
}

function asNumber(v: JsonValue | undefined): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  return null;
}

function pick(value: JsonValue, desc: ColumnDescriptor | null): JsonValue | undefined {
  return desc ? cellValue(value, desc) : value;
}

/** A cell's value: per-CPU numbers summed over the CPUs, other per-CPU cells from CPU 0. */
function cellOf(layout: TableLayout, col: Column, entry: Entry): JsonValue | undefined {
  const source = col.side === 'key' ? entry.key : entry.value;
  if (col.side === 'value' && layout.perCpu && Array.isArray(source)) {
    if (col.numeric) {
      let sum = 0;
      for (const v of source) sum += asNumber(pick(v, col.desc)) ?? 0;
      return sum;
    }
    return source[0] === undefined ? undefined : pick(source[0], col.desc);
  }
  return pick(source, col.desc);
}

function display(v: JsonValue | undefined): string | null {
  if (v === undefined) return null;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function histOf(layout: TableLayout, entry: Entry): number[] | undefined {
  if (!layout.histogram) return undefined;
  const member = layout.histogram.member;
  const one = (v: JsonValue): number[] => {
    const arr = member === null ? v : v !== null && typeof v === 'object' && !Array.isArray(v) ? v[member] : undefined;
    return Array.isArray(arr) ? arr.map((x) => asNumber(x) ?? 0) : [];
  };
  if (layout.perCpu && Array.isArray(entry.value)) {
    const sum: number[] = [];
    for (const v of entry.value) one(v).forEach((x, i) => (sum[i] = (sum[i] ?? 0) + x));
    return sum;
  }
  return one(entry.value);
}

/** The stable id of an entry: its key as JSON text (keys are unique in a map). */
export function entryId(entry: Entry): string {
  return JSON.stringify(entry.key);
}

interface Built {
  id: string;
  entry: Entry;
  values: (JsonValue | undefined)[];
  cells: (string | null)[];
  nums: (number | null)[];
  text: string;
}

function build(layout: TableLayout, entry: Entry): Built {
  const values = layout.columns.map((c) => cellOf(layout, c, entry));
  const cells = values.map(display);
  return {
    id: entryId(entry),
    entry,
    values,
    cells,
    nums: values.map(asNumber),
    text: cells.join('\u0000').toLowerCase(),
  };
}

function rowOf(layout: TableLayout, b: Built, prev: Built | undefined, dtS: number): MapRow {
  const changed: number[] = [];
  const rates: (number | null)[] = b.nums.map(() => null);
  if (prev) {
    b.cells.forEach((c, i) => {
      if (c !== prev.cells[i]) changed.push(i);
      const now = b.nums[i];
      const before = prev.nums[i];
      if (
        layout.columns[i]?.numeric &&
        dtS > 0 &&
        now !== null &&
        now !== undefined &&
        before !== null &&
        before !== undefined
      ) {
        rates[i] = (now - before) / dtS;
      }
    });
  }
  const row: MapRow = {
    id: b.id,
    cells: b.cells,
    changed,
    rates,
    keyJson: JSON.stringify(b.entry.key),
    valueJson: JSON.stringify(b.entry.value),
  };
  const hist = histOf(layout, b.entry);
  if (hist) row.hist = hist;
  return row;
}

/** A map's rows across refreshes: what changed and how fast, filtered, sorted, windowed. */
export class MapTable {
  private rows: Built[] = [];
  private byId = new Map<string, Built>();
  private previous = new Map<string, Built>();
  private dtS = 0;
  private atMs = 0;

  constructor(readonly layout: TableLayout) {}

  /** Take a fresh read of every entry (at `atMs`, the agent's clock). */
  update(entries: Entry[], atMs: number): void {
    this.dtS = this.atMs > 0 ? (atMs - this.atMs) / 1000 : 0;
    this.atMs = atMs;
    this.previous = this.byId;
    this.rows = entries.map((e) => build(this.layout, e));
    this.byId = new Map(this.rows.map((r) => [r.id, r]));
  }

  get size(): number {
    return this.rows.length;
  }

  entries(): Entry[] {
    return this.rows.map((r) => r.entry);
  }

  /** The rows a query shows, and how many match it. */
  query(q: MapQuery): { rows: MapRow[]; matching: number } {
    const needle = q.filter.trim().toLowerCase();
    let list = needle === '' ? this.rows : this.rows.filter((r) => r.text.includes(needle));
    if (q.sort) {
      const { column, desc } = q.sort;
      const numeric = this.layout.columns[column]?.numeric ?? false;
      const sign = desc ? -1 : 1;
      list = [...list].sort((a, b) => {
        if (numeric) return sign * ((a.nums[column] ?? -Infinity) - (b.nums[column] ?? -Infinity));
        return sign * (a.cells[column] ?? '').localeCompare(b.cells[column] ?? '', undefined, { numeric: true });
      });
    }
    const window = list.slice(q.offset, q.offset + q.limit);
    return { rows: window.map((b) => rowOf(this.layout, b, this.previous.get(b.id), this.dtS)), matching: list.length };
  }
}

export interface SnapshotDiff {
  added: MapRow[];
  removed: MapRow[];
  changed: MapRow[];
}

/** Entries of b not in a, of a not in b, and in both with different cells (marked). */
export function diffEntries(layout: TableLayout, a: Entry[], b: Entry[]): SnapshotDiff {
  const before = new Map(a.map((e) => [entryId(e), build(layout, e)]));
  const after = new Map(b.map((e) => [entryId(e), build(layout, e)]));
  const added: MapRow[] = [];
  const changed: MapRow[] = [];
  for (const [id, row] of after) {
    const old = before.get(id);
    if (!old) added.push(rowOf(layout, row, undefined, 0));
    else if (old.cells.some((c, i) => c !== row.cells[i])) changed.push(rowOf(layout, row, old, 0));
  }
  const removed = [...before].filter(([id]) => !after.has(id)).map(([, row]) => rowOf(layout, row, undefined, 0));
  return { added, removed, changed };
}

function csvField(s: string | null): string {
  if (s === null) return '';
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV of entries: a header of column paths (value columns of a per-CPU map summed), one line each. */
export function entriesCsv(layout: TableLayout, entries: Entry[]): string {
  const header = layout.columns.map((c) => csvField(c.side === 'key' && c.path !== 'key' ? `key.${c.path}` : c.path));
  if (layout.histogram) header.push('histogram');
  const lines = entries.map((e) => {
    const b = build(layout, e);
    const fields = b.cells.map(csvField);
    if (layout.histogram) fields.push(csvField((histOf(layout, e) ?? []).join(' ')));
    return fields.join(',');
  });
  return [header.join(','), ...lines].join('\n') + '\n';
}
