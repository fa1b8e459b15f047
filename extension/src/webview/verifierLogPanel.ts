/**
 * The verifier log explorer: one webview panel at a time (shown again, with new data, on
 * every show; the webview plumbing is PanelHost's), fed by a typed `load` after the webview
 * says `ready`: each program's verdict,
 * its log and core's line → source table (parse.ts LineSources), the last two gzipped. A
 * `reveal` from it opens the C source at that line in the first editor column while the panel
 * sits beside it (or beside the panel when the panel is the first column itself). It needs
 * only the extension context and the log channel (VerifierLogDeps), not the whole Ctx.
 * VerifierLogExplorer.openFile() reads a saved, one-program verifier log and shows it; what the
 * log means (rejected or not, which file it annotates, each line's source) is core's to say.
 */

import { promisify } from 'node:util';
import { constants as zlibConstants, gzip } from 'node:zlib';
import * as vscode from 'vscode';
import {
  formatBytes,
  isVerifierLogPanelRequest,
  lineIndexToBytes,
  type ProgramVerdict,
  type VerifierLogPanelRequest,
  type VerifierLogPanelUpdate,
  type VerifierLogProgram,
} from '@dfs/protocol';
import { annotatedFile } from '@dfs/core/verifier/lines';
import { looksRejected, parseProgramLog, type LineSources } from '@dfs/core/verifier/parse';
import { uriExists } from '../uris';
import { PanelHost, singlePanel } from './panelHost';

/** What the panel takes from the extension (Ctx satisfies it). */
export interface VerifierLogDeps {
  readonly extension: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
}

export interface VerifierLogData {
  /** Each program's verdict, its log (text or UTF-8 bytes) and its lines' sources, as core parsed them. */
  programs: { verdict: ProgramVerdict; log: string | Uint8Array; lines: LineSources }[];
  /** Index of the program shown first; default 0. */
  selected?: number;
  /** The C source the log annotates; `reveal` opens it, or a file of another name beside it. */
  source: { uri: vscode.Uri; text: string } | null;
}

const basename = (uri: vscode.Uri): string => uri.path.slice(uri.path.lastIndexOf('/') + 1);
const gzipAsync = promisify(gzip);

/** gzip (fastest level: logs are repetitive) as a plain Uint8Array: VS Code posts a typed array
 *  as binary only when its constructor is exactly Uint8Array, and a Node Buffer is not. */
async function compress(data: string | Uint8Array): Promise<Uint8Array> {
  const gz = await gzipAsync(data, { level: zlibConstants.Z_BEST_SPEED });
  return new Uint8Array(gz.buffer, gz.byteOffset, gz.byteLength);
}

/** One program as the explorer takes it: the log and its line → source table, compressed. */
async function wireProgram(p: VerifierLogData['programs'][number]): Promise<VerifierLogProgram> {
  const [logGz, lineLocationsGz] = await Promise.all([compress(p.log), compress(lineIndexToBytes(p.lines.at))]);
  return { verdict: p.verdict, logGz, locations: p.lines.locations, lineLocationsGz };
}

/** One open explorer: its PanelHost and the data it shows. */
class VerifierLogPanel {
  readonly host: PanelHost<VerifierLogPanelUpdate, VerifierLogPanelRequest>;

