/**
 * The node explorer's and map inspector's commands: "Open map…" (a quick pick of the node's
 * maps, or the map clicked in the explorer), "Refresh node explorer", and the explorer's
 * context actions: detach a link of ours, verify a program's source again (the workspace
 * .bpf.c that defines it), copy an id. Tree menus hand the clicked ExplorerItem; the palette
 * and tests hand ids.
 */

import * as vscode from 'vscode';
import { LinkDetachRequest, type MapSummary } from '@dfs/protocol';
import { describeError } from '@dfs/core/errors';
import { listMaps } from '@dfs/core/inspect/onNode';
import { Commands } from '../contributions';
import type { Ctx } from '../ctx';
import type { ExplorerItem, NodeExplorer } from '../inspect/nodeExplorer';
import { MapInspector } from '../webview/mapsPanel';

/** Open inspectors by map id (one panel per map). */
export class MapInspectors implements vscode.Disposable {
  private readonly open = new Map<number, MapInspector>();

  constructor(private readonly ctx: Ctx) {}

  get(id: number): MapInspector | undefined {
    return this.open.get(id);
  }

  async show(map: MapSummary): Promise<MapInspector> {
    const existing = this.open.get(map.id);
    if (existing) {
      existing.host.reveal();
      return existing;
    }
    const session = await this.ctx.ensureConnected();
    const inspector = new MapInspector(this.ctx, session, map);
    this.open.set(map.id, inspector);
    inspector.host.onDidDispose(() => this.open.delete(map.id));
    try {
      await inspector.start();
    } catch (err) {
      inspector.dispose();
      throw err;
    }
    return inspector;
  }

  dispose(): void {
    for (const i of this.open.values()) i.dispose();
    this.open.clear();
  }
}

function idOf(target: number | ExplorerItem | undefined): number | undefined {
  if (typeof target === 'number') return target;
  if (!target) return undefined;
  if (target.kind === 'program') return target.program.id;
  if (target.kind === 'map') return target.map.id;
  if (target.kind === 'link') return target.link.id;
  return undefined;
}

export function openMapCommand(ctx: Ctx, inspectors: MapInspectors): (target?: number | ExplorerItem) => Promise<void> {
  return async (target) => {
    try {
      const session = await ctx.ensureConnected();
      const maps = await listMaps(session);
      let id = idOf(target);
      if (id === undefined) {
        const pick = await vscode.window.showQuickPick(
          maps.map((m) => ({
            label: m.name,
            description: `${m.type} · id ${m.id}${m.ours ? ' · ours' : ''}`,
            detail: `${m.key_size}-byte keys, ${m.value_size}-byte values, at most ${m.max_entries}${m.btf_id ? '' : ', no BTF (hex)'}`,
            id: m.id,
          })),
          { placeHolder: `Map of ${session.target.label} to inspect`, matchOnDescription: true },
        );
        if (!pick) return;
        id = pick.id;
      }
      const map = maps.find((m) => m.id === id);
      if (!map) throw new Error(`map ${id} is not on ${session.target.label} (any more)`);
      await inspectors.show(map);
    } catch (err) {
      void vscode.window.showErrorMessage(`DFS eBPF: cannot open the map: ${describeError(err)}`);
    }
  };
}

export function refreshExplorerCommand(explorer: NodeExplorer): () => Promise<void> {
  return () => explorer.refresh();
}

export function detachLinkCommand(ctx: Ctx, explorer: NodeExplorer): (target?: number | ExplorerItem) => Promise<void> {
  return async (target) => {
    const id = idOf(target);
    if (id === undefined) {
      void vscode.window.showInformationMessage('DFS eBPF: choose a link of ours in the node explorer to detach it.');
      return;
    }
    const yes = 'Detach';
    const pick = await vscode.window.showWarningMessage(
      `Detach link ${id}? Its program stops running there; the bypass or profile that owns it keeps its other parts until you detach or stop it.`,
      { modal: true },
      yes,
    );
    if (pick !== yes) return;
    try {
      const session = await ctx.ensureConnected();
      await session.request(LinkDetachRequest, { id });
      await explorer.refresh();
    } catch (err) {
      void vscode.window.showErrorMessage(`DFS eBPF: cannot detach link ${id}: ${describeError(err)}`);
    }
  };
}

export function copyIdCommand(): (target?: number | ExplorerItem) => Promise<void> {
  return async (target) => {
    const id = idOf(target);
    if (id !== undefined) await vscode.env.clipboard.writeText(String(id));
  };
}

/** Find the workspace .bpf.c that defines the program (by its function name) and verify it. */
export function verifyProgramCommand(): (target?: number | ExplorerItem) => Promise<void> {
  return async (target) => {
    const name = target && typeof target === 'object' && target.kind === 'program' ? target.program.name : undefined;
    if (!name) {
      void vscode.window.showInformationMessage(
        'DFS eBPF: choose a program in the node explorer to verify its source.',
      );
      return;
    }
    const files = await vscode.workspace.findFiles('**/*.bpf.c', '**/node_modules/**', 2000);
    const defining: vscode.Uri[] = [];
    const re = new RegExp(`\\b(?:int|long|__u32|__s32)\\s+(?:BPF_PROG\\(\\s*)?${name}\\b`);
    for (const f of files) {
      const text = Buffer.from(await vscode.workspace.fs.readFile(f)).toString('utf8');
      if (re.test(text)) defining.push(f);
    }
    if (defining.length === 0) {
      void vscode.window.showWarningMessage(`DFS eBPF: no .bpf.c in this workspace defines ${name}.`);
      return;
    }
    let source = defining[0];
    if (defining.length > 1) {
      const pick = await vscode.window.showQuickPick(
        defining.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u })),
        { placeHolder: `Several files define ${name}` },
      );
      source = pick?.uri;
    }
    if (source) await vscode.commands.executeCommand(Commands.verify, source);
  };
}
