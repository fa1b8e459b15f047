/**
 * The verification budget over each program of a `.bpf.c`: instructions processed and
 * states from the node's verifier, and how they moved since the previous verification (the
 * number to watch as a program grows toward the 1M-instruction limit). A rejected program's
 * lens names the class and line; one never verified offers to verify.
 */

import * as vscode from 'vscode';
import type { ProgramVerdict } from '@dfs/core/verifier/model';
import { Commands } from '../contributions';
import type { VerifierService } from './service';

/** Programs in a source: the function defined right after each SEC("...") line. */
export function programsIn(text: string): { name: string; section: string; line: number }[] {
  const lines = text.split('\n');
  const out: { name: string; section: string; line: number }[] = [];
  lines.forEach((l, i) => {
    const sec = /^\s*SEC\("([^"]+)"\)/.exec(l);
    if (!sec || (sec[1] ?? '').startsWith('.') || sec[1] === 'license') return;
    for (let j = i; j < Math.min(lines.length, i + 3); j++) {
      const fn = /\b(\w+)\s*\(/.exec((lines[j] ?? '').replace(/^\s*SEC\("[^"]*"\)/, ''));
      if (fn && fn[1] !== 'SEC') {
        out.push({ name: fn[1] ?? '', section: sec[1] ?? '', line: i });
        return;
      }
    }
  });
  return out;
}

function delta(now: number | null, before: number | null | undefined): string {
  if (now === null || before === null || before === undefined) return '';
  const d = now - before;
  return d === 0 ? ' ±0' : d > 0 ? ` +${d.toLocaleString('en-US')}` : ` −${(-d).toLocaleString('en-US')}`;
}

/** The lens title for one program (pure, for unit tests). */
export function budgetTitle(v: ProgramVerdict, previous: ProgramVerdict | undefined): string {
  if (v.verdict === 'rejected') {
    const e = v.error;
    return `$(error) rejected by the verifier${e ? `: ${e.class}${e.location ? ` at line ${e.location.line}` : ''}` : ''}`;
  }
  const n = (x: number | null): string => (x === null ? '?' : x.toLocaleString('en-US'));
  const since = previous
    ? ` (${delta(v.insnsProcessed, previous.insnsProcessed).trim() || '±0'} insns,${delta(v.states, previous.states) || ' ±0'} states since last)`
    : '';
  return `$(pass) verified: ${n(v.insnsProcessed)} insns processed · ${n(v.states)} states${since}`;
}

export class BudgetCodeLens implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly service: VerifierService) {
    this.sub = service.onDidChange(() => this.changed.fire());
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const last = this.service.last(doc.uri);
    return programsIn(doc.getText()).map((p) => {
      const range = new vscode.Range(p.line, 0, p.line, 0);
      const v = last?.outcome.programs.find((x) => x.verdict.name === p.name)?.verdict;
      if (!v)
        return new vscode.CodeLens(range, {
          title: '$(play) Verify on test node',
          command: Commands.verify,
          arguments: [doc.uri],
        });
      return new vscode.CodeLens(range, {
        title: budgetTitle(v, last?.previous.get(p.name)),
        command: Commands.showVerifierLog,
        arguments: [doc.uri, p.name],
        tooltip: 'Open the verifier log of this program',
      });
    });
  }

  dispose(): void {
    this.sub.dispose();
    this.changed.dispose();
  }
}
