/**
 * Editing help for `.bpf.c` over the checks' model and the node's facts (service.ts): hovers
 * and completions for BPF helpers (signature, the kernel headers' description) and for the
 * node's kfuncs (their BTF signature, the kernel-doc of a pinned kernel source), each with which program types may call it on the
 * connected node's kernel and whether this program may, and the quick fixes the checks attach (a misspelled
 * section or tp_btf event → the near misses). The words come from core's generated data
 * (core/src/editing/data/) and the node; nothing here is a table of its own.
 */

import * as vscode from 'vscode';
import { mayCall, typesAllowing, type Caller } from '@dfs/core/editing/check';
import { HELPERS, helperByName, KFUNC_DOCS_SOURCE, kfuncProse, type HelperDoc } from '@dfs/core/editing/data';
import type { KfuncDoc, NodeFacts } from '@dfs/core/editing/facts';
import { matchSection } from '@dfs/core/editing/sections';
import type { SourceModel } from '@dfs/core/editing/source';
import { CHECK_SOURCE, type EditingService } from './service';

const SELECTOR: vscode.DocumentSelector = [{ pattern: '**/*.bpf.c' }, { language: 'c', pattern: '**/*.bpf.h' }];

/** The kernel's reStructuredText-ish doc comment as markdown: no `\ ` escapes, no indentation. */
export function docText(text: string): string {
  return text
    .replace(/\\ /g, '')
    .split('\n')
    .map((l) => l.trimStart())
    .join('\n');
}

/** A program: its name and what matchSection says of its section. */
type Program = Caller & { name: string };

/** The program whose body holds `offset`, if it is a program. */
function programAt(model: SourceModel, offset: number): Program | null {
  const f = model.functions.find((x) => x.bodyStart <= offset && offset < x.bodyEnd);
  const m = f?.section ? matchSection(f.section.name) : null;
  return f && m ? { name: f.name, progType: m.progType, attachType: m.attachType } : null;
}

/** What the node's kernel says about a helper or kfunc, for the program at hand when there is one. */
function kernelLine(name: string, node: NodeFacts | null, here: Program | null): string {
  if (!node) return '_Connect to a test node to see which program types may call it on its kernel._';
  const probed = helperByName(name) ? node.facts.helpers.size > 0 : node.facts.kfuncs !== null;
  if (!probed)
    return `_The node's agent predates these probes: update it (Install agent on node…) to see which program types may call it._`;
  const types = typesAllowing(name, node.facts);
  if (types.length === 0) return `**Not available** on ${node.facts.release} for any program type it was asked about.`;
  const may = here ? mayCall(here, name, node.facts) : null;
  const verdict =
    here && may !== null
      ? may
        ? `✓ ${here.name} (${here.progType}) may call it. `
        : `✗ **${here.name} (${here.progType}) may not call it.** `
      : '';
  return `${verdict}On ${node.facts.release}, program types that may call it: ${types.join(', ')}.`;
}

export function helperMarkdown(h: HelperDoc, node: NodeFacts | null, here: Program | null): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  md.appendCodeblock(h.signature, 'c');
  md.appendMarkdown(`${docText(h.description)}\n\n**Returns** ${docText(h.returnsDoc)}\n\n---\n\n`);
  md.appendMarkdown(`${kernelLine(h.name, node, here)}\n\n_BPF helper ${h.id}, from the kernel's UAPI bpf.h._`);
  return md;
}

