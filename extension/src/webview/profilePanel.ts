/**
 * The profile viewer's owner in the extension: one panel at a time (PanelHost does the webview
 * plumbing), fed a typed `load` (a profile, optionally a base for the differential view and the
 * off/on workload figures) and `live` histograms while a profile runs. It answers the viewer's
 * requests: export (save dialog, core's exportProfile), import and compare (open dialog, core's
 * readProfileText: json, folded or speedscope, recognised by content), and open-source (a Go
 * frame's file:line from the profile's `sources`, opened when that file is on this machine or
 * in the workspace). The viewer draws; what a file means is core's to say.
 */

import * as vscode from 'vscode';
import {
  isProfilePanelRequest,
  type OffOnFigures,
  type Profile,
  type ProfileExportFormat,
  type ProfilePanelRequest,
  type ProfilePanelUpdate,
  type ProfileUpdate,
} from '@dfs/protocol';
import { exportProfile, panelProfile, readProfileText } from '@dfs/core/profile/files';
import { uriExists } from '../uris';
import { PanelHost, singlePanel, type PanelHostDeps } from './panelHost';

export interface ProfileView {
  profile: Profile;
  /** A label for the profile ("dfsnode0 at 12:00:00", a file name). */
  label: string;
  base?: { profile: Profile; label: string };
  figures?: OffOnFigures;
}

const FILTERS: Record<ProfileExportFormat, Record<string, string[]>> = {
  json: { 'DFS eBPF profile': ['json'] },
  folded: { 'Folded stacks': ['folded', 'txt'] },
  speedscope: { speedscope: ['speedscope.json', 'json'] },
};

/** Read a profile file through core; a bad file is an Error whose message names it and the place. */
export async function readProfileUri(uri: vscode.Uri): Promise<{ profile: Profile; label: string }> {
  const bytes = await vscode.workspace.fs.readFile(uri);
  const label = uri.path.slice(uri.path.lastIndexOf('/') + 1);
  return { profile: readProfileText(new TextDecoder().decode(bytes), label).profile, label };
}

class ProfilePanel {
  readonly host: PanelHost<ProfilePanelUpdate, ProfilePanelRequest>;
  private live: Extract<ProfilePanelUpdate, { type: 'live' }> | undefined;

  constructor(
    private readonly deps: PanelHostDeps,
    private view: ProfileView | undefined,
  ) {
    this.host = new PanelHost(
      deps,
      {
        viewType: 'dfsEbpf.profile',
        title: this.title(),
        bundle: 'profile',
        style: true,
        isRequest: isProfilePanelRequest,
        // 100,000 stacks are costly to send and build again; keep the webview while hidden.
        retainContextWhenHidden: true,
      },
      () => this.state(),
      (m) => void this.onRequest(m),
    );
  }

  /** What the panel shows (undefined while a profile runs). */
  get shown(): ProfileView | undefined {
    return this.view;
  }

  private title(): string {
    if (!this.view) return 'Profile (running)';
    return this.view.base ? `Profile: ${this.view.base.label} → ${this.view.label}` : `Profile: ${this.view.label}`;
  }

  private state(): ProfilePanelUpdate | undefined {
    const v = this.view;
    if (!v) return this.live;
    return {
      type: 'load',
      profile: panelProfile(v.profile, v.label),
      ...(v.base ? { base: panelProfile(v.base.profile, v.base.label) } : {}),
      ...(v.figures ? { figures: v.figures } : {}),
    };
  }

  show(view: ProfileView): void {
    this.view = view;
    this.live = undefined;
    this.host.title = this.title();
    this.host.sendState();
  }

  /** A running profile's histograms so far (shown until its Profile arrives). */
  showLive(u: ProfileUpdate): void {
    this.view = undefined;
    const { profileId: _id, ...live } = u;
    this.live = { type: 'live', ...live };
    this.host.title = this.title();
    this.host.sendState();
  }

  private error(message: string): void {
    void this.host.panel.webview.postMessage({ type: 'error', message } satisfies ProfilePanelUpdate);
  }

