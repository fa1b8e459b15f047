// core/src/inspect/table.ts and programs.ts: the map inspector's rows from decoded entries of
// the fixture's real BTF (maps.bpf.c compiled here): columns per field, per-CPU sums, the
// histogram column, changed cells and rates across refreshes, filter/sort/window, snapshot
// diffs and CSV; and bpftop's per-program figures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BtfKind, elfSection, parseBtf, shapeOf, type Btf } from '../../core/src/btf';
import { diffEntries, entriesCsv, MapTable, tableLayout } from '../../core/src/inspect/table';
import { formatFigures, programFigures } from '../../core/src/inspect/programs';
import { compileMapsFixture } from '../support/mapsFixture';

const fixture = compileMapsFixture();
fixture.dispose();
const btf: Btf = parseBtf(elfSection(fixture.elf, '.BTF'));

function typeId(name: string, kind: BtfKind): number {
  const id = btf.find(name, kind);
  assert.ok(id !== undefined, `no ${name}`);
  return id;
}

const counter = shapeOf(btf, typeId('fx_counter', BtfKind.Struct));
const endpoint = shapeOf(btf, typeId('fx_endpoint', BtfKind.Struct));
const hist = shapeOf(btf, typeId('fx_hist', BtfKind.Struct));
const u32 = shapeOf(btf, typeId('__u32', BtfKind.Typedef));

const q = { filter: '', sort: null, offset: 0, limit: 100 };

test('columns follow the fields; a struct key has its own columns', () => {
  const layout = tableLayout(endpoint, counter, false);
  assert.deepEqual(
    layout.columns.map((c) => `${c.side}:${c.path}:${c.numeric}`),
    ['key:addr:true', 'key:port:true', 'key:proto:true', 'key:pad:true', 'value:packets:true', 'value:bytes:true'],
  );
  assert.equal(layout.histogram, null);
  const noBtf = tableLayout(null, null, false);
  assert.deepEqual(
    noBtf.columns.map((c) => c.path),
    ['key', 'value'],
  );
});

test('changed cells and rates between two refreshes; per-CPU numbers summed', () => {
  const table = new MapTable(tableLayout(u32, counter, true));
  table.update(
    [
      {
        key: 1,
        value: [
          { packets: 1, bytes: 10 },
          { packets: 2, bytes: 20 },
        ],
      },
    ],
    1000,
  );
  let { rows } = table.query(q);
  assert.deepEqual(rows[0]?.cells, ['1', '3', '30']);
  assert.deepEqual(rows[0]?.changed, [], 'nothing to compare with on the first read');
  table.update(
    [
      {
        key: 1,
        value: [
          { packets: 5, bytes: 10 },
          { packets: 2, bytes: 20 },
        ],
      },
      {
        key: 2,
        value: [
          { packets: 0, bytes: 0 },
          { packets: 0, bytes: 0 },
        ],
      },
    ],
    3000,
  );
  ({ rows } = table.query(q));
  assert.deepEqual(rows[0]?.cells, ['1', '7', '30']);
  assert.deepEqual(rows[0]?.changed, [1]);
  assert.deepEqual(rows[0]?.rates, [0, 2, 0], 'packets went 3 → 7 in 2 s');
  assert.deepEqual(rows[1]?.changed, [], 'a new entry has nothing to compare with');
  assert.equal(
    rows[0]?.valueJson,
    JSON.stringify([
      { packets: 5, bytes: 10 },
      { packets: 2, bytes: 20 },
    ]),
  );
});

test('filter, sort and the window ask only for the rows shown', () => {
  const table = new MapTable(tableLayout(u32, counter, false));
  table.update(
    Array.from({ length: 1000 }, (_, i) => ({ key: i, value: { packets: (i * 7919) % 1000, bytes: i } })),
    1,
  );
  const sorted = table.query({ filter: '', sort: { column: 1, desc: true }, offset: 0, limit: 3 });
  assert.equal(sorted.matching, 1000);
  assert.deepEqual(
    sorted.rows.map((r) => Number(r.cells[1])),
    [999, 998, 997],
  );
  const filtered = table.query({ filter: '99', sort: { column: 0, desc: false }, offset: 0, limit: 1000 });
  assert.ok(filtered.rows.every((r) => r.cells.some((c) => c?.includes('99'))));
  assert.equal(filtered.rows.length, filtered.matching);
  const window = table.query({ filter: '', sort: { column: 0, desc: false }, offset: 500, limit: 2 });
  assert.deepEqual(
    window.rows.map((r) => r.cells[0]),
    ['500', '501'],
  );
});

test('a log2 histogram value becomes one drawn column', () => {
  const layout = tableLayout(u32, hist, false);
  assert.deepEqual(layout.histogram, { member: 'slots' });
  assert.deepEqual(
    layout.columns.map((c) => c.path),
    ['key', 'count', 'sum_ns'],
  );
  const table = new MapTable(layout);
  const slots = Array.from({ length: 32 }, (_, i) => (i === 3 ? 5 : 0));
  table.update([{ key: 0, value: { count: 5, sum_ns: 40, slots } }], 1);
  assert.deepEqual(table.query(q).rows[0]?.hist, slots);
});

test('snapshot diff: added, removed, changed (with the changed columns)', () => {
  const layout = tableLayout(u32, counter, false);
  const a = [
    { key: 1, value: { packets: 1, bytes: 1 } },
    { key: 2, value: { packets: 2, bytes: 2 } },
  ];
  const b = [
    { key: 2, value: { packets: 2, bytes: 9 } },
    { key: 3, value: { packets: 3, bytes: 3 } },
  ];
  const d = diffEntries(layout, a, b);
  assert.deepEqual(
    d.added.map((r) => r.cells[0]),
    ['3'],
  );
  assert.deepEqual(
    d.removed.map((r) => r.cells[0]),
    ['1'],
  );
  assert.deepEqual(
    d.changed.map((r) => [r.cells[0], r.changed]),
    [['2', [2]]],
  );
});

test('CSV: header of paths, quoted fields, histogram as one field', () => {
  const csv = entriesCsv(tableLayout(endpoint, counter, false), [
    { key: { addr: 1, port: 2, proto: 3, pad: 0 }, value: { packets: 4, bytes: 5 } },
  ]);
  assert.equal(csv, 'key.addr,key.port,key.proto,key.pad,packets,bytes\n1,2,3,0,4,5\n');
  const h = entriesCsv(tableLayout(u32, hist, false), [{ key: 0, value: { count: 1, sum_ns: 2, slots: [0, 1] } }]);
  assert.equal(h, 'key,count,sum_ns,histogram\n0,1,2,0 1\n');
});

test("bpftop's figures: runs/s, ns per run, CPU share; none across a reset", () => {
  const f = programFigures(
    { run_cnt: 1000, run_time_ns: 1_000_000 },
    { run_cnt: 3000, run_time_ns: 2_000_000 },
    2000,
    2,
  );
  assert.deepEqual(f, { runsPerS: 1000, avgNs: 500, cpuPercent: 0.025 });
  assert.equal(formatFigures(f ?? { runsPerS: 0, avgNs: 0, cpuPercent: 0 }), '1.0k runs/s · 500 ns · 0.03% CPU');
  assert.equal(programFigures(undefined, { run_cnt: 1, run_time_ns: 1 }, 1000, 2), null);
  assert.equal(programFigures({ run_cnt: 5, run_time_ns: 5 }, { run_cnt: 1, run_time_ns: 1 }, 1000, 2), null);
});
