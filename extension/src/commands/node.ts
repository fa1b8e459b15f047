/** Commands about the node connection: "Connect to test node", "Disconnect", "Show log". */

import * as vscode from 'vscode';
import { targetAddress } from '@dfs/core/ssh/target';
import type { Ctx } from '../ctx';

export function connectCommand(ctx: Ctx): () => Promise<void> {
  return async () => {
    try {
      const s = await ctx.ensureConnected();
      const mounts = s.info.juicefs.map((m) => `${m.mountpoint} (${m.volume}, JuiceFS ${m.version})`).join(', ');
      void vscode.window.showInformationMessage(
        `DFS eBPF: connected to ${s.target.label} (${targetAddress(s.target)}), kernel ${s.info.kernel.release}, agent ${s.info.agentVersion}. JuiceFS: ${mounts || 'none mounted'}.`,
      );
    } catch (err) {
      ctx.reportError('cannot connect to the test node', err);
    }
  };
}

export function disconnectCommand(ctx: Ctx): () => void {
  return () => {
    if (!ctx.disconnect()) void vscode.window.showInformationMessage('DFS eBPF: no test node is connected.');
  };
}

export function showLogCommand(ctx: Ctx): () => void {
  return () => ctx.log.show();
}
