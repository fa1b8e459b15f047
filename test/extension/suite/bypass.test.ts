// The extension inside real VS Code (code-server's Node extension host) against a real local
// test node: its commands drive the real SSH connection and agent, the status bar follows the
// bypass and its live counters, compile errors of the workspace's bypass land in Problems,
// and a wrong host key is refused with HostKeyMismatch. The node is brought up by
// test/extension/run.ts and named by the `dfsEbpf.node` setting.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode } from '../../../protocol/src';
import { Commands } from '../../../extension/src/contributions';
import { api, until } from './support';
import { DfsError } from '../../../core/src/errors';
import { readLocalNode } from '../../../core/src/testnode';

function nodeName(): string {
  const setting = vscode.workspace.getConfiguration('dfsEbpf').get<string>('node', '');
  return setting.replace(/^local:/, '') || 'dfsnode0';
}

suite('DFS eBPF in VS Code', () => {
  suiteTeardown(async () => {
    await vscode.commands.executeCommand(Commands.disconnect);
  });

  test('contributes its commands', async () => {
    await api();
    const all = await vscode.commands.getCommands(true);
    for (const id of Object.values(Commands)) assert.ok(all.includes(id), id);
  });

  test('"Connect to test node" connects over SSH and the status bar shows the node', async () => {
    const { ctx, statusBar } = await api();
    await vscode.commands.executeCommand(Commands.connect);
    const s = ctx.connected;
    assert.ok(s, 'connected');
    assert.equal(s.target.localNode, nodeName());
    assert.ok(s.info.juicefs.length === 1, 'the agent sees the node JuiceFS mount');
    await until(() => /bypass off/.test(statusBar.text), 10_000, 'status bar "bypass off"');
  });

  test('"Attach bypass" builds the workspace bypass, attaches it, and the status bar counts traffic', async () => {
    const { bypass, statusBar } = await api();
    await vscode.commands.executeCommand(Commands.attachBypass);
    assert.equal(bypass.status?.attached, true, `attached (last error: ${bypass.error})`);
    assert.equal(bypass.status?.owner, 'this-connection');
    assert.ok(bypass.status?.endpoints.some((e) => e.port === 6379 && e.source === 'meta'));
    await until(() => /bypass on/.test(statusBar.text), 10_000, 'status bar "bypass on"');

    const node = readLocalNode(nodeName());
    assert.ok(node);
    const data = randomBytes(3 << 20);
    const file = join(node.mountpoint, `ext-${process.pid}.bin`);
    writeFileSync(file, data);
    assert.ok(readFileSync(file).equals(data));
    rmSync(file);
    await until(
      () => (bypass.status?.counters.redirected_bytes ?? 0) > 1 << 20,
      15_000,
      'redirected bytes in the status',
    );
    assert.match(statusBar.text, /bypass on · [\d.]+k? msgs · [\d.]+ (KiB|MiB|GiB)/);
  });

  test('"Detach bypass" turns it off', async () => {
    const { bypass, statusBar } = await api();
    await vscode.commands.executeCommand(Commands.detachBypass);
    assert.equal(bypass.status?.attached, false);
    await until(() => /bypass off/.test(statusBar.text), 10_000, 'status bar "bypass off"');
  });

  test('a compile error in the workspace bypass lands in Problems on its line, and nothing attaches', async () => {
    const { bypass } = await api();
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder);
    // This test edits the workspace: it must be the scratch copy made by run.ts, never the repo.
    assert.ok(!existsSync(join(folder.uri.fsPath, 'package.json')), `workspace ${folder.uri.fsPath} is a scratch copy`);
    const source = vscode.Uri.joinPath(folder.uri, 'bpf', 'bypass.bpf.c');
    const good = readFileSync(source.fsPath, 'utf8');
    const lines = good.split('\n');
    const at = lines.findIndex((l) => l.includes('SEC("sk_msg")'));
    lines.splice(at, 0, 'int broken = undeclared_symbol;');
    writeFileSync(source.fsPath, lines.join('\n'));
    try {
      await vscode.commands.executeCommand(Commands.attachBypass);
      assert.equal(bypass.status?.attached, false, 'not attached');
      const diags = vscode.languages.getDiagnostics(source);
      const err = diags.find((d) => d.severity === vscode.DiagnosticSeverity.Error);
      assert.ok(err, 'an error diagnostic');
      assert.equal(err.range.start.line, at, 'on the broken line');
      assert.match(err.message, /undeclared/);
    } finally {
      writeFileSync(source.fsPath, good);
    }
  });

  test('a wrong host key is refused with HostKeyMismatch and no session', async () => {
    const { ctx, statusBar } = await api();
    await vscode.commands.executeCommand(Commands.disconnect);
    const node = readLocalNode(nodeName());
    assert.ok(node);
    const wrong = join(tmpdir(), `wrong_known_hosts_${process.pid}`);
    writeFileSync(
      wrong,
      `${node.host} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOqJhWmBnqXhJvYmCJ6kFZKPSxW7oN0S8f8hJqQ9n0dD\n`,
    );
    const cfg = vscode.workspace.getConfiguration('dfsEbpf');
    await cfg.update('knownHostsFile', wrong, vscode.ConfigurationTarget.Global);
    try {
      // The extension bundles its own copy of DfsError, so compare codes, not classes.
      await assert.rejects(ctx.ensureConnected(), (e: unknown) => (e as DfsError).code === ErrorCode.HostKeyMismatch);
      assert.equal(ctx.connected, null);
      assert.match(statusBar.text, /no node/);
    } finally {
      await cfg.update('knownHostsFile', undefined, vscode.ConfigurationTarget.Global);
      rmSync(wrong, { force: true });
    }
  });
});
