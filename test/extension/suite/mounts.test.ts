// A node with two JuiceFS mounts inside real VS Code (issue 6, item 13): "Attach bypass" asks
// which mount with a quick pick (answered here through VS Code's own quick-open commands, as
// the keyboard would), remembers the answer for the node, and the `dfsEbpf.bypass.mount`
// setting overrides both. The second mount is the bench's limit mount of the same volume
// (core/src/testnode/benchAccess.ts), made and removed by this suite.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Commands } from '../../../extension/src/contributions';
import { mountUnixMeta, type UnixMetaMount } from '../../../core/src/testnode/benchAccess';
import { api, until } from './support';

function nodeName(): string {
  const setting = vscode.workspace.getConfiguration('dfsEbpf').get<string>('node', '');
  return setting.replace(/^local:/, '') || 'dfsnode0';
}

suite('A node with two JuiceFS mounts', () => {
  let second: UnixMetaMount | undefined;

  suiteSetup(async () => {
    second = await mountUnixMeta({ name: nodeName() });
    // A new connection, so that the agent's list of mounts includes the second one.
    await vscode.commands.executeCommand(Commands.disconnect);
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand(Commands.detachBypass);
    await vscode.commands.executeCommand(Commands.disconnect);
    await vscode.workspace
      .getConfiguration('dfsEbpf')
      .update('bypass.mount', undefined, vscode.ConfigurationTarget.Global);
    await second?.close();
  });

  test('"Attach bypass" asks which mount, attaches for the one picked, and remembers it for the node', async () => {
    const { ctx, bypass } = await api();
    const session = await ctx.ensureConnected();
    const mounts = session.info.juicefs.map((m) => m.mountpoint);
    assert.equal(mounts.length, 2, `two mounts: ${mounts.join(', ')}`);

    let settled = false;
    const attach = Promise.resolve(vscode.commands.executeCommand(Commands.attachBypass)).finally(
      () => (settled = true),
    );
    // Answer the quick pick as the keyboard would: down once, Enter (retried until it is open).
    for (let i = 0; i < 100 && !settled; i++) {
      await vscode.commands.executeCommand('workbench.action.quickOpenSelectNext');
      await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
      await new Promise((r) => setTimeout(r, 300));
    }
    await attach;
    const picked = bypass.status?.mountpoint;
    assert.equal(bypass.status?.attached, true, `attached (last error: ${bypass.error})`);
    assert.ok(picked && mounts.includes(picked), `attached for a mount of the node: ${picked}`);
    assert.equal(
      ctx.extension.globalState.get<string>(`bypass.mount:${session.target.label}`),
      picked,
      'the pick is remembered for this node',
    );

    // The second time nothing is asked: the command finishes by itself, on the same mount.
    await vscode.commands.executeCommand(Commands.detachBypass);
    assert.equal(bypass.status?.attached, false);
    await vscode.commands.executeCommand(Commands.attachBypass);
    assert.equal(bypass.status?.attached, true, `attached again (last error: ${bypass.error})`);
    assert.equal(bypass.status?.mountpoint, picked);
    await vscode.commands.executeCommand(Commands.detachBypass);
  });

  test('the dfsEbpf.bypass.mount setting overrides the remembered pick (a trailing slash still names the mount)', async () => {
    const { ctx, bypass } = await api();
    const session = await ctx.ensureConnected();
    const remembered = ctx.extension.globalState.get<string>(`bypass.mount:${session.target.label}`);
    const other = session.info.juicefs.map((m) => m.mountpoint).find((m) => m !== remembered);
    assert.ok(other, 'another mount than the remembered one');
    await vscode.workspace
      .getConfiguration('dfsEbpf')
      .update('bypass.mount', `${other}/`, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand(Commands.attachBypass);
    assert.equal(bypass.status?.attached, true, `attached (last error: ${bypass.error})`);
    assert.equal(bypass.status?.mountpoint, other);
    await vscode.commands.executeCommand(Commands.detachBypass);
    await until(() => bypass.status?.attached === false, 10_000, 'detached');
  });
});
