/**
 * "Profile test node", "Compare profiles" and "Profile bypass off vs on". Profiling runs
 * core's profileNode on the connected node under a cancellable progress notification (cancel
 * keeps what was gathered), shows the live histograms in the profile viewer while it runs and
 * the whole Profile when it ends. Off vs on runs a workload (bench's metadata burst, a
 * sequential write + read, or the user's own command) over SSH as the node's user, once with
 * the bypass off and once on, and opens the differential view with the workload's figures.
 */

import * as vscode from 'vscode';
import type { Profile, ProfileUpdate } from '@dfs/protocol';
import { formatUs } from '@dfs/core/profile/histogram';
import { profileBypassOffOn, profileNode } from '@dfs/core/profile/onNode';
import { BUILTIN_WORKLOADS, commandWorkload, type WorkloadSpec } from '@dfs/core/profile/workloads';
import { chooseMount } from '../bypass/mount';
import type { Ctx } from '../ctx';
import { readSettings } from '../settings';
import { pickProfileFile, readProfileUri, type ProfileViewer } from '../webview/profilePanel';

const time = (iso: string): string => (iso ? new Date(iso).toLocaleTimeString() : '');

/** "dfsnode0, 10 s at 12:00:00" */
export function profileLabel(p: Profile): string {
  return `${p.node}, ${p.duration_s.toFixed(0)} s at ${time(p.started_at)}`;
}

/** FUSE requests in a profile's (or a live update's) histograms, and their mean latency. */
export function fuseRequests(histograms: ProfileUpdate['histograms']): { n: number; meanUs: number } {
  const fuse = histograms.filter((h) => h.layer === 'fuse' && (h.phase ?? 'total') === 'total');
  const n = fuse.reduce((s, h) => s + h.count, 0);
  return { n, meanUs: n > 0 ? fuse.reduce((s, h) => s + h.sum_ns, 0) / n / 1000 : Number.NaN };
}

export async function pickDuration(fallback: number): Promise<number | undefined> {
  const items = [5, 10, 30, 60, 300].map((s) => ({
    label: `${s} s`,
    s,
    description: s === fallback ? 'default (dfsEbpf.profile.durationSeconds)' : '',
  }));
  items.sort((a, b) => (a.s === fallback ? -1 : b.s === fallback ? 1 : a.s - b.s));
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Profile: for how long? (Cancel in the notification stops it early)',
  });
  return picked?.s;
}

export function profileNodeCommand(ctx: Ctx, viewer: ProfileViewer): (durationS?: number) => Promise<void> {
  return async (durationArg) => {
    try {
      const settings = readSettings();
      const session = await ctx.ensureConnected();
      // The same mount the bypass is for (setting, remembered pick, or a quick pick).
      const mountpoint = await chooseMount(ctx.extension, session);
      if (mountpoint === null) return;
      const durationS = durationArg ?? (await pickDuration(settings['profile.durationSeconds']));
      if (durationS === undefined) return;
      const profile = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `DFS eBPF: profiling ${session.target.label}`,
          cancellable: true,
        },
        async (progress, token) => {
          const ac = new AbortController();
          token.onCancellationRequested(() => ac.abort());
          let last = 0;
          return profileNode(session, {
            durationS,
            mountpoint,
            slowRequestUs: settings['profile.slowRequestUs'],
            signal: ac.signal,
            onStarted: (s) =>
              progress.report({ message: `${s.mountpoint} (JuiceFS ${s.juicefs}, pid ${s.daemonPid})` }),
            onUpdate: (u) => {
              viewer.showLive(u);
              const { n, meanUs: mean } = fuseRequests(u.histograms);
              const pct = Math.min(100, (u.elapsed_s / durationS) * 100);
              progress.report({
                increment: pct - last,
                message: `${u.elapsed_s.toFixed(0)} of ${durationS} s: ${n} FUSE requests (mean ${formatUs(mean)}), ${u.stacks} stacks`,
              });
              last = pct;
            },
          });
        },
      );
      ctx.log.info(
        `profile of ${profile.node}: ${profile.duration_s} s, ${profile.histograms.length} histograms, ${profile.stacks.length} stacks`,
      );
      viewer.show({ profile, label: profileLabel(profile) });
    } catch (err) {
      ctx.reportError('profiling failed', err);
    }
  };
}

