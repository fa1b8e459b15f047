/**
 * "Attach bypass" and "Detach bypass". Attach connects when needed, builds the workspace's
 * own `bpf/bypass.bpf.c` when there is one (else the agent uses its bundled reference build),
 * and asks the agent to load and attach it; the status bar then shows the live counters.
 */

import { join } from 'node:path';
import * as vscode from 'vscode';
import { ErrorCode, type BypassAttachParams } from '@dfs/protocol';
import type { NodeSession } from '@dfs/core/agent/session';
import type { BypassModel } from '../bypass/model';
import { chooseMount, forgetMount } from '../bypass/mount';
import type { Ctx } from '../ctx';
import type { VerifierService } from '../verifier/service';
import { parseEndpoints } from '@dfs/core/util/endpoints';
import { readSettings } from '../settings';

const BYPASS_SOURCE = join('bpf', 'bypass.bpf.c');

/** The workspace folder holding bpf/bypass.bpf.c, if any. */
async function workspaceBypassSource(): Promise<vscode.Uri | undefined> {
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const uri = vscode.Uri.joinPath(folder.uri, 'bpf', 'bypass.bpf.c');
    try {
      await vscode.workspace.fs.stat(uri);
      return uri;
    } catch {
      continue;
    }
  }
  return undefined;
}

/** Build the workspace's bypass for the node's kernel; compiler errors land in Problems and abort. */
async function buildWorkspaceBypass(
  verifier: VerifierService,
  session: NodeSession,
  source: vscode.Uri,
): Promise<Pick<BypassAttachParams, 'object' | 'objectName'>> {
  const res = await verifier.build(session, [source]);
  const built = res.results[0];
  if (!built?.bytes) {
    const errors = res.diagnostics.filter((d) => d.severity === 'error').length;
    throw new Error(`${BYPASS_SOURCE} does not compile (${errors} errors; see Problems)`);
  }
  return { object: built.bytes.toString('base64'), objectName: 'bypass.bpf.o' };
}

export function attachBypassCommand(ctx: Ctx, model: BypassModel, verifier: VerifierService): () => Promise<void> {
  return async () => {
    try {
      const settings = readSettings();
      const extraEndpoints = parseEndpoints(settings['bypass.extraEndpoints'], 'setting dfsEbpf.bypass.extraEndpoints');
      const session = await ctx.ensureConnected();
      const mountpoint = await chooseMount(ctx.extension, session);
      if (mountpoint === null) return; // the user closed the quick pick
      const status = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'DFS eBPF: attaching the bypass' },
        async (progress) => {
          const params: BypassAttachParams = { extraEndpoints, ...(mountpoint ? { mountpoint } : {}) };
          const source = await workspaceBypassSource();
          if (source) {
            progress.report({ message: `building ${vscode.workspace.asRelativePath(source)}` });
            Object.assign(params, await buildWorkspaceBypass(verifier, session, source));
          }
          progress.report({ message: `loading and attaching on ${session.target.label}` });
          return model.attach(session, params);
        },
      );
      const eps = status.endpoints.map((e) => `${e.host}:${e.port} (${e.source})`).join(', ');
      ctx.log.info(
        `bypass attached on ${session.target.label} for ${status.mountpoint}: cgroup ${status.cgroup}, endpoints ${eps}`,
      );
      void vscode.window.showInformationMessage(
        `DFS eBPF: bypass attached on ${session.target.label} (${status.mountpoint}) for ${eps}.`,
      );
    } catch (err) {
      if (ctx.isCode(err, ErrorCode.JuiceFsNotFound)) {
        const s = ctx.connected;
        if (s) await forgetMount(ctx.extension, s.target.label);
      }
      ctx.reportError('cannot attach the bypass', err);
    }
  };
}

export function detachBypassCommand(ctx: Ctx, model: BypassModel): () => Promise<void> {
  return async () => {
    const session = ctx.connected;
    if (!session) {
      void vscode.window.showInformationMessage('DFS eBPF: no test node is connected, so no bypass is attached.');
      return;
    }
    try {
      const before = model.status;
      const final = await model.detach(session);
      const c = final.counters;
      const msg = before?.attached
        ? `bypass detached after ${c.redirected_msgs} redirected messages (${c.redirected_bytes} bytes).`
        : 'the bypass was not attached.';
      ctx.log.info(msg);
      void vscode.window.showInformationMessage(`DFS eBPF: ${msg}`);
    } catch (err) {
      ctx.reportError('cannot detach the bypass', err);
    }
  };
}
