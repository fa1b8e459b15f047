/**
 * Which JuiceFS mount of the node the bypass is for. A node may run several JuiceFS clients;
 * the agent refuses to guess. The answer comes from, in order: the `dfsEbpf.bypass.mount`
 * setting, the mount picked earlier for this node (remembered in the extension's global
 * state, per node label), or a quick pick of the mounts the agent reported at connect.
 * With a single mount nothing is asked.
 */

import * as vscode from 'vscode';
import type { NodeSession } from '@dfs/core/agent/session';
import { readSettings } from '../settings';

const memoryKey = (node: string): string => `bypass.mount:${node}`;

/** The mount point to ask for, undefined to let the agent take the only one, null when the user cancelled. */
export async function chooseMount(
  extension: vscode.ExtensionContext,
  session: NodeSession,
): Promise<string | undefined | null> {
  const configured = readSettings()['bypass.mount'].trim();
  if (configured) return configured;
  const mounts = session.info.juicefs;
  if (mounts.length <= 1) return undefined;
  const key = memoryKey(session.target.label);
  const remembered = extension.globalState.get<string>(key);
  if (remembered && mounts.some((m) => m.mountpoint === remembered)) return remembered;
  const picked = await vscode.window.showQuickPick(
    mounts.map((m) => ({
      label: m.mountpoint,
      description: `volume ${m.volume} · JuiceFS ${m.version}`,
      detail: `metadata ${m.meta} · objects ${m.bucket}`,
      mountpoint: m.mountpoint,
    })),
    {
      title: `DFS eBPF: ${session.target.label} has ${mounts.length} JuiceFS mounts`,
      placeHolder: 'Which mount should the bypass accelerate? (remembered for this node)',
      ignoreFocusOut: true,
    },
  );
  if (!picked) return null;
  await extension.globalState.update(key, picked.mountpoint);
  return picked.mountpoint;
}

/** Forget the remembered mount of a node (e.g. after the agent said it is gone). */
export async function forgetMount(extension: vscode.ExtensionContext, node: string): Promise<void> {
  await extension.globalState.update(memoryKey(node), undefined);
}
