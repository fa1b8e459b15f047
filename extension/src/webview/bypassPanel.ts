/**
 * The bypass panel ("DFS eBPF: Show bypass"): draws the connection and the bypass model
 * whenever either changes; its buttons run the same commands as the palette. The webview
 * plumbing (HTML, `ready`, message checks, disposal) is PanelHost's; at most one panel is open
 * (bypassPanelCommand keeps it).
 */

import * as vscode from 'vscode';
import { isBypassPanelRequest, type BypassPanelRequest, type BypassPanelUpdate } from '@dfs/protocol';
import type { BypassModel } from '../bypass/model';
import { Commands } from '../contributions';
import type { Ctx } from '../ctx';
import { PanelHost, singlePanel } from './panelHost';

class BypassPanel {
  readonly host: PanelHost<BypassPanelUpdate, BypassPanelRequest>;

  constructor(
    private readonly ctx: Ctx,
    private readonly model: BypassModel,
  ) {
    this.host = new PanelHost(
      ctx,
      {
        viewType: 'dfsEbpf.bypass',
        title: 'DFS eBPF: Bypass',
        bundle: 'bypass',
        style: true,
        isRequest: isBypassPanelRequest,
      },
      () => this.state(),
      (m) => {
        const command = { attach: Commands.attachBypass, detach: Commands.detachBypass, connect: Commands.connect }[
          m.type
        ];
        void vscode.commands.executeCommand(command);
      },
    );
    const subs = [
      ctx.onDidChangeConnection(() => this.host.sendState()),
      model.onDidChange(() => this.host.sendState()),
    ];
    this.host.onDidDispose(() => {
      for (const d of subs) d.dispose();
    });
  }

  private state(): BypassPanelUpdate {
    const s = this.ctx.connected;
    return {
      type: 'state',
      node: s ? s.target.label : null,
      bypass: s ? this.model.status : null,
      error: this.model.error ?? null,
    };
  }
}

/** "Show bypass": one panel at a time, disposed with the extension. */
export function bypassPanelCommand(ctx: Ctx, model: BypassModel): () => void {
  const panels = singlePanel(() => new BypassPanel(ctx, model));
  ctx.push({ dispose: () => panels.current()?.host.dispose() });
  return () => void panels.show();
}
