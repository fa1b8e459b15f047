/**
 * Commands on several nodes at once (FleetModel): "Attach/Detach bypass on nodes…", "Verify on
 * nodes…", "Profile nodes…", "Refresh nodes", and "Connect to node…" (which node the
 * single-node features use). The nodes are the argument (`a,b,c` or `all`) or picked in a
 * multi-select list with every node picked; progress names each node; one node's failure is
 * reported with its reason while the others finish.
 */

import * as vscode from 'vscode';
import type { BypassAttachParams, Profile } from '@dfs/protocol';
import { exportProfile, perNodeFile } from '@dfs/core/profile/files';
import { profileNode } from '@dfs/core/profile/onNode';
import type { VerifyOutcome } from '@dfs/core/verifier/verify';
import { nodeSpecList } from '@dfs/core/ssh/target';
import { parseEndpoints } from '@dfs/core/util/endpoints';
import type { Ctx } from '../ctx';
import type { FleetModel, FleetOutcome, NodeOutcome, NodesProgress } from '../fleet/model';
import { readSettings } from '../settings';
import { chooseMount } from '../bypass/mount';
import type { BypassModel } from '../bypass/model';
import type { VerifierService } from '../verifier/service';
import type { ProfileViewer } from '../webview/profilePanel';
import type { VerifierLogExplorer } from '../webview/verifierLogPanel';
import { fuseRequests, pickDuration, profileLabel } from './profile';
import { bpfSourceOf, showOutcome } from './verify';

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

/** "dfsbf1: <what it gave>" or "dfsbf1: <why it failed>". */
function outcomeLine<T>(o: NodeOutcome<T>, describe?: (v: T) => string): string {
  return `${o.name}: ${o.ok ? (describe && o.value !== undefined ? describe(o.value) : 'ok') : o.error}`;
}

/** Nodes that gave the same result said once: "5 programs accepted on a, b; rejected p (line 3) on c". */
function grouped<T>(outcomes: NodeOutcome<T>[], describe: (v: T) => string): string {
  const by = new Map<string, string[]>();
  for (const o of outcomes) {
    const text = o.ok && o.value !== undefined ? describe(o.value) : `failed (${o.error ?? 'no reason given'})`;
    by.set(text, [...(by.get(text) ?? []), o.name]);
  }
  return [...by].map(([text, names]) => `${text} on ${names.join(', ')}`).join('; ');
}

/**
 * Run a command on several nodes under one progress notification that names each node's step
 * (cancellable when asked: the token is the command's to honour), and log every node's outcome.
 */
async function run<T>(
  ctx: Ctx,
  what: string,
  names: string[],
  act: (progress: NodesProgress, token: vscode.CancellationToken) => Promise<NodeOutcome<T>[]>,
  o: { describe?: (v: T) => string; cancellable?: boolean } = {},
): Promise<NodeOutcome<T>[]> {
  const outcomes = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `DFS eBPF: ${what} on ${names.length} nodes`,
      cancellable: o.cancellable ?? false,
    },
    (progress, token) => {
      const steps = new Map<string, string>();
      return act((name, step) => {
        steps.set(name, step);
        progress.report({ message: [...steps].map(([n, s]) => `${n}: ${s}`).join(' · ') });
      }, token);
    },
  );
  for (const x of outcomes) ctx.log.info(`${what}: ${outcomeLine(x, o.describe)}`);
  return outcomes;
}

/** Say how a command on several nodes went: each node's result, or the ones that failed. */
function report<T>(what: string, outcomes: NodeOutcome<T>[], describe?: (v: T) => string): void {
  const failed = outcomes.filter((o) => !o.ok);
  // Not awaited: the command is done whether or not anybody reads the notification.
  if (failed.length === 0)
    void vscode.window.showInformationMessage(
      `DFS eBPF: ${what}${describe ? `: ${grouped(outcomes, describe)}` : ` on ${outcomes.map((o) => o.name).join(', ')}`}.`,
    );
  else
    void vscode.window.showErrorMessage(
      `DFS eBPF: ${what} failed on ${failed.length} of ${outcomes.length} nodes: ${failed.map((o) => outcomeLine(o)).join('; ')}`,
    );
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
    const outcomes = await run(ctx, 'attaching the bypass', names, (progress) =>
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
    report('bypass attached', outcomes);
    return outcomes;
  };
}

