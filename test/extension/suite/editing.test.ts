// Editing help inside real VS Code against a real local test node's kernel: as a .bpf.c opens,
// the checks before the verifier flag a helper its program type may not call (on the call) and
// a misspelled section (with a quick fix that corrects it); a hover and a completion on
// bpf_map_lookup_elem give its signature and the kernel headers' description, and say that this
// XDP program may call it on the node's kernel; a hover on a kfunc gives the kernel's own
// kernel-doc and the node verifier's verdict; a kfunc the program's type may not call is
// flagged at the call, and a kfunc's hover and completion say which types may call it, as the
// node's verifier answered (kernel/kfuncs). And a benchmark that prints figures: a keystroke
// in a 1,000-line file to the checks' diagnostics, against the checks alone, interleaved.
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { checkSource } from '../../../core/src/editing/check';
import { scanSource } from '../../../core/src/editing/source';
import { repoRoot } from '../../support/repo';
import { api, until } from './support';

/** A program with a helper its type may not call and a misspelled section (shared with the e2e test). */
const SOURCE = readFileSync(join(repoRoot(), 'test/fixtures/bpf/editing/help.bpf.c'), 'utf8');

const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle));
const ours = (uri: vscode.Uri): vscode.Diagnostic[] =>
  vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'dfs-ebpf check');
const hoverText = (h: vscode.Hover[]): string =>
  h
    .flatMap((x) => x.contents)
    .map((c) => (typeof c === 'string' ? c : c.value))
    .join('\n');

/** Connected, `text` written to editing/`name` in the workspace and shown in an editor. */
async function openSource(name: string, text: string): Promise<vscode.TextDocument> {
  const { ctx } = await api();
  await ctx.ensureConnected();
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder);
  mkdirSync(vscode.Uri.joinPath(folder.uri, 'editing').fsPath, { recursive: true });
  const uri = vscode.Uri.joinPath(folder.uri, 'editing', name);
  writeFileSync(uri.fsPath, text);
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(doc);
  return doc;
}

suite('Editing help', () => {
  let uri: vscode.Uri;
  let doc: vscode.TextDocument;

  suiteSetup(async () => {
    doc = await openSource('help.bpf.c', SOURCE);
    uri = doc.uri;
  });
  suiteTeardown(() => removeSource(uri));

  test('a helper the program type may not call, and a misspelled section, flagged as the file opens', async () => {
    await until(() => ours(uri).length >= 2, 30_000, 'the checks on help.bpf.c');
    const diags = ours(uri);
    const helper = diags.find((d) => d.code === 'helper-not-allowed');
    assert.ok(helper, JSON.stringify(diags));
    assert.equal(helper.range.start.line, lineOf(SOURCE, 'bpf_skb_load_bytes'));
    assert.equal(doc.getText(helper.range), 'bpf_skb_load_bytes', 'on the call itself');
    assert.match(helper.message, /may not be called from xdp programs.*sched_cls.*consider bpf_xdp_load_bytes/s);
    const section = diags.find((d) => d.code === 'unknown-section');
    assert.ok(section);
    assert.equal(doc.getText(section.range), 'sk_msgs');
    assert.equal(diags.length, 2, 'nothing else');
  });

  test('hover and completion on bpf_map_lookup_elem: signature, description, and the node kernel; hover on a documented kfunc', async () => {
    const line = lineOf(SOURCE, 'bpf_map_lookup_elem');
    const col = doc.lineAt(line).text.indexOf('bpf_map_lookup_elem');
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      uri,
      new vscode.Position(line, col + 4),
    );
    const text = hoverText(hovers);
    assert.match(text, /void \*bpf_map_lookup_elem\(void \*map, const void \*key\)/);
    assert.match(text, /Perform a lookup in \*map\*/);
    assert.match(text, /✓ reads_skb \(xdp\) may call it\. On 6\.\d+/);

    const list = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider',
      uri,
      new vscode.Position(line, col + 'bpf_map_lo'.length),
    );
    const item = list.items.find((i) => i.label === 'bpf_map_lookup_elem');
    assert.ok(item, 'bpf_map_lookup_elem is offered');
    assert.match(item.detail ?? '', /void \*bpf_map_lookup_elem\(void \*map, const void \*key\)/);
    const docs = item.documentation;
    assert.match(typeof docs === 'string' ? docs : (docs?.value ?? ''), /Perform a lookup/);
    const skb = list.items.find((i) => i.label === 'bpf_skb_load_bytes');
    assert.match(skb?.detail ?? '', /not in xdp programs/, 'what this program may not call is marked');

    // A kfunc the pinned kernel source documents: its kernel-doc, and tp_btf may call it.
    const taskLine = lineOf(SOURCE, 'bpf_task_acquire(bpf_get');
    const taskCol = doc.lineAt(taskLine).text.indexOf('bpf_task_acquire');
    const task = hoverText(
      await vscode.commands.executeCommand<vscode.Hover[]>(
        'vscode.executeHoverProvider',
        uri,
        new vscode.Position(taskLine, taskCol + 3),
      ),
    );
    assert.match(task, /Acquire a reference to a task\./);
    assert.match(task, /- `p`: The task on which a reference is being acquired\./);
    assert.match(task, /✓ on_switch \(tracing\) may call it\. .*tracing \(tp_btf\)/s);
    assert.match(task, /the kernel-doc of kernel\/bpf\/helpers\.c in Linux 6\.12/);
  });

  test('the quick fix corrects the section and the finding goes', async () => {
    const section = ours(uri).find((d) => d.code === 'unknown-section');
    assert.ok(section);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      uri,
      section.range,
      vscode.CodeActionKind.QuickFix.value,
    );
    const fix = actions.find((a) => a.title === 'Change the section to "sk_msg"');
    assert.ok(fix?.edit, JSON.stringify(actions.map((a) => a.title)));
    assert.equal(fix.isPreferred, true);
    assert.ok(await vscode.workspace.applyEdit(fix.edit));
    assert.match(doc.getText(), /SEC\("sk_msg"\) \/\* EXPECT: unknown-section \*\/\nint typo/);
    await until(() => !ours(uri).some((d) => d.code === 'unknown-section'), 10_000, 'the section finding to go');
    assert.deepEqual(
      ours(uri).map((d) => d.code),
      ['helper-not-allowed'],
    );
    await vscode.commands.executeCommand('workbench.action.files.revert');
  });
});

