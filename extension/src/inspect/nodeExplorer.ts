/**
 * The node explorer (a tree in the DFS eBPF view container): the connected node → its
 * programs, maps and links, ours first, with kernel ids, types, names, attach points, the
 * processes holding them, and bpftop's per-program figures (runs/s, ns per run, CPU share)
 * from the kernel's run-time statistics, which the agent keeps on while the view is visible
 * (node/objects holdStatsS). Polls only while visible. Items carry their kernel object so that
 * the context-menu commands (open map, detach link, verify again, copy id) get it.
 */

import * as vscode from 'vscode';
import {
  NodeObjectsRequest,
  type LinkSummary,
  type MapSummary,
  type NodeObjects,
  type ProgramSummary,
} from '@dfs/protocol';
import { describeError } from '@dfs/core/errors';
import { formatFigures, programFigures } from '@dfs/core/inspect/programs';
import type { Ctx } from '../ctx';

const POLL_MS = 2000;
/** The agent keeps statistics on this long after each poll (a closed view lets them lapse). */
const HOLD_STATS_S = 10;

export type ExplorerItem =
  | { kind: 'node'; label: string }
  | { kind: 'group'; group: 'programs' | 'maps' | 'links'; count: number; ours: number }
  | { kind: 'program'; program: ProgramSummary; figures: string | null }
  | { kind: 'map'; map: MapSummary }
  | { kind: 'link'; link: LinkSummary }
  | { kind: 'message'; text: string };

