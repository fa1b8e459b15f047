/**
 * The verifier log explorer's host: one webview panel at a time (shown again, with new data,
 * on every show), fed by a typed `load` after the webview says `ready`; a `reveal` from it
 * opens the C source at that line in the first editor column while the panel sits beside it
 * (or, when the panel is the first column itself, in the column beside the panel). It needs only the extension context and the log channel (VerifierLogDeps), not the
 * whole Ctx. openVerifierLogFromFile() reads a saved, one-program verifier log and shows it.
 */

import * as vscode from 'vscode';
import { isVerifierLogPanelRequest, type VerifierLogPanelUpdate, type VerifierLogVerdict } from '@dfs/protocol';
import { classifyLine, parseInsnLine, parseSourceLine, parseStatsLine } from '@dfs/core/verifier/lines';
import { webviewHtml } from './html';

/** What the panel takes from the extension (Ctx satisfies it). */
export interface VerifierLogDeps {
  readonly extension: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
}

export interface VerifierLogData {
  /** Each program's verdict (core's ProgramVerdict fits) and its log, as text or UTF-8 bytes. */
  programs: { verdict: VerifierLogVerdict; log: string | Uint8Array }[];
  /** Index of the program shown first; default 0. */
  selected?: number;
  /** The C source the log annotates; `reveal` opens it, or a file of another name beside it. */
  source: { uri: vscode.Uri; text: string } | null;
}

const basename = (uri: vscode.Uri): string => uri.path.slice(uri.path.lastIndexOf('/') + 1);

export class VerifierLogPanel implements vscode.Disposable {
  private static current: VerifierLogPanel | undefined;

  /** Shows `data` in the explorer, reusing the open panel when there is one. */
  static show(deps: VerifierLogDeps, data: VerifierLogData): VerifierLogPanel {
    const p = VerifierLogPanel.current;
    if (p) {
      p.data = data;
      p.panel.title = p.title();
      p.panel.reveal(undefined, false);
      p.send();
      return p;
    }
    VerifierLogPanel.current = new VerifierLogPanel(deps, data);
    return VerifierLogPanel.current;
  }

  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  /** Whether the webview said `ready`: a `load` posted earlier would be lost or doubled. */
  private ready = false;