/** XDP calling an skb-only kfunc, and one XDP may call. */
const KFUNC_SOURCE = `// SPDX-License-Identifier: GPL-2.0
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

extern int bpf_dynptr_from_skb(struct __sk_buff *skb, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;
extern int bpf_dynptr_from_xdp(struct xdp_md *xdp, __u64 flags, struct bpf_dynptr *ptr__uninit) __ksym;

SEC("xdp")
int xdp_dynptrs(struct xdp_md *ctx)
{
	struct bpf_dynptr a, b;

	bpf_dynptr_from_xdp(ctx, 0, &a);
	bpf_dynptr_from_skb((struct __sk_buff *)ctx, 0, &b);
	return XDP_PASS;
}
`;

suite('Editing help: kfuncs', () => {
  let uri: vscode.Uri;

  suiteSetup(async () => {
    uri = (await openSource('kfuncs.bpf.c', KFUNC_SOURCE)).uri;
  });
  suiteTeardown(() => removeSource(uri));

  test('an skb kfunc in XDP is flagged at the call; hover and completion say who may call which', async () => {
    await until(() => ours(uri).length >= 1, 60_000, 'the checks on kfuncs.bpf.c');
    const diags = ours(uri);
    assert.equal(diags.length, 1, JSON.stringify(diags.map((d) => d.message)));
    const skbLine = lineOf(KFUNC_SOURCE, 'bpf_dynptr_from_skb((struct');
    assert.equal(diags[0]!.range.start.line, skbLine);
    assert.match(diags[0]!.message, /bpf_dynptr_from_skb \(a kfunc\) may not be called from xdp programs/);
    assert.match(diags[0]!.message, /consider bpf_dynptr_from_xdp/);

    const xdpLine = lineOf(KFUNC_SOURCE, 'bpf_dynptr_from_xdp(ctx');
    const hover = hoverText(
      await vscode.commands.executeCommand<vscode.Hover[]>(
        'vscode.executeHoverProvider',
        uri,
        new vscode.Position(xdpLine, 4),
      ),
    );
    assert.match(hover, /int bpf_dynptr_from_xdp\(struct xdp_md \*\w+, u64 \w+, struct bpf_dynptr \*\w+\)/);
    assert.match(hover, /✓ xdp_dynptrs \(xdp\) may call it\. On 6\.\d+\S*, program types that may call it: xdp\./);
    const skbHover = hoverText(
      await vscode.commands.executeCommand<vscode.Hover[]>(
        'vscode.executeHoverProvider',
        uri,
        new vscode.Position(skbLine, 4),
      ),
    );
    assert.match(skbHover, /✗ \*\*xdp_dynptrs \(xdp\) may not call it\.\*\*.*sched_cls/s);
    assert.match(hover, /Linux 6\.12\.\d+ \(Debian linux-source-6\.12 [^)]+\) has no kernel-doc for it/);

    const list = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider',
      uri,
      new vscode.Position(xdpLine, 1 + 'bpf_dynptr_fr'.length),
    );
    const skb = list.items.find((i) => i.label === 'bpf_dynptr_from_skb');
    const xdp = list.items.find((i) => i.label === 'bpf_dynptr_from_xdp');
    assert.match(skb?.detail ?? '', /\(kfunc, not in xdp programs\)$/);
    assert.match(xdp?.detail ?? '', /\(kfunc\)$/);
    assert.ok((xdp?.sortText ?? '') < (skb?.sortText ?? ''), 'what this program may call sorts first');
  });
});

