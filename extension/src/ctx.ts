/**
 * Ctx: the one owner of the extension's lifetime. It holds the log channel, the session with
 * the connected node and every disposable the features push, and disposes all of them.
 * Feature state lives in its own model (bypass/model.ts) that follows the connection through
 * onDidChangeConnection; commands are thin factories over Ctx and the models (commands/*.ts).
 */

import { join } from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, errorCodeName } from '@dfs/protocol';
import { connectNode } from '@dfs/core/agent/connect';
import type { MapInspectors } from './commands/inspect';
import type { NodeExplorer } from './inspect/nodeExplorer';
import type { FleetModel } from './fleet/model';
import type { FleetStatusBar } from './fleet/views';
import type { NodeSession } from '@dfs/core/agent/session';
import { DfsError, describeError } from '@dfs/core/errors';
import type { BypassModel } from './bypass/model';
import { ContextKeys } from './contributions';
import { readSettings } from './settings';
import type { BypassStatusBar } from './statusBar';
import type { VerifierService } from './verifier/service';
import type { EditingService } from './editing/service';
import type { ProfileViewer } from './webview/profilePanel';

/** What the extension exports from activate(), for its own extension tests. */
export interface ExtensionApi {
  readonly ctx: Ctx;
  readonly verifier: VerifierService;
  readonly editing: EditingService;
  readonly bypass: BypassModel;
  readonly statusBar: BypassStatusBar;
  readonly profiles: ProfileViewer;
  readonly nodeExplorer: NodeExplorer;
  readonly maps: MapInspectors;
  readonly fleet: FleetModel;
  readonly fleetStatusBar: FleetStatusBar;
}

/** The connection as the status bar and the models see it. */
export type ConnectionState =
  | { kind: 'disconnected'; /** true when the node went away, not the user */ lost: boolean }
  | { kind: 'connecting'; label: string }
  | { kind: 'connected'; session: NodeSession };

export class Ctx implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  private session: NodeSession | null = null;
  private connecting: Promise<NodeSession> | null = null;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly connectionChanged = new vscode.EventEmitter<ConnectionState>();
  /** Fires on every connection change (connecting, connected, disconnected). */
  readonly onDidChangeConnection = this.connectionChanged.event;
  private state: ConnectionState = { kind: 'disconnected', lost: false };

  constructor(readonly extension: vscode.ExtensionContext) {
    this.log = vscode.window.createOutputChannel('DFS eBPF', { log: true });
    this.disposables.push(this.log, this.connectionChanged);
  }

  /** Directory of the agent bundle shipped inside the extension. */
  get agentBundleDir(): string {
    return join(this.extension.extensionPath, 'dist', 'agent');
  }

  get connected(): NodeSession | null {
    return this.session && !this.session.isClosed ? this.session : null;
  }

  get connection(): ConnectionState {
    return this.state;
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.connectionChanged.fire(state);
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
    this.setState({ kind: 'connecting', label });
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
      this.setState({ kind: 'connected', session });
      return session;
    } catch (err) {
      this.setState({ kind: 'disconnected', lost: false });
      throw err;
    }
  }

  /** An SSH key's passphrase: kept in SecretStorage once typed (README, SECURITY.md). */
  async askPassphrase(file: string): Promise<string | undefined> {
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
    this.session = null;
    const lost = !why.includes('closed by client');
    void this.setContext(ContextKeys.connected, false);
    this.setState({ kind: 'disconnected', lost });
    if (!lost) return;
    this.log.warn(`connection to ${session.target.label} lost: ${why}`);
    void vscode.window.showWarningMessage(
      `DFS eBPF: lost the connection to ${session.target.label} (${why}). Whatever it held on the node was released with it.`,
    );
  }

  disconnect(): boolean {
    const s = this.session;
    if (!s) return false;
    s.close();
    this.onSessionClosed(s, 'closed by client');
    return true;
  }

  private async setContext(key: string, value: boolean): Promise<void> {
    await vscode.commands.executeCommand('setContext', key, value);
  }

  /** Show a failure as one sentence with its code, log the detail, offer the log. */
  reportError(what: string, err: unknown): void {
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
    this.session?.close();
    this.session = null;
    for (const d of this.disposables.splice(0).reverse()) d.dispose();
  }
}
