// "New eBPF program…" and "Create bypass workspace…" inside real VS Code: a program from a
// template lands in the folder asked for under its own name and opens in the editor; the
// workspace fills an empty folder; a folder that is not empty is refused with nothing written.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../../../extension/src/contributions';
import { api } from './support';

suite('Starting points', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'dfs-ext-new-'));
  suiteTeardown(() => rmSync(scratch, { recursive: true, force: true }));

  test('"New eBPF program…" renders a template under its name and opens it', async () => {
    await api();
    const folder = vscode.Uri.file(join(scratch, 'programs'));
    const written = await vscode.commands.executeCommand<string[]>(Commands.newProgram, 'xdp', 'edge_counter', folder);
    assert.deepEqual(written.map((f) => f.slice(folder.fsPath.length + 1)).sort(), [
      'edge_counter.bpf.c',
      'edge_counter.h',
    ]);
    const text = readFileSync(join(folder.fsPath, 'edge_counter.bpf.c'), 'utf8');
    assert.match(text, /SEC\("xdp"\)/);
    assert.match(text, /#include "edge_counter\.h"/);
    assert.equal(vscode.window.activeTextEditor?.document.uri.fsPath, join(folder.fsPath, 'edge_counter.bpf.c'));
    // A second one of the same name writes nothing.
    const again = await vscode.commands.executeCommand<string[] | undefined>(
      Commands.newProgram,
      'xdp',
      'edge_counter',
      folder,
    );
    assert.equal(again, undefined);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('"Create bypass workspace…" fills an empty folder, and refuses one that is not', async () => {
    const empty = vscode.Uri.file(join(scratch, 'ws'));
    await vscode.workspace.fs.createDirectory(empty);
    const written = await vscode.commands.executeCommand<string[]>(Commands.createWorkspace, empty, false);
    const rel = written.map((f) => f.slice(empty.fsPath.length + 1)).sort();
    assert.ok(
      rel.includes('bpf/bypass.bpf.c') && rel.includes('.vscode/tasks.json') && rel.includes('README.md'),
      rel.join(),
    );
    const tasks = JSON.parse(readFileSync(join(empty.fsPath, '.vscode/tasks.json'), 'utf8')) as {
      tasks: { type: string; task: string }[];
    };
    assert.deepEqual(
      tasks.tasks.map((t) => `${t.type}:${t.task}`),
      ['dfs-ebpf:build'],
    );

    const busy = join(scratch, 'busy');
    await vscode.workspace.fs.createDirectory(vscode.Uri.file(busy));
    writeFileSync(join(busy, 'notes.txt'), 'mine\n');
    const refused = await vscode.commands.executeCommand<string[] | undefined>(
      Commands.createWorkspace,
      vscode.Uri.file(busy),
      false,
    );
    assert.equal(refused, undefined);
    assert.deepEqual(readdirSync(busy), ['notes.txt'], 'nothing was written');
    assert.ok(!existsSync(join(busy, 'bpf')));
  });
});