export class NodeExplorer implements vscode.TreeDataProvider<ExplorerItem>, vscode.Disposable {
  static readonly viewId = 'dfsEbpf.nodeExplorer';
  private readonly changed = new vscode.EventEmitter<ExplorerItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<ExplorerItem>;
  private current: NodeObjects | null = null;
  private previous: NodeObjects | null = null;
  private error: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly ctx: Ctx) {
    this.view = vscode.window.createTreeView(NodeExplorer.viewId, { treeDataProvider: this, showCollapseAll: true });
    this.subs.push(
      this.view,
      this.view.onDidChangeVisibility(() => this.schedule(0)),
      ctx.onDidChangeConnection(() => {
        this.current = null;
        this.previous = null;
        this.schedule(0);
      }),
    );
  }

  /** The last read (for tests and commands). */
  get objects(): NodeObjects | null {
    return this.current;
  }

  /** Read the node now and redraw. */
  async refresh(): Promise<void> {
    const session = this.ctx.connected;
    if (!session) {
      this.current = null;
      this.error = null;
      this.changed.fire(undefined);
      return;
    }
    try {
      const objects = await session.request(NodeObjectsRequest, { holdStatsS: HOLD_STATS_S });
      this.previous = this.current;
      this.current = objects;
      this.error = null;
    } catch (err) {
      this.error = describeError(err);
    }
    this.changed.fire(undefined);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (!this.view.visible) return;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule(POLL_MS));
    }, ms);
  }

  getChildren(item?: ExplorerItem): ExplorerItem[] {
    const o = this.current;
    if (!item) {
      const session = this.ctx.connected;
      if (!session) return [{ kind: 'message', text: 'Not connected (DFS eBPF: Connect to test node)' }];
      if (this.error) return [{ kind: 'message', text: `Cannot read the node: ${this.error}` }];
      return [{ kind: 'node', label: session.target.label }];
    }
    if (!o) return item.kind === 'node' ? [{ kind: 'message', text: 'Reading…' }] : [];
    if (item.kind === 'node') {
      const group = (g: 'programs' | 'maps' | 'links', list: { ours: boolean }[]): ExplorerItem => ({
        kind: 'group',
        group: g,
        count: list.length,
        ours: list.filter((x) => x.ours).length,
      });
      return [group('programs', o.programs), group('maps', o.maps), group('links', o.links)];
    }
    if (item.kind !== 'group') return [];
    const dt = this.previous ? o.at_ms - this.previous.at_ms : 0;
    switch (item.group) {
      case 'programs':
        return o.programs.map((p) => {
          const before = this.previous?.programs.find((x) => x.id === p.id && x.tag === p.tag);
          const f = o.stats_on ? programFigures(before, p, dt, o.cpus) : null;
          return { kind: 'program', program: p, figures: f ? formatFigures(f) : null };
        });
      case 'maps':
        return o.maps.map((m) => ({ kind: 'map', map: m }));
      case 'links':
        return o.links.map((l) => ({ kind: 'link', link: l }));
    }
  }

  getTreeItem(item: ExplorerItem): vscode.TreeItem {
    const None = vscode.TreeItemCollapsibleState.None;
    switch (item.kind) {
      case 'message':
        return new vscode.TreeItem(item.text, None);
      case 'node': {
        const t = new vscode.TreeItem(item.label, vscode.TreeItemCollapsibleState.Expanded);
        t.iconPath = new vscode.ThemeIcon('server');
        t.contextValue = 'node';
        return t;
      }
      case 'group': {
        const names = { programs: 'Programs', maps: 'Maps', links: 'Links' };
        const t = new vscode.TreeItem(names[item.group], vscode.TreeItemCollapsibleState.Collapsed);
        t.description = `${item.count} (${item.ours} ours)`;
        t.id = `group:${item.group}`;
        return t;
      }
      case 'program': {
        const p = item.program;
        const t = new vscode.TreeItem(p.name || `(no name)`, None);
        t.id = `prog:${p.id}`;
        t.description = [`${p.type} · id ${p.id}`, item.figures].filter(Boolean).join(' · ');
        t.iconPath = new vscode.ThemeIcon(p.ours ? 'symbol-event' : 'circle-outline');
        t.contextValue = p.ours ? 'program.ours' : 'program';
        t.tooltip = new vscode.MarkdownString(
          [
            `**${p.name}** (${p.type}) id ${p.id}${p.ours ? ' — ours' : ''}`,
            `tag \`${p.tag}\`, ${p.verified_insns} instructions verified, loaded ${new Date(p.loaded_at_ms).toLocaleString()}`,
            p.attach.length ? `attached: ${p.attach.join('; ')}` : 'not attached through a link',
            p.owners.length
              ? `held by ${p.owners.map((o) => `${o.comm} (${o.pid})`).join(', ')}`
              : 'held by no process (pinned or attached only)',
            `maps: ${p.map_ids.join(', ') || 'none'}`,
            item.figures ??
              'run-time figures appear on the next refresh (statistics are on while this view is visible)',
          ].join('\n\n'),
        );
        return t;
      }
      case 'map': {
        const m = item.map;
        const t = new vscode.TreeItem(m.name, None);
        t.id = `map:${m.id}`;
        t.description = `${m.type} · id ${m.id} · ${m.key_size}→${m.value_size} B · max ${m.max_entries}`;
        t.iconPath = new vscode.ThemeIcon(m.ours ? 'database' : 'circle-outline');
        t.contextValue = m.ours ? 'map.ours' : 'map';
        t.tooltip = `${m.name} (${m.type}) id ${m.id}${m.ours ? ', ours' : ''}; ${m.btf_id ? `BTF ${m.btf_id}` : 'no BTF'}; used by programs ${m.prog_ids.join(', ') || 'none'}`;
        t.command = { command: 'dfsEbpf.openMap', title: 'Open map', arguments: [m.id] };
        return t;
      }
      case 'link': {
        const l = item.link;
        const t = new vscode.TreeItem(l.attach, None);
        t.id = `link:${l.id}`;
        t.description = `${l.type} · id ${l.id} · prog ${l.prog_id}`;
        t.iconPath = new vscode.ThemeIcon(l.ours ? 'link' : 'circle-outline');
        t.contextValue = l.ours ? 'link.ours' : 'link';
        return t;
      }
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const s of this.subs) s.dispose();
    this.changed.dispose();
  }
}