export function detachBypassNodesCommand(
  ctx: Ctx,
  model: FleetModel,
): (nodes?: string) => Promise<FleetOutcome[] | undefined> {
  return async (given) => {
    const names = await pickNodes(model, given, 'Detach bypass on nodes');
    if (!names || names.length === 0) return undefined;
    const outcomes = await run(ctx, 'detaching the bypass', names, (progress) => model.detach(names, progress));
    report('bypass detached', outcomes);
    return outcomes;
  };
}

export function refreshNodesCommand(model: FleetModel): () => Promise<void> {
  return () => model.refresh();
}

/** "Verified 5 programs" or "rejected bypass_msg (line 12)". */
function verdictLine(o: VerifyOutcome): string {
  const rejected = o.programs.filter((p) => p.verdict.verdict === 'rejected');
  if (rejected.length === 0) return `${o.programs.length} programs accepted by ${o.kernel}`;
  const e = rejected[0]?.verdict.error;
  return `rejected ${rejected.map((p) => p.verdict.name).join(', ')}${e?.location ? ` (line ${e.location.line})` : ''}`;
}

/**
 * "Verify on nodes…": build the source for each node's kernel and have each kernel verify it,
 * at once. Findings land on their lines once, naming the nodes that reported them; a rejection
 * offers the first rejecting node's verifier log.
 */
export function verifyNodesCommand(
  ctx: Ctx,
  model: FleetModel,
  service: VerifierService,
  explorer: VerifierLogExplorer,
): (source?: vscode.Uri, nodes?: string) => Promise<NodeOutcome<VerifyOutcome>[] | undefined> {
  return async (arg, given) => {
    const source = bpfSourceOf(arg);
    if (!source) {
      void vscode.window.showInformationMessage('DFS eBPF: open a .bpf.c file to verify it on nodes.');
      return undefined;
    }
    const names = await pickNodes(model, given, 'Verify on nodes');
    if (!names || names.length === 0) return undefined;
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === source.fsPath);
    if (doc?.isDirty) await doc.save();
    const file = vscode.workspace.asRelativePath(source);
    const outcomes = await run(
      ctx,
      `verifying ${file}`,
      names,
      (progress) =>
        model.onNodes(names, progress, async (session, step) => {
          step(`building for ${session.info.kernel.release} and verifying`);
          const outcome = await service.verifyOn(session, source);
          if (!outcome) throw new Error('it does not compile for this kernel (see Problems)');
          return outcome;
        }),
      { describe: verdictLine },
    );
    const verdicts = outcomes.flatMap((o) => (o.ok && o.value ? [{ node: o.name, outcome: o.value }] : []));
    service.publishAcross(source, verdicts);
    const rejecting = verdicts.filter((v) => v.outcome.programs.some((p) => p.verdict.verdict === 'rejected'));
    const failed = outcomes.filter((o) => !o.ok);
    if (rejecting.length === 0 && failed.length === 0) {
      report(`verified ${file}`, outcomes, verdictLine);
      return outcomes;
    }
    const first = rejecting[0];
    void vscode.window
      .showErrorMessage(
        `DFS eBPF: ${file} on ${outcomes.length} nodes: ${grouped(outcomes, verdictLine)}`,
        ...(first ? [`Show Verifier Log (${first.node})`] : []),
      )
      .then((choice) => {
        if (first && choice) void showOutcome(explorer, source, first.outcome);
      });
    return outcomes;
  };
}

/**
 * "Profile nodes…": profile several nodes for the same time, at once (each on its JuiceFS
 * mount; cancel keeps what was gathered), save every node's profile, show the first and offer
 * to open another or compare two nodes in the profile viewer.
 */
