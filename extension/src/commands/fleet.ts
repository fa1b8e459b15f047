/**
 * "Attach bypass on nodes…", "Detach bypass on nodes…" and "Refresh nodes": the bypass on
 * several nodes at once (FleetModel). The nodes are the argument (`a,b,c` or `all`) or picked
 * in a multi-select list with every node picked; progress names each node; one node's failure
 * is reported with its reason while the others finish.
 */

import * as vscode from 'vscode';
import type { BypassAttachParams } from '@dfs/protocol';
import { nodeSpecList } from '@dfs/core/ssh/target';
import { parseEndpoints } from '@dfs/core/util/endpoints';
import type { Ctx } from '../ctx';
import type { FleetModel, FleetOutcome } from '../fleet/model';
import { readSettings } from '../settings';
import { chooseMount } from '../bypass/mount';

async function pickNodes(model: FleetModel, given: string | undefined, action: string): Promise<string[] | undefined> {
  if (given) return given.trim() === 'all' ? model.nodes() : nodeSpecList(given);
  const all = model.nodes();
  const picked = await vscode.window.showQuickPick(
    all.map((name) => ({ label: name, picked: true, description: model.state(name).error ?? '' })),
    {
      title: `DFS eBPF: ${action}`,
      canPickMany: true,
      placeHolder: 'The nodes (all by default)',
      ignoreFocusOut: true,
    },
  );
  return picked?.map((p) => p.label);
}

async function run(
  ctx: Ctx,
  what: string,
  names: string[],
  act: (progress: (name: string, step: string) => void) => Promise<FleetOutcome[]>,
): Promise<FleetOutcome[]> {
  const outcomes = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `DFS eBPF: ${what} on ${names.length} nodes` },
    (progress) => {
      const steps = new Map<string, string>();
      return act((name, step) => {
        steps.set(name, step);
        progress.report({ message: [...steps].map(([n, s]) => `${n}: ${s}`).join(' · ') });
      });
    },
  );
  const failed = outcomes.filter((o) => !o.ok);
  for (const o of outcomes) ctx.log.info(`${what} on ${o.name}: ${o.ok ? 'ok' : o.error}`);
  if (failed.length === 0) void vscode.window.showInformationMessage(`DFS eBPF: ${what} on ${names.join(', ')}.`);
  else
    void vscode.window.showErrorMessage(
      `DFS eBPF: ${what} failed on ${failed.length} of ${outcomes.length} nodes: ${failed.map((o) => `${o.name}: ${o.error}`).join('; ')}`,
    );
  return outcomes;
}

export function attachBypassNodesCommand(
  ctx: Ctx,
  model: FleetModel,
): (nodes?: string) => Promise<FleetOutcome[] | undefined> {
  return async (given) => {
    const names = await pickNodes(model, given, 'Attach bypass on nodes');
    if (!names || names.length === 0) return undefined;
    const extraEndpoints = parseEndpoints(
      readSettings()['bypass.extraEndpoints'],
      'setting dfsEbpf.bypass.extraEndpoints',
    );
    return run(ctx, 'bypass attached', names, (progress) =>
      model.attach(
        names,
        async (session): Promise<BypassAttachParams> => {
          // One mount (a fleet node's): the agent takes it; several: asked, or remembered, per node.
          if (session.info.juicefs.length <= 1) return { extraEndpoints };
          const mountpoint = await chooseMount(ctx.extension, session);
          if (mountpoint === null) throw new Error('no JuiceFS mount picked');
          return { extraEndpoints, ...(mountpoint ? { mountpoint } : {}) };
        },
        progress,
      ),
    );
  };
}

export function detachBypassNodesCommand(
  ctx: Ctx,
  model: FleetModel,
): (nodes?: string) => Promise<FleetOutcome[] | undefined> {
  return async (given) => {
    const names = await pickNodes(model, given, 'Detach bypass on nodes');
    if (!names || names.length === 0) return undefined;
    return run(ctx, 'bypass detached', names, (progress) => model.detach(names, progress));
  };
}

export function refreshNodesCommand(model: FleetModel): () => Promise<void> {
  return () => model.refresh();
}
