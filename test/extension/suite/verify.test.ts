// Build-and-verify inside real VS Code against a real local test node: "Verify on test node"
// puts the verifier's rejection on the exact line of the open editor (class as the code, the
// explanation in the message), the budget CodeLens shows real counts and their change, and
// fixing the bug and saving clears the diagnostic through verify-on-save.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Commands } from '../../../extension/src/contributions';
import { api, until } from './support';

function workspaceFile(rel: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder);
  return vscode.Uri.joinPath(folder.uri, rel);
}

const verifierDiagnostics = (uri: vscode.Uri): vscode.Diagnostic[] =>
  vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'BPF verifier');

suite('Verify on the test node', () => {
  test('a rejected program gets a diagnostic on the exact line of the open editor', async () => {
    await api();
    const uri = workspaceFile('verifier/null_hash_lookup.bpf.c');
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    const expectLine = doc
      .getText()
      .split('\n')
      .findIndex((l) => l.includes('EXPECT: null-check'));
    assert.ok(expectLine >= 0);

    await vscode.commands.executeCommand(Commands.verify, uri);
    const diags = verifierDiagnostics(uri);
    assert.equal(diags.length, 1, JSON.stringify(diags));
    const d = diags[0];
    assert.ok(d);
    assert.equal(d.range.start.line, expectLine);
    assert.equal(d.code, 'null-check');
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.match(d.message, /map_value_or_null/);
    assert.match(d.message, /NULL/i, 'the explanation is part of the message');
    // The path that led there: earlier lines of the same program, as related information.
    const related = d.relatedInformation ?? [];
    assert.ok(related.length > 0, 'the path is attached');
    for (const r of related) {
      assert.equal(r.location.uri.fsPath, uri.fsPath);
      assert.ok(
        r.location.range.start.line < expectLine,
        `path line ${r.location.range.start.line + 1} precedes the fault`,
      );
    }
  });

  test('the "dfs-ebpf: build" task builds the workspace for the node and writes compile_commands.json', async () => {
    const tasks = await vscode.tasks.fetchTasks({ type: 'dfs-ebpf' });
    const build = tasks.find((t) => t.name === 'build');
    assert.ok(build, tasks.map((t) => t.name).join(', '));
    // A custom-execution task reports its end, not an exit code: check what it produced.
    const ended = new Promise<void>((resolve) => {
      const sub = vscode.tasks.onDidEndTask((e) => {
        if (e.execution.task.name === 'build') {
          sub.dispose();
          resolve();
        }
      });
    });
    const cc = workspaceFile('compile_commands.json');
    const object = workspaceFile('build/bpf/null_hash_lookup.bpf.o');
    for (const u of [cc, object]) await vscode.workspace.fs.delete(u).then(undefined, () => undefined);
    await vscode.tasks.executeTask(build);
    await ended;
    const entries = JSON.parse(new TextDecoder().decode(await vscode.workspace.fs.readFile(cc))) as { file: string }[];
    assert.deepEqual(entries.map((e) => e.file.slice(e.file.lastIndexOf('/') + 1)).sort(), [
      'bypass.bpf.c',
      'null_hash_lookup.bpf.c',
    ]);
    assert.ok((await vscode.workspace.fs.stat(object)).size > 0, 'every workspace program was built');
  });

  test('the budget CodeLens shows instructions and states, and the change since the last verification', async () => {
    const { verifier } = await api();
    const uri = workspaceFile('bpf/bypass.bpf.c');
    await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
    await vscode.commands.executeCommand(Commands.verify, uri);
    await vscode.commands.executeCommand(Commands.verify, uri);
    const v = verifier.last(uri);
    assert.ok(v && v.outcome.ok, 'the bypass verifies');
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri);
    const titles = lenses.map((l) => l.command?.title ?? '');
    assert.equal(titles.length, 3, titles.join(' | ')); // one per program: sock_ops, the sk_msg stub, the redirect
    for (const t of titles)
      assert.match(t, /verified: [\d,]+ insns processed · [\d,]+ states \(±0 insns, ±0 states since last\)/);
  });

  test('fixing the bug and saving clears the diagnostic (verify on save)', async () => {
    const uri = workspaceFile('verifier/null_hash_lookup.bpf.c');
    const doc = await vscode.workspace.openTextDocument(uri);
    const line = doc
      .getText()
      .split('\n')
      .findIndex((l) => l.includes('EXPECT: null-check'));
    const text = doc.lineAt(line).text;
    const fixed = text.replace(/^(\s*)(.*?);.*$/, '$1if (count) $2;');
    assert.notEqual(fixed, text);
    const edit = new vscode.WorkspaceEdit();
    edit.replace(uri, doc.lineAt(line).range, fixed);
    assert.ok(await vscode.workspace.applyEdit(edit));
    assert.ok(await doc.save());
    await until(() => verifierDiagnostics(uri).length === 0, 30_000, 'the diagnostic to clear after save');
  });
});
