/**
 * Ctx: the one owner of the extension's lifetime. It holds the log channel, the status bar,
 * the session with the connected node and the status poller, and disposes all of them.
 * Commands are thin factories over it (commands/*.ts); no module keeps mutable state.
 */

import { join } from 'node:path';
import * as vscode from 'vscode';
import { BypassStatusRequest, ErrorCode, errorCodeName, type BypassStatus } from '@dfs/protocol';
import { connectNode } from '@dfs/core/agent/connect';
import type { NodeSession } from '@dfs/core/agent/session';
import { DfsError, describeError } from '@dfs/core/errors';
import { ContextKeys } from './contributions';
import { readSettings } from './settings';
import { BypassStatusBar } from './statusBar';
import type { VerifierService } from './verifier/service';

/** What the extension exports from activate(), for its own extension tests. */
export interface ExtensionApi {
  readonly ctx: Ctx;
  readonly verifier: VerifierService;
}

export class Ctx implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  readonly statusBar: BypassStatusBar;
  private session: NodeSession | null = null;
  private connecting: Promise<NodeSession> | null = null;
  private lastBypass: BypassStatus | null = null;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly disposables: vscode.Disposable[] = [];
  /** The last failure a command reported (what the user saw), for tests and diagnostics. */
  lastError: string | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the connection or the bypass state changes (status bar, panel). */
  readonly onDidChange = this.changed.event;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('DFS eBPF', { log: true });
    this.statusBar = new BypassStatusBar();
    this.disposables.push(this.log, this.statusBar, this.changed);
  }

  /** Directory of the agent bundle shipped inside the extension. */
  get agentBundleDir(): string {
    return join(this.extension.extensionPath, 'dist', 'agent');
  }

  get connected(): NodeSession | null {
    return this.session && !this.session.isClosed ? this.session : null;
  }

  get bypass(): BypassStatus | null {
    return this.lastBypass;
  }

  push(d: vscode.Disposable): void {
    this.disposables.push(d);
  }

  /** The connected session, connecting first (with progress) when there is none. */
  async ensureConnected(): Promise<NodeSession> {
    const live = this.connected;
    if (live) return live;
    this.connecting ??= this.connect().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async connect(): Promise<NodeSession> {
    const s = readSettings();
    const label = s.node || 'local test node dfsnode0';
    this.statusBar.render({ kind: 'busy', text: `connecting to ${label}` });
    try {
      const session = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `DFS eBPF: ${label}`, cancellable: false },
        (progress) =>
          connectNode(
            s.node,
            { knownHostsFile: s.knownHostsFile, identityFile: s.identityFile, agentCommand: s.agentCommand },
            {
              log: this.log,
              clientName: `vscode ${vscode.version}`,
              bundleDir: this.agentBundleDir,
              progress: (step) => progress.report({ message: step }),
              askPassphrase: (file) => this.askPassphrase(file),
              onAgentLog: (e) => this.log.appendLine(`[agent ${e.level}] ${e.tag}: ${e.msg}`),
            },
          ),
      );
      this.session = session;
      session.onClose((why) => this.onSessionClosed(session, why));
      await this.setContext(ContextKeys.connected, true);
      this.log.info(`connected to ${session.target.label}; kernel ${session.info.kernel.release}`);
      await this.refresh();
      this.startPolling();
      return session;
    } catch (err) {
      this.statusBar.render({ kind: 'disconnected' });
      throw err;
    }
  }

  private async askPassphrase(file: string): Promise<string | undefined> {
    const key = `passphrase:${file}`;
    const stored = await this.extension.secrets.get(key);
    if (stored !== undefined) return stored;
    const typed = await vscode.window.showInputBox({
      title: 'DFS eBPF',
      prompt: `Passphrase for ${file}`,
      password: true,
      ignoreFocusOut: true,
    });
    if (typed !== undefined) await this.extension.secrets.store(key, typed);
    return typed;
  }

  private onSessionClosed(session: NodeSession, why: string): void {
    if (this.session !== session) return;
    const wasAttached = this.lastBypass?.attached === true;
    this.session = null;
    this.lastBypass = null;
    this.stopPolling();
    this.statusBar.render({ kind: 'disconnected' });
    this.changed.fire();
    void this.setContext(ContextKeys.connected, false);
    void this.setContext(ContextKeys.bypassAttached, false);
    if (why.includes('closed by client')) return;
    this.log.warn(`connection to ${session.target.label} lost: ${why}`);
    void vscode.window.showWarningMessage(
      `DFS eBPF: lost the connection to ${session.target.label} (${why}).${wasAttached ? ' The bypass was released with it.' : ''}`,
    );
  }

  disconnect(): boolean {
    const s = this.session;
    if (!s) return false;
    s.close();
    this.onSessionClosed(s, 'closed by client');
    return true;
  }

  /** Record a new bypass status and show it. */
  async showBypass(status: BypassStatus): Promise<void> {
    this.lastBypass = status;
    const s = this.connected;
    if (s) this.statusBar.render({ kind: 'connected', node: s.target.label, bypass: status });
    this.changed.fire();
    await this.setContext(ContextKeys.bypassAttached, status.attached);
  }

  async refresh(): Promise<void> {
    const s = this.connected;
    if (!s) return;
    await this.showBypass(await s.request(BypassStatusRequest, {}));
  }

  private startPolling(): void {
    this.stopPolling();
    const ms = Math.max(250, readSettings().statusRefreshSeconds * 1000);
    this.poller = setInterval(() => {
      if (this.polling) return;
      this.polling = true;
      this.refresh()
        .catch((err: unknown) => this.log.debug(`status poll failed: ${describeError(err)}`))
        .finally(() => (this.polling = false));
    }, ms);
  }

  private stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  private async setContext(key: string, value: boolean): Promise<void> {
    await vscode.commands.executeCommand('setContext', key, value);
  }

  /** Show a failure as one sentence with its code, log the detail, offer the log. */
  reportError(what: string, err: unknown): void {
    this.lastError = `${what}: ${describeError(err)}`;
    this.changed.fire();
    const code = err instanceof DfsError ? ` [${errorCodeName(err.code)}]` : '';
    this.log.error(`${what}: ${describeError(err)}${code}`);
    if (err instanceof DfsError && err.detail) this.log.error(err.detail);
    if (err instanceof Error && !(err instanceof DfsError) && err.stack) this.log.debug(err.stack);
    // Not awaited: a command must finish even if nobody ever answers the notification.
    void vscode.window.showErrorMessage(`DFS eBPF: ${what}: ${describeError(err)}`, 'Show Log').then((choice) => {
      if (choice === 'Show Log') this.log.show();
    });
  }

  isCode(err: unknown, code: ErrorCode): boolean {
    return err instanceof DfsError && err.code === code;
  }

  dispose(): void {
    this.stopPolling();
    this.session?.close();
    this.session = null;
    for (const d of this.disposables.splice(0).reverse()) d.dispose();
  }
}