  private constructor(
    private readonly deps: VerifierLogDeps,
    private data: VerifierLogData,
  ) {
    const root = vscode.Uri.joinPath(deps.extension.extensionUri, 'dist', 'webview');
    this.panel = vscode.window.createWebviewPanel(
      'dfsEbpf.verifierLog',
      this.title(),
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
      {
        enableScripts: true,
        localResourceRoots: [root],
        // A million-line log is costly to send and split again; keep the webview when hidden.
        retainContextWhenHidden: true,
      },
    );
    const web = this.panel.webview;
    web.html = webviewHtml({
      cspSource: web.cspSource,
      scriptUri: web.asWebviewUri(vscode.Uri.joinPath(root, 'verifierLog.js')).toString(),
      styleUri: web.asWebviewUri(vscode.Uri.joinPath(root, 'verifierLog.css')).toString(),
      title: 'Verifier log',
    });
    this.disposables.push(
      web.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  private title(): string {
    const p = this.data.programs[this.data.selected ?? 0];
    return p ? `Verifier log: ${p.verdict.name}` : 'Verifier log';
  }

  private onMessage(m: unknown): void {
    if (!isVerifierLogPanelRequest(m)) {
      this.deps.log.warn(`verifier log panel sent an unknown message: ${JSON.stringify(m)}`);
      return;
    }
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.send();
        return;
      case 'selectProgram':
        this.data.selected = m.index;
        this.panel.title = this.title();
        return;
      case 'reveal':
        this.reveal(m.file, m.line).catch((err: unknown) =>
          this.deps.log.warn(`cannot open ${m.file}:${m.line}: ${err instanceof Error ? err.message : String(err)}`),
        );
        return;
    }
  }

  private send(): void {
    if (!this.ready) return;
    const { programs, selected, source } = this.data;
    const msg: VerifierLogPanelUpdate = {
      type: 'load',
      programs: programs.map(({ verdict, log }) => ({
        verdict,
        log: typeof log === 'string' ? new TextEncoder().encode(log) : log,
      })),
      selected: selected ?? 0,
      source: source ? { name: basename(source.uri), text: source.text } : null,
    };
    void this.panel.webview.postMessage(msg).then((delivered) => {
      if (!delivered) this.deps.log.warn('the verifier log panel did not take the log');
    });
  }

  /** Opens `file` (a basename, as the log names it) at 1-based `line` in the first column, or
   *  beside the panel when the panel is the first column: the panel must stay in view. */
  private async reveal(file: string, line: number): Promise<void> {
    const uri = await this.resolve(file);
    if (!uri) {
      this.deps.log.info(`verifier log: ${file} is not the source shown and was not found beside it`);
      return;
    }
    const at = new vscode.Position(Math.max(0, line - 1), 0);
    const editor = await vscode.window.showTextDocument(uri, {
      viewColumn: this.panel.viewColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Beside : vscode.ViewColumn.One,
      preserveFocus: false,
      selection: new vscode.Range(at, at),
    });
    editor.revealRange(new vscode.Range(at, at), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  private async resolve(file: string): Promise<vscode.Uri | undefined> {
    const source = this.data.source?.uri;
    if (!source || file.includes('/')) return undefined;
    if (basename(source) === file) return source;
    const beside = vscode.Uri.joinPath(source, '..', file);
    return (await exists(beside)) ? beside : undefined;
  }

  dispose(): void {
    if (VerifierLogPanel.current === this) VerifierLogPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads a saved verifier log (plain text, one program) and shows it. The source is `sourceUri`,
 * else the file the log's `@ file:line` annotations name, looked for beside the log and then
 * in the workspace. Throws when the log cannot be read; a missing source only hides that pane.
 */
export async function openVerifierLogFromFile(
  deps: VerifierLogDeps,
  logUri: vscode.Uri,
  sourceUri?: vscode.Uri,
): Promise<VerifierLogPanel> {
  const bytes = await vscode.workspace.fs.readFile(logUri);
  const log = new TextDecoder().decode(bytes);
  const name = basename(logUri).replace(/(\.verifier)?\.(log|txt)$/, '');
  const verdict = verdictFromLog(log, name);
  const sourceName = verdict.error?.location?.file ?? firstAnnotatedFile(log);
  let uri = sourceUri;
  if (!uri && sourceName) {
    const beside = vscode.Uri.joinPath(logUri, '..', sourceName);
    uri = (await exists(beside))
      ? beside
      : (await vscode.workspace.findFiles(`**/${sourceName}`, '**/node_modules/**', 1))[0];
  }
  const source = uri ? { uri, text: new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)) } : null;
  deps.log.info(
    `verifier log ${logUri.fsPath}: ${verdict.verdict}${source ? `, source ${source.uri.fsPath}` : ', no source found'}`,
  );
  return VerifierLogPanel.show(deps, { programs: [{ verdict, log: bytes }], selected: 0, source });
}

function firstAnnotatedFile(log: string): string | undefined {
  const m = /^; .*? @ ([^\s:]+):\d+$/m.exec(log);
  return m?.[1];
}

/** Lines after the last instruction that are the verifier's chatter, not its reason. */
const NOT_A_REASON = /^(mark_precise:|last_idx |parent |regs=|\d+: safe$|-- (BEGIN|END) PROG LOAD LOG --)/;

/**
 * A minimal verdict until core's parser lands: the program is rejected when lines other than
 * stats follow its last instruction; those lines are the reason, that instruction failed, and
 * its source is the nearest `; … @ file:line` above it.
 */
export function verdictFromLog(log: string, name: string): VerifierLogVerdict {
  const lines = log.split(/\r?\n/);
  const verdict: VerifierLogVerdict = {
    name,
    section: '',
    verdict: 'accepted',
    insnsProcessed: null,
    states: null,
    error: null,
  };
  const reason: string[] = []; // last line first
  let failing = -1;
  let lastReason = -1;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] ?? '').trimEnd();
    if (!line || NOT_A_REASON.test(line)) continue;
    const kind = classifyLine(line);
    if (kind === 'insn') {
      failing = i;
      break;
    }
    const stats = kind === 'stats' ? parseStatsLine(line) : null;
    if (stats) {
      verdict.insnsProcessed = stats.insnsProcessed ?? verdict.insnsProcessed;
      verdict.states = stats.states ?? verdict.states;
    } else if (kind === 'other') {
      reason.push(line);
      if (lastReason < 0) lastReason = i;
    }
  }
  if (reason.length === 0) return verdict;
  const insn = failing >= 0 ? parseInsnLine(lines[failing] ?? '') : null;
  let location: { file: string; line: number; text: string } | null = null;
  for (let i = failing; i >= 0 && !location; i--) {
    const s = (lines[i] ?? '').startsWith(';') ? parseSourceLine(lines[i] ?? '') : null;
    if (s?.file && s.line) location = { file: s.file, line: s.line, text: s.text };
  }
  verdict.verdict = 'rejected';
  verdict.error = {
    message: reason.reverse().join('\n'),
    insn: insn?.insn ?? null,
    logLine: failing >= 0 ? failing : lastReason,
    location,
  };
  return verdict;
}