  constructor(
    private readonly deps: VerifierLogDeps,
    private data: VerifierLogData,
  ) {
    this.host = new PanelHost(
      deps,
      {
        viewType: 'dfsEbpf.verifierLog',
        title: this.title(),
        bundle: 'verifierLog',
        style: true,
        column: { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
        isRequest: isVerifierLogPanelRequest,
        // A million-line log is costly to send and split again; keep the webview when hidden.
        retainContextWhenHidden: true,
      },
      () => this.load(),
      (m) => this.onRequest(m),
    );
  }

  /** Show other data in this panel. */
  replace(data: VerifierLogData): void {
    this.data = data;
    this.host.title = this.title();
    this.host.sendState();
  }

  private title(): string {
    const p = this.data.programs[this.data.selected ?? 0];
    return p ? `Verifier log: ${p.verdict.name}` : 'Verifier log';
  }

  private onRequest(m: Exclude<VerifierLogPanelRequest, { type: 'ready' }>): void {
    switch (m.type) {
      case 'selectProgram':
        this.data.selected = m.index;
        this.host.title = this.title();
        return;
      case 'reveal':
        this.reveal(m.file, m.line).catch((err: unknown) =>
          this.deps.log.warn(`cannot open ${m.file}:${m.line}: ${err instanceof Error ? err.message : String(err)}`),
        );
        return;
    }
  }

  /** The `load` message: every program compressed (PanelHost delivers only the newest). */
  private async load(): Promise<VerifierLogPanelUpdate> {
    const started = Date.now();
    const { programs, selected, source } = this.data;
    const compressed = await Promise.all(programs.map(wireProgram));
    const size = formatBytes(compressed.reduce((n, p) => n + p.logGz.byteLength + p.lineLocationsGz.byteLength, 0));
    this.deps.log.info(`verifier log panel: ${size} compressed in ${Date.now() - started} ms`);
    return {
      type: 'load',
      programs: compressed,
      selected: selected ?? 0,
      source: source ? { name: basename(source.uri), text: source.text } : null,
    };
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
      viewColumn: this.host.viewColumn === vscode.ViewColumn.One ? vscode.ViewColumn.Beside : vscode.ViewColumn.One,
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
    return (await uriExists(beside)) ? beside : undefined;
  }
}

/**
 * The verifier log explorer: at most one panel, reused (with new data) on every show. Built
 * once by activate() and handed to the commands that show logs; disposed with the Ctx.
 */
export class VerifierLogExplorer implements vscode.Disposable {
  private readonly panels = singlePanel(
    (data: VerifierLogData) => new VerifierLogPanel(this.deps, data),
    (open, data) => open.replace(data),
  );

  constructor(private readonly deps: VerifierLogDeps) {}

  /** Shows `data` in the explorer, reusing the open panel when there is one. */
  show(data: VerifierLogData): void {
    this.panels.show(data);
  }

  /**
   * Reads a saved verifier log (plain text, one program) and shows it, parsed by core. The
   * source is `sourceUri`, else the file the log's `@ file:line` annotations name, looked for
   * beside the log and then in the workspace. Rejects when the log cannot be read; a source
   * that is not found only leaves that pane empty.
   */
  async openFile(logUri: vscode.Uri, sourceUri?: vscode.Uri): Promise<void> {
    // Read and parse first, then open the panel: both keep the one extension host thread busy,
    // and done at once they take longer than one after the other (a million lines in code-server:
    // about 4.5 s against 3.6 s to the first rendered row). The status bar shows the reading.
    const data = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'DFS eBPF: reading the verifier log' },
      () => readVerifierLog(this.deps, logUri, sourceUri),
    );
    this.show(data);
  }

  dispose(): void {
    this.panels.current()?.host.dispose();
  }
}

async function readVerifierLog(
  deps: VerifierLogDeps,
  logUri: vscode.Uri,
  sourceUri: vscode.Uri | undefined,
): Promise<VerifierLogData> {
  const started = Date.now();
  const bytes = await vscode.workspace.fs.readFile(logUri);
  const log = new TextDecoder().decode(bytes);
  let uri = sourceUri;
  const annotated = annotatedFile(log);
  if (!uri && annotated) {
    const beside = vscode.Uri.joinPath(logUri, '..', annotated);
    uri = (await uriExists(beside))
      ? beside
      : (await vscode.workspace.findFiles(`**/${annotated}`, '**/node_modules/**', 1))[0];
  }
  const source = uri ? { uri, text: new TextDecoder().decode(await vscode.workspace.fs.readFile(uri)) } : null;
  const name = basename(logUri).replace(/(\.verifier)?\.(log|txt)$/, '');
  const { verdict, lines } = parseProgramLog(
    log,
    { name, section: '', rejected: looksRejected(log) },
    // For kernels that print the source text without "@ file:line".
    source ? { sources: new Map([[basename(source.uri), source.text]]) } : {},
  );
  deps.log.info(
    `verifier log ${logUri.fsPath} (${formatBytes(bytes.byteLength)}): ${verdict.verdict}, ` +
      `${source ? `source ${source.uri.fsPath}` : 'no source found'}; read and parsed in ${Date.now() - started} ms`,
  );
  return { programs: [{ verdict, log: bytes, lines }], selected: 0, source };
}
