/**
 * BypassModel: the extension's view of the bypass on the connected node, and the only place
 * that changes it. It follows the connection (Ctx.onDidChangeConnection): polls
 * `bypass/status` while a node is connected, forgets everything when it goes. It runs
 * attach and detach, keeps the last failure of those two (cleared by the next success or a
 * new connection; no other command's failure lands here), sets the `bypassAttached` context
 * key and fires onDidChange for the status bar and the bypass panel. Disposed by Ctx.
 */

import * as vscode from 'vscode';
import {
  BypassAttachRequest,
  BypassDetachRequest,
  BypassStatusRequest,
  type BypassAttachParams,
  type BypassStatus,
} from '@dfs/protocol';
import type { NodeSession } from '@dfs/core/agent/session';
import { describeError } from '@dfs/core/errors';
import { ContextKeys } from '../contributions';
import type { Ctx } from '../ctx';
import { readSettings } from '../settings';

export class BypassModel implements vscode.Disposable {
  private current: BypassStatus | null = null;
  private failure: string | undefined;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the status or the last failure changes. */
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly ctx: Ctx) {
    this.subscription = ctx.onDidChangeConnection((state) => {
      if (state.kind === 'connected') this.follow(state.session);
      else if (state.kind === 'disconnected') this.forget(state.lost);
    });
  }

  /** The last status read from the connected node; null when no node is connected. */
  get status(): BypassStatus | null {
    return this.current;
  }

  /** The last failure of attach or detach, as the user saw it. */
  get error(): string | undefined {
    return this.failure;
  }

  async attach(session: NodeSession, params: BypassAttachParams): Promise<BypassStatus> {
    return this.record(session, () => session.request(BypassAttachRequest, params), 'cannot attach the bypass');
  }

  async detach(session: NodeSession): Promise<BypassStatus> {
    return this.record(session, () => session.request(BypassDetachRequest, {}), 'cannot detach the bypass');
  }

  async refresh(): Promise<void> {
    const s = this.ctx.connected;
    if (!s) return;
    this.set(await s.request(BypassStatusRequest, {}));
  }

  private async record(session: NodeSession, run: () => Promise<BypassStatus>, what: string): Promise<BypassStatus> {
    try {
      const status = await run();
      this.failure = undefined;
      if (this.ctx.connected === session) this.set(status);
      else this.changed.fire();
      return status;
    } catch (err) {
      this.failure = `${what}: ${describeError(err)}`;
      this.changed.fire();
      throw err;
    }
  }

  private set(status: BypassStatus): void {
    this.current = status;
    this.changed.fire();
    void vscode.commands.executeCommand('setContext', ContextKeys.bypassAttached, status.attached);
  }

  private follow(session: NodeSession): void {
    this.failure = undefined;
    this.refresh().catch((err: unknown) => this.ctx.log.debug(`bypass status failed: ${describeError(err)}`));
    this.stopPolling();
    const ms = Math.max(250, readSettings().statusRefreshSeconds * 1000);
    this.poller = setInterval(() => {
      if (this.polling || this.ctx.connected !== session) return;
      this.polling = true;
      this.refresh()
        .catch((err: unknown) => this.ctx.log.debug(`status poll failed: ${describeError(err)}`))
        .finally(() => (this.polling = false));
    }, ms);
  }

  private forget(lost: boolean): void {
    const held = this.current?.attached === true && this.current.owner === 'this-connection';
    this.stopPolling();
    this.current = null;
    if (lost && held) {
      this.failure = 'the connection was lost; the bypass it held was released with it';
      this.ctx.log.warn(this.failure);
    }
    this.changed.fire();
    void vscode.commands.executeCommand('setContext', ContextKeys.bypassAttached, false);
  }

  private stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  dispose(): void {
    this.stopPolling();
    this.subscription.dispose();
    this.changed.dispose();
  }
}
