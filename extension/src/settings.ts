/** Typed reads of the `dfsEbpf.*` settings (declared in contributions.ts and package.json). */

import * as vscode from 'vscode';
import type { Endpoint } from '@dfs/protocol';
import { SettingsSection, type Settings } from './contributions';

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SettingsSection);
  return {
    node: c.get<string>('node', ''),
    autoConnect: c.get<boolean>('autoConnect', true),
    knownHostsFile: c.get<string>('knownHostsFile', ''),
    identityFile: c.get<string>('identityFile', ''),
    agentCommand: c.get<string>('agentCommand', ''),
    statusRefreshSeconds: c.get<number>('statusRefreshSeconds', 1),
    'bypass.extraEndpoints': c.get<string[]>('bypass.extraEndpoints', []),
  };
}

/** `host:port` strings → endpoints; a malformed entry is an error naming the setting. */
export function parseEndpoints(items: string[]): Endpoint[] {
  return items.map((s) => {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(s.trim());
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) {
      throw new Error(`setting dfsEbpf.bypass.extraEndpoints: "${s}" is not an IPv4 host:port`);
    }
    return { host: m[1] ?? '', port };
  });
}