/** The kernel's kernel-doc markup as markdown: `%NULL` → `NULL`, `@p` → `p`, double backquotes → single. */
function kernelDocText(text: string): string {
  return docText(text)
    .replace(/%(\w+)/g, '`$1`')
    .replace(/(^|[\s(])@(\w+)/g, '$1`$2`')
    .replace(/``([^`]+)``/g, '`$1`');
}

function kfuncMarkdown(k: KfuncDoc, node: NodeFacts, here: Program | null): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  md.appendCodeblock(`extern ${k.signature} __ksym;`, 'c');
  const prose = kfuncProse(k.name);
  if (prose) {
    md.appendMarkdown(`${kernelDocText(prose.summary)}\n\n`);
    if (prose.description) md.appendMarkdown(`${kernelDocText(prose.description)}\n\n`);
    for (const p of prose.params) md.appendMarkdown(`- \`${p.name}\`: ${kernelDocText(p.doc)}\n`);
    if (prose.params.length > 0) md.appendMarkdown('\n');
    if (prose.returns) md.appendMarkdown(`**Returns** ${kernelDocText(prose.returns)}\n\n`);
  }
  md.appendMarkdown(
    `---\n\n${kernelLine(k.name, node, here)}\n\n` +
      `_A kfunc of ${node.facts.release} (tagged \`bpf_kfunc\` in its BTF; declare it as above to call it). ` +
      (prose
        ? `Description: the kernel-doc of ${prose.file} in ${KFUNC_DOCS_SOURCE}.`
        : `${KFUNC_DOCS_SOURCE} has no kernel-doc for it.`) +
      ` Which types may call it: the node's verifier, asked once per type._`,
  );
  return md;
}

export function registerEditingProviders(service: EditingService): vscode.Disposable[] {
  return [
    vscode.languages.registerHoverProvider(SELECTOR, {
      async provideHover(doc, pos) {
        const range = doc.getWordRangeAtPosition(pos, /[A-Za-z_]\w*/);
        if (!range) return undefined;
        const word = doc.getText(range);
        const node = await service.loadedFacts();
        const h = helperByName(word);
        const here = programAt(service.model(doc), doc.offsetAt(pos));
        if (h) return new vscode.Hover(helperMarkdown(h, node, here), range);
        const k = node?.kfuncs.get(word);
        return k && node ? new vscode.Hover(kfuncMarkdown(k, node, here), range) : undefined;
      },
    }),
    vscode.languages.registerCompletionItemProvider(SELECTOR, {
      async provideCompletionItems(doc, pos) {
        const range = doc.getWordRangeAtPosition(pos, /[A-Za-z_]\w*/);
        const prefix = range ? doc.getText(new vscode.Range(range.start, pos)) : '';
        if (!/^b(p(f(_\w*)?)?)?$/.test(prefix)) return undefined; // helpers and kfuncs: bpf_…
        const node = await service.loadedFacts();
        const here = programAt(service.model(doc), doc.offsetAt(pos));
        const refusedHere = (name: string): boolean => !!here && !!node && mayCall(here, name, node.facts) === false;
        const items = HELPERS.map((h) => {
          const item = new vscode.CompletionItem(h.name, vscode.CompletionItemKind.Function);
          const refused = refusedHere(h.name);
          item.detail = `${h.signature}${refused ? `  (not in ${here?.progType} programs)` : ''}`;
          item.documentation = helperMarkdown(h, node, here);
          // What this program may call comes first.
          item.sortText = `${refused ? '1' : '0'}${h.name}`;
          item.insertText = new vscode.SnippetString(
            `${h.name}(${h.args
              .filter((a) => a.type !== '...')
              .map((a, i) => `\${${i + 1}:${a.name}}`)
              .join(', ')})`,
          );
          if (range) item.range = range;
          return item;
        });
        for (const k of node?.kfuncs.values() ?? []) {
          if (!k.name.startsWith('bpf_')) continue;
          const item = new vscode.CompletionItem(k.name, vscode.CompletionItemKind.Function);
          const refused = refusedHere(k.name);
          item.detail = `${k.signature}  (kfunc${refused ? `, not in ${here?.progType} programs` : ''})`;
          item.documentation = kfuncMarkdown(k, node!, here);
          item.sortText = `${refused ? '3' : '2'}${k.name}`;
          if (range) item.range = range;
          items.push(item);
        }
        return items;
      },
    }),
    vscode.languages.registerCodeActionsProvider(
      SELECTOR,
      {
        provideCodeActions(doc, _range, context) {
          const actions: vscode.CodeAction[] = [];
          for (const diag of context.diagnostics) {
            if (diag.source !== CHECK_SOURCE) continue;
            service.fixesFor(doc.uri, diag).forEach((fix, i) => {
              const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
              action.diagnostics = [diag];
              action.isPreferred = i === 0;
              action.edit = new vscode.WorkspaceEdit();
              action.edit.replace(
                doc.uri,
                new vscode.Range(doc.positionAt(fix.span.start), doc.positionAt(fix.span.end)),
                fix.newText,
              );
              actions.push(action);
            });
          }
          return actions;
        },
      },
      { providedCodeActionKinds: [vscode.CodeActionKind.QuickFix] },
    ),
  ];
}
