// "Install agent on node…" and "Uninstall agent from node…" inside real VS Code, against the
// bare node test/extension/run.ts brings up (a fresh Debian server named by a Host block in
// the extension host's ~/.ssh/config). The password box answers sudo's question as the user
// would type it (the one stand-in: nobody types in a test); everything else is real: SSH with
// the host key checked, sudo, the install on the node, the agent started through its new sudo
// rule and reporting the shipped runtime, and the uninstall that leaves nothing.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { InstallResult, UninstallResult } from '../../../core/src/install';
import { Commands } from '../../../extension/src/contributions';
import { api } from './support';

interface Bare {
  name: string;
  password: string;
  ssh: string;
}

suite('Install agent on node', () => {
  const bare = JSON.parse(process.env.DFS_EBPF_TEST_BARE ?? 'null') as Bare | null;
  const real = { showInputBox: vscode.window.showInputBox, showWarningMessage: vscode.window.showWarningMessage };
  const asked: string[] = [];

  suiteSetup(async () => {
    await api();
    assert.ok(bare, 'the harness brought a bare node up');
    Object.assign(vscode.window, {
      showInputBox: (o?: vscode.InputBoxOptions) => {
        asked.push(`${o?.password ? 'password' : 'text'}: ${o?.prompt ?? ''}`);
        return Promise.resolve(o?.password ? bare.password : undefined);
      },
      showWarningMessage: (_m: string, o: unknown, ...items: string[]) =>
        Promise.resolve(typeof o === 'object' && o !== null && 'modal' in o ? items[0] : undefined),
    });
  });

  suiteTeardown(() => {
    Object.assign(vscode.window, real);
  });

  test('installs on a fresh server through sudo, then uninstalls leaving nothing', async function () {
    this.timeout(300_000);
    assert.ok(bare);
    const r = await vscode.commands.executeCommand<InstallResult | undefined>(Commands.installAgent, bare.name);
    assert.ok(r, 'the install finished (see the DFS eBPF log otherwise)');
    assert.equal(r.result, 'installed');
    assert.equal(r.ssh, bare.ssh);
    assert.equal(r.agent.runtime.node, 'v24.21.0', 'the shipped Node runtime runs the agent');
    assert.equal(r.agent.libbpf, 'v1.7');
    assert.deepEqual(asked, [`password: sudo password for jfsadmin on ${bare.ssh.split('@')[1]?.split(':')[0]}`]);

    const again = await vscode.commands.executeCommand<InstallResult | undefined>(Commands.installAgent, bare.name);
    assert.equal(again?.result, 'unchanged');

    const u = await vscode.commands.executeCommand<UninstallResult | undefined>(Commands.uninstallAgent, bare.name);
    assert.equal(u?.result, 'removed');
    const gone = await vscode.commands.executeCommand<UninstallResult | undefined>(Commands.uninstallAgent, bare.name);
    assert.equal(gone?.result, 'absent', 'nothing of ours is left');
  });
});
