/**
 * PanelHost: what every webview panel of the extension shares, written once. It creates the
 * panel with the nonce-CSP HTML of html.ts (scripts and styles only from dist/webview), owns
 * the `ready` handshake (the webview sends `ready` first, after every load, including the
 * reload VS Code does when a hidden panel is shown again; the host then sends the owner's
 * current state), checks every incoming message with the panel's type guard before the owner
 * sees it, and disposes everything once. Feature panels (bypass, verifier log) are thin owners
 * of one host each; a command keeps at most one instance open (see `singlePanel`).
 */

import * as vscode from 'vscode';
import { webviewHtml } from './html';

export interface PanelSpec<Down extends { type: string }> {
  /** The webview panel's viewType, e.g. "dfsEbpf.bypass". */
  viewType: string;
  title: string;
  /** Bundle name under dist/webview/: `<name>.js` and, when `style` is set, `<name>.css`. */
  bundle: string;
  style: boolean;
  /** Where the panel opens; default the active column. */
  column?: vscode.ViewColumn | { viewColumn: vscode.ViewColumn; preserveFocus: boolean };
  /** The panel's message guard (from protocol/src/webview.ts). */
  isRequest: (m: unknown) => m is Down;
  /** Keep the webview alive while hidden (for state that is costly to send again); default false. */
  retainContextWhenHidden?: boolean;
}

export interface PanelHostDeps {
  readonly extension: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
}

export class PanelHost<Up, Down extends { type: string }> implements vscode.Disposable {
  readonly panel: vscode.WebviewPanel;
  private ready = false;
  private disposed = false;
  /** Counts sends, so a slow state (e.g. compressing a big log) never overtakes a newer one. */
  private sends = 0;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly disposeListeners: (() => void)[] = [];

  /**
   * @param state what to send after every `ready` and on sendState() (undefined: nothing yet);
   *   it may take time (a promise): only the newest send is delivered
   * @param onRequest every checked message except `ready`
   */
  constructor(
    private readonly deps: PanelHostDeps,
    private readonly spec: PanelSpec<Down>,
    private readonly state: () => Up | undefined | Promise<Up | undefined>,
    onRequest: (m: Exclude<Down, { type: 'ready' }>) => void,
  ) {
    const root = vscode.Uri.joinPath(deps.extension.extensionUri, 'dist', 'webview');
    this.panel = vscode.window.createWebviewPanel(spec.viewType, spec.title, spec.column ?? vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [root],
      retainContextWhenHidden: spec.retainContextWhenHidden ?? false,
    });
    const web = this.panel.webview;
    web.html = webviewHtml({
      cspSource: web.cspSource,
      scriptUri: web.asWebviewUri(vscode.Uri.joinPath(root, `${spec.bundle}.js`)).toString(),
      ...(spec.style ? { styleUri: web.asWebviewUri(vscode.Uri.joinPath(root, `${spec.bundle}.css`)).toString() } : {}),
      title: spec.title,
    });
    this.disposables.push(
      web.onDidReceiveMessage((m: unknown) => {
        if (!spec.isRequest(m)) {
          deps.log.warn(`${spec.viewType} sent an unknown message: ${JSON.stringify(m)}`);
          return;
        }
        if (m.type === 'ready') {
          this.ready = true;
          this.sendState();
        } else {
          onRequest(m as Exclude<Down, { type: 'ready' }>);
        }
      }),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  /** Send the owner's current state now, if the webview has said `ready` (else it is sent then). */
  sendState(): void {
    if (!this.ready || this.disposed) return;
    const sent = ++this.sends;
    void Promise.resolve()
      .then(() => this.state())
      .then(async (s) => {
        if (s === undefined || sent !== this.sends || this.disposed) return;
        if (!(await this.panel.webview.postMessage(s)))
          this.deps.log.warn(`${this.spec.viewType} did not take its state`);
      })
      .catch((err: unknown) => this.deps.log.error(`cannot send ${this.spec.viewType} its state: ${String(err)}`));
  }

  /** Send one message now if the webview is ready (else nothing: the state is sent at `ready`). */
  post(m: Up): void {
    if (!this.ready || this.disposed) return;
    void this.panel.webview.postMessage(m).then(
      (ok) =>
        ok ||
        this.deps.log.warn(`${this.spec.viewType} did not take a ${String((m as { type?: string }).type)} message`),
      (err: unknown) => this.deps.log.error(`cannot post to ${this.spec.viewType}: ${String(err)}`),
    );
  }

  get viewColumn(): vscode.ViewColumn | undefined {
    return this.panel.viewColumn;
  }

  reveal(column?: vscode.ViewColumn, preserveFocus = false): void {
    this.panel.reveal(column, preserveFocus);
  }

  set title(t: string) {
    this.panel.title = t;
  }

  onDidDispose(fn: () => void): void {
    this.disposeListeners.push(fn);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
    for (const fn of this.disposeListeners.splice(0)) fn();
  }
}

/**
 * At most one open instance of a panel, kept in the closure of its owner (a command or an
 * explorer object): `show(data)` gives the open one the new data and reveals it, or creates one.
 */
export function singlePanel<P extends { host: { reveal(): void; onDidDispose(fn: () => void): void } }, A = void>(
  create: (data: A) => P,
  update?: (open: P, data: A) => void,
): { show: (data: A) => P; current: () => P | undefined } {
  let open: P | undefined;
  return {
    show: (data: A) => {
      if (open) {
        update?.(open, data);
        open.host.reveal();
        return open;
      }
      const p = create(data);
      open = p;
      p.host.onDidDispose(() => {
        if (open === p) open = undefined;
      });
      return p;
    },
    current: () => open,
  };
}
