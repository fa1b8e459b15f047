/**
 * FleetModel: the extension's view of every node it works with — the `dfsEbpf.nodes` setting,
 * or when it is empty every local test node that is up — and the only place that runs a command
 * on several of them. It holds one session per node while it is in use (the connected node's
 * own session is reused, never a second agent beside it), polls each node's bypass status at
 * `statusRefreshSeconds` while more than one node is known, and runs attach/detach on the
 * nodes picked, all at once, each node's failure kept as that node's result. Fires onDidChange
 * for the fleet status bar item and the Nodes view.
 */

import * as vscode from 'vscode';
import {
  BypassAttachRequest,
  BypassDetachRequest,
  BypassStatusRequest,
  errorCodeName,
  type BypassAttachParams,
  type BypassStatus,
} from '@dfs/protocol';
import { connectNode } from '@dfs/core/agent/connect';
import type { NodeSession } from '@dfs/core/agent/session';
import { describeError, DfsError } from '@dfs/core/errors';
import { nodeSpecList } from '@dfs/core/ssh/target';
import type { Ctx } from '../ctx';
import { readSettings } from '../settings';

export interface NodeState {
  name: string;
  /** The last status read; null before the first read or after a failure. */
  bypass: BypassStatus | null;
  /** Why the node could not be read or changed, the last time it was tried. */
  error?: string;
}

/** One node's part of a command on several nodes: its value, or why it failed. */
export interface NodeOutcome<T> {
  name: string;
  ok: boolean;
  value?: T;
  error?: string;
}

export type FleetOutcome = NodeOutcome<BypassStatus>;

/** Per-node progress of a command on several nodes: (node, what it is doing). */
export type NodesProgress = (name: string, what: string) => void;

export class FleetModel implements vscode.Disposable {
  private readonly sessions = new Map<string, Promise<NodeSession>>();
  private readonly states = new Map<string, NodeState>();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly ctx: Ctx) {
    this.subscriptions.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('dfsEbpf.nodes') || e.affectsConfiguration('dfsEbpf.node')) this.changed.fire();
      }),
      ctx.onDidChangeConnection(() => this.changed.fire()),
    );
  }

  /** The nodes to work with: `dfsEbpf.nodes` when set, else every local test node that is up. */
  nodes(): string[] {
    const configured = readSettings().nodes;
    if (configured.length > 0) return nodeSpecList(configured.join(','));
    try {
      return nodeSpecList('all');
    } catch {
      return []; // no local node is up
    }
  }

  state(name: string): NodeState {
    return this.states.get(name) ?? { name, bypass: null };
  }

  /** Starts polling (when more than one node is known); the status bar calls it. */
  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      this.timer = setTimeout(() => {
        if (this.nodes().length > 1) void this.refresh().finally(tick);
        else tick();
      }, readSettings().statusRefreshSeconds * 1000);
    };
    tick();
  }

  /** Reads every node's bypass status (in parallel); a node that fails keeps its reason. */
  async refresh(names = this.nodes()): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await Promise.all(
        names.map(async (name) => {
          try {
            const s = await this.session(name);
            this.set(name, { name, bypass: await s.request(BypassStatusRequest, {}) });
          } catch (err) {
            this.set(name, { name, bypass: null, error: reason(err) });
          }
        }),
      );
    } finally {
      this.polling = false;
      this.changed.fire();
    }
  }

  /** Attach on every node named, at once; `params` gives each node its attach request. */
  attach(
    names: string[],
    params: (session: NodeSession) => Promise<BypassAttachParams>,
    progress: NodesProgress,
  ): Promise<FleetOutcome[]> {
    return this.bypass(names, progress, async (s) => s.request(BypassAttachRequest, await params(s)));
  }

  detach(names: string[], progress: NodesProgress): Promise<FleetOutcome[]> {
    return this.bypass(names, progress, (s) => s.request(BypassDetachRequest, {}));
  }

  private async bypass(
    names: string[],
    progress: NodesProgress,
    act: (s: NodeSession) => Promise<BypassStatus>,
  ): Promise<FleetOutcome[]> {
    const outcomes = await this.onNodes(names, progress, (s) => act(s));
    for (const o of outcomes)
      this.set(o.name, o.ok ? { name: o.name, bypass: o.value ?? null } : { ...this.state(o.name), error: o.error });
    this.changed.fire();
    return outcomes;
  }

  /**
   * Run `act` on every node named, at once, each with its session (opened when needed) and its
   * own progress; a node's failure becomes its outcome and never stops the others.
   */
  async onNodes<T>(
    names: string[],
    progress: NodesProgress,
    act: (s: NodeSession, progress: (what: string) => void) => Promise<T>,
  ): Promise<NodeOutcome<T>[]> {
    return Promise.all(
      names.map(async (name): Promise<NodeOutcome<T>> => {
        const step = (what: string): void => progress(name, what);
        try {
          const value = await act(await this.session(name, step), step);
          step('done');
          return { name, ok: true, value };
        } catch (err) {
          step('failed');
          return { name, ok: false, error: reason(err) };
        }
      }),
    );
  }

  /** Whether `name` is the node the editor is connected to (explorer, inspector, verify, profile). */
  isConnected(name: string): boolean {
    return this.ctx.connected?.target.label === name;
  }

  /** The node's session: the connected one when it is this node, else one held here. */
  private session(name: string, progress?: (what: string) => void): Promise<NodeSession> {
    const main = this.ctx.connected;
    if (main && main.target.label === name) return Promise.resolve(main);
    const held = this.sessions.get(name);
    if (held) return held;
    const s = readSettings();
    const opening = connectNode(
      name,
      { knownHostsFile: s.knownHostsFile, identityFile: s.identityFile, agentCommand: s.agentCommand },
      {
        log: this.ctx.log,
        clientName: `vscode ${vscode.version} (fleet)`,
        bundleDir: this.ctx.agentBundleDir,
        askPassphrase: (file) => this.ctx.askPassphrase(file),
        ...(progress ? { progress } : {}),
      },
    );
    this.sessions.set(name, opening);
    opening.then(
      (session) => session.onClose(() => this.sessions.delete(name)),
      () => this.sessions.delete(name),
    );
    return opening;
  }

  private set(name: string, st: NodeState): void {
    this.states.set(name, st);
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const s of this.sessions.values()) void s.then((x) => x.close()).catch(() => undefined);
    this.sessions.clear();
    this.changed.dispose();
    for (const d of this.subscriptions) d.dispose();
  }
}

function reason(err: unknown): string {
  return `${describeError(err).split('\n')[0] ?? ''}${err instanceof DfsError ? ` [${errorCodeName(err.code)}]` : ''}`;
}