  private async onRequest(m: Exclude<ProfilePanelRequest, { type: 'ready' }>): Promise<void> {
    try {
      switch (m.type) {
        case 'export':
          return await this.export(m.format);
        case 'import': {
          const uri = await pickProfileFile('Open profile');
          if (uri) this.show(await readProfileUri(uri));
          return;
        }
        case 'compare': {
          if (!this.view) return this.error('there is no profile to compare yet');
          const uri = await pickProfileFile('Compare with (base, "before")');
          if (uri) this.show({ ...this.view, base: await readProfileUri(uri), figures: undefined });
          return;
        }
        case 'openSource':
          return await this.openSource(m.frame);
      }
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.deps.log.warn(`profile viewer: ${m.type}: ${message}`);
      this.error(message);
    }
  }

  private async export(format: ProfileExportFormat): Promise<void> {
    const v = this.view;
    if (!v) return this.error('there is no profile to export yet');
    const ext = format === 'speedscope' ? 'speedscope.json' : format;
    const name = `${v.label.replace(/[^A-Za-z0-9._-]+/g, '-')}.${ext}`;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri = await vscode.window.showSaveDialog({
      title: `Export profile as ${format}`,
      filters: FILTERS[format],
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, name) } : {}),
    });
    if (!uri) return;
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(exportProfile(v.profile, format, 'dfs-ebpf')));
    void vscode.window.setStatusBarMessage(`DFS eBPF: profile written to ${uri.fsPath}`, 5000);
  }

  /** Open the frame's file:line: the path itself when it exists here, else the workspace file
   *  whose path ends with the longest tail of it (a Go module path inside a checkout). */
  private async openSource(frame: string): Promise<void> {
    const src = this.view?.profile.sources[frame] ?? this.view?.base?.profile.sources[frame];
    if (!src) return this.error(`${frame} has no known source`);
    const uri = await locate(src.file);
    if (!uri) {
      return this.error(`${src.file}:${src.line} (of ${frame}) is not on this machine nor in the workspace`);
    }
    const at = new vscode.Position(Math.max(0, src.line - 1), 0);
    await vscode.window.showTextDocument(uri, {
      viewColumn: vscode.ViewColumn.Beside,
      selection: new vscode.Range(at, at),
    });
  }
}

async function locate(file: string): Promise<vscode.Uri | undefined> {
  if (file.startsWith('/') && (await uriExists(vscode.Uri.file(file)))) return vscode.Uri.file(file);
  const base = file.slice(file.lastIndexOf('/') + 1);
  if (!base || !vscode.workspace.workspaceFolders) return undefined;
  const found = await vscode.workspace.findFiles(`**/${base}`, '**/node_modules/**', 200);
  const tail = (p: string): number => {
    const a = p.split('/');
    const b = file.split('/');
    let n = 0;
    while (n < a.length && n < b.length && a[a.length - 1 - n] === b[b.length - 1 - n]) n++;
    return n;
  };
  return found.sort((x, y) => tail(y.path) - tail(x.path))[0];
}

export async function pickProfileFile(title: string): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectMany: false,
    filters: { 'Profiles (json, folded, speedscope)': ['json', 'folded', 'txt'], 'All files': ['*'] },
  });
  return picked?.[0];
}

/** The profile viewer: at most one panel, reused. Built once by activate(), disposed with the Ctx. */
export class ProfileViewer implements vscode.Disposable {
  private readonly panels = singlePanel(
    (view: ProfileView | undefined) => new ProfilePanel(this.deps, view),
    (open, view) => (view ? open.show(view) : undefined),
  );

  constructor(private readonly deps: PanelHostDeps) {}

  show(view: ProfileView): void {
    this.panels.show(view);
  }

  /** Live histograms of a running profile, in the open panel (opened when there is none). */
  showLive(u: ProfileUpdate): void {
    const open = this.panels.current() ?? this.panels.show(undefined);
    open.showLive(u);
  }

  /** What the open panel shows, if any (tests). */
  get shown(): ProfileView | undefined {
    return this.panels.current()?.shown;
  }

  dispose(): void {
    this.panels.current()?.host.dispose();
  }
}
