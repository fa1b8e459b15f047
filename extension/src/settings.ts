/** Typed reads of the `dfsEbpf.*` settings (declared in contributions.ts and package.json). */

import * as vscode from 'vscode';
import { PROFILE_DEFAULTS } from '@dfs/protocol';
import { SettingsSection, type Settings } from './contributions';

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SettingsSection);
  return {
    node: c.get<string>('node', ''),
    nodes: c.get<string[]>('nodes', []),
    autoConnect: c.get<boolean>('autoConnect', true),
    knownHostsFile: c.get<string>('knownHostsFile', ''),
    identityFile: c.get<string>('identityFile', ''),
    agentCommand: c.get<string>('agentCommand', ''),
    statusRefreshSeconds: c.get<number>('statusRefreshSeconds', 1),
    'bypass.extraEndpoints': c.get<string[]>('bypass.extraEndpoints', []),
    'bypass.mount': c.get<string>('bypass.mount', ''),
    'verify.onSave': c.get<boolean>('verify.onSave', true),
    'build.includeDirs': c.get<string[]>('build.includeDirs', []),
    'profile.durationSeconds': c.get<number>('profile.durationSeconds', PROFILE_DEFAULTS.durationS),
    'profile.slowRequestUs': c.get<number>('profile.slowRequestUs', PROFILE_DEFAULTS.slowRequestUs),
  };
}