export function compareProfilesCommand(
  ctx: Ctx,
  viewer: ProfileViewer,
): (a?: vscode.Uri, b?: vscode.Uri) => Promise<void> {
  return async (aArg, bArg) => {
    try {
      const a = aArg ?? (await pickProfileFile('Compare profiles: the base ("before", A)'));
      if (!a) return;
      const b = bArg ?? (await pickProfileFile('Compare profiles: the other ("after", B)'));
      if (!b) return;
      const [base, other] = await Promise.all([readProfileUri(a), readProfileUri(b)]);
      viewer.show({ ...other, base });
    } catch (err) {
      ctx.reportError('cannot compare the profiles', err);
    }
  };
}

async function pickWorkload(): Promise<WorkloadSpec | undefined> {
  const builtins = BUILTIN_WORKLOADS.map((w) => w());
  const items: (vscode.QuickPickItem & { w?: WorkloadSpec })[] = [
    ...builtins.map((w) => ({ label: w.name, description: w.description, w })),
    {
      label: 'Your own command…',
      description: 'run over SSH as the node user, in a scratch directory on the mount ($DFS_DIR)',
    },
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'Profile bypass off vs on: which workload?' });
  if (!picked) return undefined;
  if (picked.w) return picked.w;
  const cmd = await vscode.window.showInputBox({
    title: 'The workload command (POSIX shell, on the node, as the node user)',
    placeHolder: 'e.g. fio --name=r --rw=randread --size=64m --directory=$DFS_DIR',
  });
  return cmd ? commandWorkload(cmd) : undefined;
}

export function profileOffOnCommand(
  ctx: Ctx,
  viewer: ProfileViewer,
): (workload?: string, command?: string) => Promise<void> {
  return async (workloadArg, commandArg) => {
    try {
      const settings = readSettings();
      const session = await ctx.ensureConnected();
      const mountpoint = await chooseMount(ctx.extension, session);
      if (mountpoint === null) return;
      const workload =
        commandArg !== undefined
          ? commandWorkload(commandArg)
          : workloadArg !== undefined
            ? BUILTIN_WORKLOADS.map((w) => w()).find((w) => w.name === workloadArg)
            : await pickWorkload();
      if (!workload) {
        if (workloadArg !== undefined)
          ctx.reportError('profile bypass off vs on', new Error(`no workload "${workloadArg}"`));
        return;
      }
      const result = await vscode.window.withProgress(
        {
          location: vscode.ProgressLocation.Notification,
          title: `DFS eBPF: ${workload.name} with the bypass off, then on`,
          cancellable: true,
        },
        (progress, token) => {
          const ac = new AbortController();
          token.onCancellationRequested(() => ac.abort());
          return profileBypassOffOn(session, workload, {
            maxDurationS: 600,
            slowRequestUs: settings['profile.slowRequestUs'],
            mountpoint,
            signal: ac.signal,
            progress: (what) => progress.report({ message: what }),
          });
        },
      );
      const f = result.figures;
      ctx.log.info(
        `${f.workload}: bypass off ${f.off.value.toFixed(1)} ${f.unit}, on ${f.on.value.toFixed(1)}: ${f.ratio.toFixed(3)}x (${f.redirected_msgs} messages redirected)`,
      );
      viewer.show({
        profile: result.on,
        label: `bypass on (${profileLabel(result.on)})`,
        base: { profile: result.off, label: `bypass off (${profileLabel(result.off)})` },
        figures: f,
      });
    } catch (err) {
      ctx.reportError('profile bypass off vs on failed', err);
    }
  };
}
