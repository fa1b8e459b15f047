// The map inspector inside real VS Code against the suite's real test node: with the bypass
// attached, "Open map…" on its policy map opens the inspector, which adds an endpoint exactly
// as its webview's editor does (a `write` message with JSON texts); the agent reads the new
// entry back. A value of the wrong type is refused naming the field, the map unchanged; the
// node explorer lists the bypass's programs, maps and links as ours.
import * as assert from 'node:assert/strict';
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
    assert.deepEqual(inspector.lastResult?.ok, true, inspector.lastResult?.message);

    const codecs = await openCodecs(session, policy.id);
    const entries = await dumpEntries(session, codecs);
    assert.deepEqual(
      entries.find((e) => JSON.stringify(e.key) === JSON.stringify(key)),
      { key, value: { flags: 1, pad: 0 } },
      'the agent reads the new endpoint back',
    );

    await inspector.handle({ type: 'write', op: 'update', key: JSON.stringify(key), value: '{"flags":"yes","pad":0}' });
    assert.equal(inspector.lastResult?.ok, false);
    assert.match(inspector.lastResult?.message ?? '', /value\.flags/);
    const after = await dumpEntries(session, codecs);
    assert.deepEqual(after, entries, 'the refused write changed nothing');

    await inspector.handle({ type: 'write', op: 'delete', key: JSON.stringify(key) });
    assert.equal(inspector.lastResult?.ok, true, inspector.lastResult?.message);
    assert.equal((await dumpEntries(session, codecs)).length, entries.length - 1);
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
