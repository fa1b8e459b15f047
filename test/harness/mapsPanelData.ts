// Synthetic maps for the map inspector's harness (test/harness/mapsPanelShots.ts), in the shapes
// the real host sends (core/src/inspect/table.ts rows): a per-CPU struct map of 12 columns and
// any number of entries, generated per index so 100,000 of them cost nothing until asked for,
// with a host that answers `query` the way the real one does (filter on cells, sort, then the
// window offset/limit); a histogram map; a ring buffer; a diff. Deterministic: the same index
// always gives the same entry, and `tick` moves the live counters.
import type { MapColumn, MapQuery, MapRow, MapsPanelMeta, MapsPanelUpdate, MapSummary } from '../../protocol/src';
import type { MapsHost } from './mapsPanel';

const COMMS = ['juicefs', 'redis-server', 'fio', 'kworker/u16:2', 'dd', 'rsync', 'nginx', 'python3'];
const OPS = ['READ', 'WRITE', 'LOOKUP', 'GETATTR', 'OPEN', 'FLUSH', 'RELEASE', 'STATFS'];

/** A stable pseudo-random 32-bit number of `i` (and a salt). */
function hash(i: number, salt = 0): number {
  let x = (i + 1) * 0x9e3779b1 + salt * 0x85ebca6b;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const summary = (over: Partial<MapSummary>): MapSummary => ({
  id: 0,
  name: '',
  type: 'hash',
  key_size: 4,
  value_size: 8,
  max_entries: 1024,
  flags: 0,
  btf_id: 77,
  btf_key_type_id: 3,
  btf_value_type_id: 9,
  ours: true,
  prog_ids: [],
  ...over,
});

// ---------------------------------------------------------------------------------------------
// 1. A per-CPU hash of struct io_key → struct io_stats: 4 key columns, 8 value columns.

export const STRUCT_COLUMNS: MapColumn[] = [
  { path: 'pid', side: 'key', numeric: true },
  { path: 'tid', side: 'key', numeric: true },
  { path: 'peer.addr', side: 'key', numeric: false },
  { path: 'peer.port', side: 'key', numeric: true },
  { path: 'comm', side: 'value', numeric: false },
  { path: 'bytes_read', side: 'value', numeric: true },
  { path: 'bytes_written', side: 'value', numeric: true },
  { path: 'ops', side: 'value', numeric: true },
  { path: 'errors', side: 'value', numeric: true },
  { path: 'lat_ns.sum', side: 'value', numeric: true },
  { path: 'lat_ns.max', side: 'value', numeric: true },
  { path: 'last_op', side: 'value', numeric: false },
];

const CPUS = 8;

export function structMeta(): MapsPanelMeta {
  return {
    node: 'dfsnode0',
    map: summary({
      id: 412,
      name: 'io_by_peer',
      type: 'percpu_hash',
      key_size: 16,
      value_size: 64,
      max_entries: 131072,
      ours: false,
      prog_ids: [88, 89],
    }),
    keyType: 'struct io_key',
    valueType: 'struct io_stats',
    btf: true,
    perCpu: true,
    cpus: CPUS,
    columns: STRUCT_COLUMNS,
    histogram: false,
    sockets: false,
  };
}

/** The entry at `i` as of refresh `tick`: its key, its per-CPU values. */
function structEntry(i: number, tick: number): { key: Record<string, unknown>; values: Record<string, unknown>[] } {
  const h = hash(i);
  const key = {
    pid: 1000 + (h % 30000),
    tid: 1000 + (hash(i, 1) % 60000),
    peer: { addr: `10.${(h >>> 8) & 255}.${(h >>> 16) & 255}.${(i % 250) + 1}`, port: [6379, 9000, 443, 8080][h % 4] },
  };
  // Every 7th entry is busy: its counters move with each tick.
  const busy = (i + tick) % 7 === 0;
  const values = Array.from({ length: CPUS }, (_, cpu) => {
    const c = hash(i, cpu + 2);
    const grow = busy ? tick * (c % 5000) : 0;
    return {
      comm: COMMS[h % COMMS.length],
      bytes_read: (c % 100_000_000) + grow * 4096,
      bytes_written: (hash(i, cpu + 20) % 50_000_000) + grow * 512,
      ops: (c % 100_000) + grow,
      errors: c % 97 === 0 ? c % 13 : 0,
      lat_ns: { sum: (c % 9_000_000_000) + grow * 35_000, max: 20_000 + (c % 4_000_000) },
      last_op: OPS[(h + tick * (busy ? 1 : 0)) % OPS.length],
    };
  });
  return { key, values };
}

function structRow(i: number, tick: number): MapRow {
  const { key, values } = structEntry(i, tick);
  const sum = (f: (v: Record<string, unknown>) => number): number => values.reduce((s, v) => s + f(v), 0);
  const lat = (v: Record<string, unknown>): { sum: number; max: number } => v.lat_ns as { sum: number; max: number };
  const nums: (number | string)[] = [
    key.pid as number,
    key.tid as number,
    (key.peer as { addr: string }).addr,
    (key.peer as { port: number }).port,
    values[0]!.comm as string,
    sum((v) => v.bytes_read as number),
    sum((v) => v.bytes_written as number),
    sum((v) => v.ops as number),
    sum((v) => v.errors as number),
    sum((v) => lat(v).sum),
    sum((v) => lat(v).max),
    values[0]!.last_op as string,
  ];
  const busy = tick > 0 && (i + tick) % 7 === 0;
  const changed = busy ? [5, 6, 7, 9, ...(i % 3 === 0 ? [11] : [])] : [];
  const rates = STRUCT_COLUMNS.map((c, col) => {
    if (!c.numeric || c.side === 'key' || tick === 0) return null;
    return busy && changed.includes(col) ? (hash(i, col) % 2_000_000) / (col === 7 ? 400 : 7) : 0;
  });
  return {
    id: JSON.stringify(key),
    cells: nums.map(String),
    changed,
    rates,
    keyJson: JSON.stringify(key),
    valueJson: JSON.stringify(values),
  };
}

/**
 * A host for the struct map: answers `query` by filtering the cells of all `entries` rows,
 * sorting them and slicing the window, as core's MapTable does (the order per filter and sort is
 * kept, so scrolling costs only the window's rows). `write` gets `writeResult`.
 */
export class StructMapHost {
  tick = 1;
  refreshMs = 1000;
  private order: { key: string; indexes: Int32Array | null } = { key: '', indexes: null };
  last: MapQuery = { filter: '', sort: null, offset: 0, limit: 200 };
  writeResult: { ok: boolean; message: string } = { ok: true, message: 'Updated.' };

  constructor(readonly entries: number) {}

  readonly host: MapsHost = (m) => {
    switch (m.type) {
      case 'ready':
        return [{ type: 'meta', meta: structMeta() }];
      case 'query':
        this.last = { filter: m.filter, sort: m.sort, offset: m.offset, limit: m.limit };
        return [this.rows(this.last)];
      case 'refresh':
        this.refreshMs = m.ms;
        return [];
      case 'write':
        return [{ type: 'result', ...this.writeResult }];
      default:
        return [];
    }
  };

  /** The rows answer of a query (at the current tick). */
  rows(q: MapQuery): MapsPanelUpdate {
    const list = this.indexes(q);
    const n = list ? list.length : this.entries;
    const rows: MapRow[] = [];
    for (let k = q.offset; k < Math.min(n, q.offset + q.limit); k++)
      rows.push(structRow(list ? list[k]! : k, this.tick));
    return {
      type: 'rows',
      rows,
      total: this.entries,
      matching: n,
      query: q,
      at_ms: Date.UTC(2026, 10, 27, 9, 41, 0) + this.tick * this.refreshMs,
      refreshMs: this.refreshMs,
    };
  }

  private indexes(q: MapQuery): Int32Array | null {
    const needle = q.filter.trim().toLowerCase();
    if (needle === '' && !q.sort) return null;
    const key = JSON.stringify([needle, q.sort]);
    if (this.order.key === key) return this.order.indexes;
    const keep: number[] = [];
    const cells: string[][] = [];
    for (let i = 0; i < this.entries; i++) {
      const c = structRow(i, this.tick).cells as string[];
      if (needle === '' || c.join('\u0000').toLowerCase().includes(needle)) {
        keep.push(i);
        cells[i] = c;
      }
    }
    if (q.sort) {
      const { column, desc } = q.sort;
      const numeric = STRUCT_COLUMNS[column]?.numeric ?? false;
      const sign = desc ? -1 : 1;
      keep.sort((a, b) => {
        const x = cells[a]![column]!;
        const y = cells[b]![column]!;
        return sign * (numeric ? Number(x) - Number(y) : x.localeCompare(y));
      });
    }
    this.order = { key, indexes: Int32Array.from(keep) };
    return this.order.indexes;
  }
}

// ---------------------------------------------------------------------------------------------
// 2. A histogram map: FUSE opcode → struct { u64 count; u64 sum_ns; u64 slots[32] }.

export function histogramMessages(): MapsPanelUpdate[] {
  const columns: MapColumn[] = [
    { path: 'key', side: 'key', numeric: false },
    { path: 'count', side: 'value', numeric: true },
    { path: 'sum_ns', side: 'value', numeric: true },
  ];
  const shapes: [string, number, number][] = [
    ['READ', 14, 2.2],
    ['WRITE', 17, 1.6],
    ['LOOKUP', 11, 1.2],
    ['GETATTR', 9, 3.5],
  ];
  const rows: MapRow[] = shapes.map(([op, centre, spread], r) => {
    const slots = Array.from({ length: 32 }, (_, k) =>
      Math.round(40_000 * Math.exp(-((k - centre) ** 2) / (2 * spread * spread)) + (k === centre + 6 ? 180 : 0)),
    );
    const count = slots.reduce((s, v) => s + v, 0);
    const sum = slots.reduce((s, v, k) => s + v * 0.75 * 2 ** k, 0);
    return {
      id: JSON.stringify(op),
      cells: [op, String(count), String(Math.round(sum))],
      changed: r === 0 ? [1, 2] : [],
      rates: [null, r === 0 ? 1520.4 : 0, r === 0 ? 2.9e9 : 0],
      keyJson: JSON.stringify(op),
      valueJson: JSON.stringify({ count, sum_ns: Math.round(sum), slots }),
      hist: slots,
    };
  });
  const meta: MapsPanelMeta = {
    node: 'dfsnode0',
    map: summary({ id: 97, name: 'fuse_lat', type: 'hash', key_size: 4, value_size: 272, max_entries: 64 }),
    keyType: 'enum fuse_opcode',
    valueType: 'struct lat_hist',
    btf: true,
    perCpu: false,
    cpus: 8,
    columns,
    histogram: true,
    sockets: false,
  };
  return [
    { type: 'meta', meta },
    {
      type: 'rows',
      rows,
      total: 4,
      matching: 4,
      query: { filter: '', sort: null, offset: 0, limit: 240 },
      at_ms: Date.UTC(2026, 10, 27, 9, 41, 2),
      refreshMs: 1000,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// 3. A ring buffer.

export function ringbufMessages(): MapsPanelUpdate[] {
  const size = 4 << 20;
  const consumer = 918_274_048;
  const pending = 1_391_616;
  return [
    {
      type: 'meta',
      meta: {
        node: 'dfsnode0',
        map: summary({ id: 133, name: 'slow_events', type: 'ringbuf', key_size: 0, value_size: 0, max_entries: size }),
        keyType: '(none)',
        valueType: '(none)',
        btf: true,
        perCpu: false,
        cpus: 8,
        columns: [],
        histogram: false,
        described:
          'A ring buffer of 4 MiB that BPF programs write records into and one consumer reads (here: the profiler ' +
          'of this connection, for slow FUSE requests). It has no keys to list; its consumer and producer positions ' +
          'say how far each side has got, and the bytes between them are waiting to be read.',
        readOnly: 'a ring buffer has no entries to write',
        sockets: false,
      },
    },
    { type: 'ringbuf', size, consumer, producer: consumer + pending, pending, at_ms: Date.UTC(2026, 10, 27, 9, 41, 3) },
  ];
}

// ---------------------------------------------------------------------------------------------
// 4. A diff of a snapshot against the live map (of the struct map's entries).

export function diffMessages(): MapsPanelUpdate[] {
  const at = Date.UTC(2026, 10, 27, 9, 40, 0);
  const fresh = (i: number): MapRow => ({ ...structRow(i, 0), changed: [], rates: STRUCT_COLUMNS.map(() => null) });
  const changed = (i: number): MapRow => ({
    ...structRow(i, 3),
    changed: [5, 7, 9, 10],
    rates: STRUCT_COLUMNS.map(() => null),
  });
  return [
    {
      type: 'snapshots',
      snapshots: [
        { id: 's1', label: 's1 at 09:40:00', entries: 99_990, at_ms: at },
        { id: 's2', label: 's2 at 09:41:05', entries: 100_000, at_ms: at + 65_000 },
      ],
    },
    {
      type: 'diff',
      a: 's1',
      b: 'live',
      added: [100_001, 100_002, 100_003, 100_004, 100_005].map(fresh),
      removed: [200_001, 200_002, 200_003].map(fresh),
      changed: Array.from({ length: 40 }, (_, k) => changed(k * 7)),
    },
  ];
}
