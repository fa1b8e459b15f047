// The map inspector inside real VS Code against the suite's real test node: with the bypass
// attached, "Open map…" on its policy map opens the inspector, which adds an endpoint exactly
// as its webview's editor does (a `write` message with JSON texts); the agent reads the new
// entry back. A value of the wrong type is refused naming the field, the map unchanged; the
// node explorer lists the bypass's programs, maps and links as ours.
import * as assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { MapsListRequest } from '../../../protocol/src';
import { Commands } from '../../../extension/src/contributions';
import { dumpEntries, openCodecs } from '../../../core/src/inspect/onNode';
import { api, until } from './support';

suite('Map inspector and node explorer', () => {
  let attachedHere = false;

  suiteSetup(async () => {
    const { bypass } = await api();
    await vscode.commands.executeCommand(Commands.connect);
    if (!bypass.status?.attached) {
      await vscode.commands.executeCommand(Commands.attachBypass);
      attachedHere = true;
    }
    assert.equal(bypass.status?.attached, true, `the bypass is attached (last error: ${bypass.error})`);
  });

  suiteTeardown(async () => {
    const { maps } = await api();
    maps.dispose();
    if (attachedHere) await vscode.commands.executeCommand(Commands.detachBypass);
  });

  test('adding an endpoint to the bypass policy from the inspector: the agent reads it back', async () => {
    const { ctx, maps } = await api();
    const session = await ctx.ensureConnected();
    const { maps: all } = await session.request(MapsListRequest, {});
    const policy = all.find((m) => m.name === 'bypass_policy' && m.ours);
    assert.ok(policy, `the bypass policy map is listed as ours: ${all.map((m) => m.name).join(', ')}`);
    await vscode.commands.executeCommand(Commands.openMap, policy.id);
    const inspector = maps.get(policy.id);
    assert.ok(inspector, 'the inspector is open');

    const key = { ip4: 0x0100007f, port: 7777 };
    await inspector.handle({ type: 'write', op: 'insert', key: JSON.stringify(key), value: '{"flags":1,"pad":0}' });
    assert.deepEqual(inspector.last('result')?.ok, true, inspector.last('result')?.message);

    const codecs = await openCodecs(session, policy.id);
    const entries = await dumpEntries(session, codecs);
    assert.deepEqual(
      entries.find((e) => JSON.stringify(e.key) === JSON.stringify(key)),
      { key, value: { flags: 1, pad: 0 } },
      'the agent reads the new endpoint back',
    );

    await inspector.handle({ type: 'write', op: 'update', key: JSON.stringify(key), value: '{"flags":"yes","pad":0}' });
    assert.equal(inspector.last('result')?.ok, false);
    assert.match(inspector.last('result')?.message ?? '', /value\.flags/);
    const after = await dumpEntries(session, codecs);
    assert.deepEqual(after, entries, 'the refused write changed nothing');

    await inspector.handle({ type: 'write', op: 'delete', key: JSON.stringify(key) });
    assert.equal(inspector.last('result')?.ok, true, inspector.last('result')?.message);
    assert.equal((await dumpEntries(session, codecs)).length, entries.length - 1);
  });

  test('snapshots of the bypass policy: the diff names added, removed and changed entries; JSON and CSV export', async () => {
    const { ctx, maps } = await api();
    const session = await ctx.ensureConnected();
    const { maps: all } = await session.request(MapsListRequest, {});
    const policy = all.find((m) => m.name === 'bypass_policy' && m.ours);
    assert.ok(policy);
    await vscode.commands.executeCommand(Commands.openMap, policy.id);
    const inspector = maps.get(policy.id);
    assert.ok(inspector);
    await until(() => inspector.last('rows') !== undefined, 10_000, 'the first read');
    await inspector.handle({ type: 'refresh', ms: 0 });
    const ep = (port: number): string => JSON.stringify({ ip4: 0x0100007f, port });
    const write = async (op: 'insert' | 'update' | 'delete', port: number, flags?: number): Promise<void> => {
      await inspector.handle({ type: 'write', op, key: ep(port), value: JSON.stringify({ flags, pad: 0 }) });
      assert.equal(inspector.last('result')?.ok, true, inspector.last('result')?.message);
    };
    const snapshot = async (): Promise<string> => {
      await inspector.handle({ type: 'snapshot' });
      const list = inspector.last('snapshots')?.snapshots ?? [];
      return list[list.length - 1]?.id ?? assert.fail('no snapshot listed');
    };
    const keep = await snapshot();
    try {
      await write('insert', 7101, 1);
      await write('insert', 7102, 1);
      const a = await snapshot();
      await write('update', 7101, 3);
      await write('delete', 7102);
      await write('insert', 7103, 2);
      const b = await snapshot();

      await inspector.handle({ type: 'diff', a, b });
      const d = inspector.last('diff');
      assert.ok(d, 'a diff was sent to the webview');
      const keyOf = (rows: { keyJson: string }[]): string[] => rows.map((r) => r.keyJson);
      assert.deepEqual(keyOf(d.added), [ep(7103)]);
      assert.deepEqual(keyOf(d.removed), [ep(7102)]);
      assert.deepEqual(keyOf(d.changed), [ep(7101)]);
      // Columns key.ip4, key.port, flags, pad (as the CSV header below shows them).
      assert.deepEqual(d.changed[0]?.changed, [2], 'only the flags cell changed');

      // Export as the webview's buttons do; the save dialog answers as a user picking a file would.
      const dir = await mkdtemp(join(tmpdir(), 'dfs-maps-export-'));
      const realDialog = vscode.window.showSaveDialog;
      try {
        for (const format of ['json', 'csv'] as const) {
          const file = join(dir, `policy.${format}`);
          Object.assign(vscode.window, { showSaveDialog: () => Promise.resolve(vscode.Uri.file(file)) });
          await inspector.handle({ type: 'export', format, snapshot: b });
          assert.equal(inspector.last('result')?.ok, true, inspector.last('result')?.message);
        }
      } finally {
        Object.assign(vscode.window, { showSaveDialog: realDialog });
      }
      const json = JSON.parse(await readFile(join(dir, 'policy.json'), 'utf8')) as {
        map: { id: number };
        entries: { key: unknown; value: unknown }[];
      };
      assert.equal(json.map.id, policy.id);
      assert.deepEqual(
        json.entries.find((e) => JSON.stringify(e.key) === ep(7103)),
        { key: JSON.parse(ep(7103)) as unknown, value: { flags: 2, pad: 0 } },
      );
      const csv = (await readFile(join(dir, 'policy.csv'), 'utf8')).trim().split('\n');
      assert.equal(csv[0], 'key.ip4,key.port,flags,pad');
      assert.ok(csv.includes(`${0x0100007f},7103,2,0`), csv.join(' | '));
      assert.equal(csv.length, json.entries.length + 1, 'one CSV line per entry');
      await rm(dir, { recursive: true });
    } finally {
      for (const port of [7101, 7102, 7103]) {
        await inspector.handle({ type: 'write', op: 'delete', key: ep(port) });
      }
      await inspector.handle({ type: 'diff', a: keep, b: 'live' });
      const back = inspector.last('diff');
      assert.deepEqual([back?.added.length, back?.removed.length, back?.changed.length], [0, 0, 0], 'policy as before');
    }
  });

  test("the bypass's sockhash in the inspector: each socket by cookie with both endpoints", async () => {
    const { ctx, maps } = await api();
    const session = await ctx.ensureConnected();
    const { maps: all } = await session.request(MapsListRequest, {});
    const sockhash = all.find((m) => m.name === 'bypass_sockhash' && m.ours);
    assert.ok(sockhash, 'the bypass sockhash is listed as ours');
    await vscode.commands.executeCommand(Commands.openMap, sockhash.id);
    const inspector = maps.get(sockhash.id);
    assert.ok(inspector);
    await until(() => (inspector.last('rows')?.rows.length ?? 0) > 0, 10_000, 'rows of the sockhash');
    for (const row of inspector.last('rows')?.rows ?? []) {
      assert.match(
        row.socket ?? '',
        /^127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+ established$/,
        `${row.keyJson}: ${row.socket}`,
      );
    }
  });

  test('the node explorer shows the bypass as ours, with its maps and links', async () => {
    const { nodeExplorer } = await api();
    await vscode.commands.executeCommand('workbench.view.extension.dfsEbpf');
    await nodeExplorer.refresh();
    await until(() => nodeExplorer.objects !== null, 10_000, 'the explorer read the node');
    const o = nodeExplorer.objects;
    assert.ok(o);
    const sockops = o.programs.find((p) => p.name === 'bypass_sockops');
    assert.equal(sockops?.ours, true, 'bypass_sockops is ours');
    assert.ok(
      sockops?.attach.some((a) => a.startsWith('cgroup')),
      `attached to a cgroup: ${sockops?.attach.join('; ')}`,
    );
    assert.equal(o.maps.find((m) => m.name === 'bypass_policy')?.ours, true);
    assert.ok(
      o.links.some((l) => l.ours && l.prog_id === sockops?.id),
      'its cgroup link is ours',
    );
    assert.equal(o.programs[0]?.ours, true, 'ours come first');
  });
});