/** A valid program of about 25 lines, named `n` (the benchmark repeats it to 1,000 lines). */
const block = (n: number): string => `
SEC("tracepoint/syscalls/sys_enter_read")
int on_read_${n}(void *ctx)
{
	__u32 k = bpf_get_current_pid_tgid() >> 32;
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &k, &one, BPF_ANY);
	return 0;
}

SEC("xdp")
int xdp_${n}(struct xdp_md *ctx)
{
	__u32 k = ${n};
	__u64 *v = bpf_map_lookup_elem(&counts, &k);

	if (v)
		*v += 1;
	return XDP_PASS;
}
`;

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * p)]!;

/** Close a test's file and delete it: the workspace is shared, and later suites build all of it. */
async function removeSource(uri: vscode.Uri): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  rmSync(uri.fsPath, { force: true });
}

suite('Editing help: keystroke to diagnostics (benchmark: prints figures, asserts none)', () => {
  test('a 1,000-line .bpf.c: typing in the real editor vs the checks alone, interleaved', async () => {
    const { editing } = await api();
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder);
    let text = SOURCE;
    for (let n = 0; text.split('\n').length < 1000; n++) text += block(n);
    const uri = vscode.Uri.joinPath(folder.uri, 'editing', 'long.bpf.c');
    writeFileSync(uri.fsPath, text);
    const doc = await vscode.workspace.openTextDocument(uri);
    const editor = await vscode.window.showTextDocument(doc);
    await until(() => ours(uri).length > 0, 30_000, 'the first check of long.bpf.c');
    const facts = await editing.loadedFacts();
    assert.ok(facts, 'checked against the node');

    const typed: number[] = [];
    const toChange: number[] = [];
    const alone: number[] = [];
    const line = doc.lineCount - 3; // inside the last program's body
    for (let round = 0; round < 30; round++) {
      // A: a keystroke through VS Code's own `type` command, until our diagnostics for it are published.
      editor.selection = new vscode.Selection(line, 0, line, 0);
      const published = new Promise<number>((resolve) => {
        const sub = editing.onDidCheck((u) => {
          if (u.toString() !== uri.toString()) return;
          sub.dispose();
          resolve(performance.now());
        });
      });
      const changed = new Promise<number>((resolve) => {
        const sub = vscode.workspace.onDidChangeTextDocument((e) => {
          if (e.document.uri.toString() !== uri.toString()) return;
          sub.dispose();
          resolve(performance.now());
        });
      });
      const t0 = performance.now();
      await vscode.commands.executeCommand('type', { text: round % 2 === 0 ? ' ' : '\t' });
      typed.push((await published) - t0);
      toChange.push((await changed) - t0);
      // B: the same checks with no editor around them (the floor), on the text as it is now.
      const t1 = performance.now();
      checkSource(scanSource(doc.getText()), facts.facts);
      alone.push(performance.now() - t1);
    }
    const f = (xs: number[]): string => `median ${pct(xs, 0.5).toFixed(1)} ms, p90 ${pct(xs, 0.9).toFixed(1)} ms`;
    console.log(
      `keystroke → check diagnostics on ${doc.lineCount} lines (30 keystrokes, the 10 ms debounce included): ${f(typed)}; ` +
        `of which VS Code's own keystroke → document change: ${f(toChange)}; ` +
        `the checks alone (the floor): ${f(alone)}`,
    );
    assert.equal(typed.length, 30);
    await vscode.commands.executeCommand('workbench.action.files.revert');
    await removeSource(uri);
  });
});