export function profileNodesCommand(
  ctx: Ctx,
  model: FleetModel,
  viewer: ProfileViewer,
): (durationS?: number, nodes?: string) => Promise<NodeOutcome<Profile>[] | undefined> {
  return async (durationArg, given) => {
    const names = await pickNodes(model, given, 'Profile nodes');
    if (!names || names.length === 0) return undefined;
    const settings = readSettings();
    const durationS = durationArg ?? (await pickDuration(settings['profile.durationSeconds']));
    if (durationS === undefined) return undefined;
    const outcomes = await run(
      ctx,
      `profiling for ${durationS} s`,
      names,
      (progress, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        return model.onNodes(names, progress, async (session, step) => {
          const mountpoint = await chooseMount(ctx.extension, session);
          if (mountpoint === null) throw new Error('no JuiceFS mount picked');
          return profileNode(session, {
            durationS,
            mountpoint,
            slowRequestUs: settings['profile.slowRequestUs'],
            signal: ac.signal,
            onStarted: (s) => step(`profiling ${s.mountpoint}`),
            onUpdate: (u) =>
              step(`${u.elapsed_s.toFixed(0)} of ${durationS} s, ${fuseRequests(u.histograms).n} requests`),
          });
        });
      },
      {
        describe: (p) => `${fuseRequests(p.histograms).n} FUSE requests, ${p.stacks.length} stacks`,
        cancellable: true,
      },
    );
    const done = outcomes.flatMap((o) => (o.ok && o.value ? [{ node: o.name, profile: o.value }] : []));
    if (done.length === 0) {
      report('profiled', outcomes);
      return outcomes;
    }
    const dir = vscode.Uri.joinPath(ctx.extension.globalStorageUri, 'profiles');
    await vscode.workspace.fs.createDirectory(dir);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const saved = await Promise.all(
      done.map(async (d) => {
        const uri = vscode.Uri.joinPath(dir, perNodeFile(`profile-${stamp}.json`, d.node));
        await vscode.workspace.fs.writeFile(
          uri,
          new TextEncoder().encode(exportProfile(d.profile, 'json', 'dfs-ebpf vscode')),
        );
        return { ...d, label: profileLabel(d.profile), uri };
      }),
    );
    const [shown] = saved;
    if (shown) viewer.show({ profile: shown.profile, label: shown.label });
    const failed = outcomes.filter((o) => !o.ok);
    const actions = saved.length > 1 ? ['Open Another Node…', 'Compare Two Nodes…'] : [];
    const text = `DFS eBPF: profiled ${saved.map((s) => s.node).join(', ')} for ${durationS} s (saved in ${dir.fsPath}); showing ${shown?.node}.${failed.length > 0 ? ` Failed on ${failed.map((o) => outcomeLine(o)).join('; ')}` : ''}`;
    void (
      failed.length > 0
        ? vscode.window.showErrorMessage(text, ...actions)
        : vscode.window.showInformationMessage(text, ...actions)
    ).then(async (choice) => {
      const pick = async (title: string): Promise<(typeof saved)[number] | undefined> =>
        (
          await vscode.window.showQuickPick(
            saved.map((s) => ({ label: s.node, description: s.label, s })),
            { title },
          )
        )?.s;
      if (choice === 'Open Another Node…') {
        const s = await pick("Open which node's profile?");
        if (s) viewer.show({ profile: s.profile, label: s.label });
      } else if (choice === 'Compare Two Nodes…') {
        const a = await pick('Compare profiles: the base node (A)');
        const b = a && (await pick(`Compare profiles: the node to compare with ${a.node} (B)`));
        if (a && b) viewer.show({ profile: b.profile, label: b.label, base: { profile: a.profile, label: a.label } });
      }
    });
    return outcomes;
  };
}

/**
 * "Connect to node…" (the Nodes view's "Connect to This Node"): make a node of the fleet the
 * one the editor works with (the node explorer, the map inspector, "Verify on test node",
 * "Profile test node" follow it). It becomes `dfsEbpf.node` (the workspace's when a folder is
 * open), the old session closes, the new one opens; a bypass this window holds is not
 * dropped silently.
 */
export function useNodeCommand(
  ctx: Ctx,
  model: FleetModel,
  bypass: BypassModel,
): (node?: string) => Promise<string | undefined> {
  return async (given) => {
    const name =
      given ??
      (
        await vscode.window.showQuickPick(
          model.nodes().map((n) => ({ label: n, description: model.isConnected(n) ? 'connected' : '' })),
          {
            title: 'DFS eBPF: Connect to node…',
            placeHolder: 'The node the explorer, inspector, verify and profile use',
          },
        )
      )?.label;
    if (!name) return undefined;
    if (model.isConnected(name)) return name;
    const current = ctx.connected;
    if (current && bypass.status?.attached && bypass.status.owner === 'this-connection') {
      const go = await vscode.window.showWarningMessage(
        `Connecting to ${name} closes the session with ${current.target.label}, and the bypass this window attached there goes with it.`,
        { modal: true },
        'Connect',
      );
      if (go !== 'Connect') return undefined;
    }
    const target = vscode.workspace.workspaceFolders?.length
      ? vscode.ConfigurationTarget.Workspace
      : vscode.ConfigurationTarget.Global;
    try {
      await vscode.workspace.getConfiguration('dfsEbpf').update('node', name, target);
      ctx.disconnect();
      const s = await ctx.ensureConnected();
      void vscode.window.setStatusBarMessage(`DFS eBPF: connected to ${s.target.label}`, 5000);
      return s.target.label;
    } catch (err) {
      ctx.reportError(`cannot connect to ${name}`, err);
      return undefined;
    }
  };
}
