/**
 * Every command id, setting and context key of the extension, declared once. A unit test
 * (test/unit/contributions.test.ts) checks these against `contributes` in package.json, so
 * the manifest and the code cannot drift apart.
 */

import type { Uri } from 'vscode';
import type { ExplorerItem } from './inspect/nodeExplorer';

export const Commands = {
  connect: 'dfsEbpf.connect',
  disconnect: 'dfsEbpf.disconnect',
  attachBypass: 'dfsEbpf.attachBypass',
  detachBypass: 'dfsEbpf.detachBypass',
  showLog: 'dfsEbpf.showLog',
  showBypass: 'dfsEbpf.showBypass',
  build: 'dfsEbpf.build',
  verify: 'dfsEbpf.verify',
  showVerifierLog: 'dfsEbpf.showVerifierLog',
  openVerifierLog: 'dfsEbpf.openVerifierLog',
  profileNode: 'dfsEbpf.profileNode',
  compareProfiles: 'dfsEbpf.compareProfiles',
  profileBypassOffOn: 'dfsEbpf.profileBypassOffOn',
  openMap: 'dfsEbpf.openMap',
  refreshNodeExplorer: 'dfsEbpf.refreshNodeExplorer',
  detachLink: 'dfsEbpf.detachLink',
  verifyProgram: 'dfsEbpf.verifyProgram',
  copyId: 'dfsEbpf.copyId',
  installAgent: 'dfsEbpf.installAgent',
  uninstallAgent: 'dfsEbpf.uninstallAgent',
  attachBypassNodes: 'dfsEbpf.attachBypassNodes',
  detachBypassNodes: 'dfsEbpf.detachBypassNodes',
  refreshNodes: 'dfsEbpf.refreshNodes',
  verifyNodes: 'dfsEbpf.verifyNodes',
  profileNodes: 'dfsEbpf.profileNodes',
  useNode: 'dfsEbpf.useNode',
  newProgram: 'dfsEbpf.newProgram',
  createWorkspace: 'dfsEbpf.createWorkspace',
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

/**
 * Each command's arguments as callers hand them over: none from the palette, a source file
 * (and a program name) from a CodeLens, an editor title or an explorer menu. Commands are
 * registered through commands/registry.ts, which checks these at run time.
 */
export interface CommandArgs {
  [Commands.connect]: [];
  [Commands.disconnect]: [];
  [Commands.attachBypass]: [];
  [Commands.detachBypass]: [];
  [Commands.showLog]: [];
  [Commands.showBypass]: [];
  [Commands.build]: [];
  [Commands.verify]: [source?: Uri];
  [Commands.showVerifierLog]: [source?: Uri, program?: string];
  [Commands.openVerifierLog]: [file?: Uri];
  [Commands.profileNode]: [durationS?: number];
  [Commands.compareProfiles]: [base?: Uri, other?: Uri];
  [Commands.profileBypassOffOn]: [workload?: string, command?: string];
  /** A map id (tests, the explorer's click), or the explorer item of a menu. */
  [Commands.openMap]: [target?: number | ExplorerItem];
  [Commands.refreshNodeExplorer]: [];
  [Commands.detachLink]: [target?: number | ExplorerItem];
  [Commands.verifyProgram]: [target?: ExplorerItem];
  [Commands.copyId]: [target?: number | ExplorerItem];
  /** A node spec (user@host[:port] or an ~/.ssh/config Host); absent: asked. */
  [Commands.installAgent]: [node?: string];
  [Commands.uninstallAgent]: [node?: string];
  /** Node names (comma-separated, or `all`); absent: asked, all picked by default. */
  [Commands.attachBypassNodes]: [nodes?: string];
  [Commands.detachBypassNodes]: [nodes?: string];
  [Commands.refreshNodes]: [];
  /** The source (else the active `.bpf.c`) and the nodes (else asked). */
  [Commands.verifyNodes]: [source?: Uri, nodes?: string];
  /** The duration (else asked) and the nodes (else asked). */
  [Commands.profileNodes]: [durationS?: number, nodes?: string];
  /** A node name (the Nodes view's item); absent: asked. */
  [Commands.useNode]: [node?: string];
  /** The template kind, the program name and the folder (each asked when absent). */
  [Commands.newProgram]: [kind?: string, name?: string, folder?: Uri];
  /** The empty folder (asked when absent); `open` false: do not offer to open it (tests). */
  [Commands.createWorkspace]: [folder?: Uri, open?: boolean];
}

/** Palette titles, exactly as package.json declares them (category "DFS eBPF"). */
export const CommandTitles: Record<CommandId, string> = {
  [Commands.connect]: 'Connect to test node',
  [Commands.disconnect]: 'Disconnect from test node',
  [Commands.attachBypass]: 'Attach bypass',
  [Commands.detachBypass]: 'Detach bypass',
  [Commands.showLog]: 'Show log',
  [Commands.showBypass]: 'Show bypass',
  [Commands.build]: 'Build BPF programs',
  [Commands.verify]: 'Verify on test node',
  [Commands.showVerifierLog]: 'Show verifier log',
  [Commands.openVerifierLog]: 'Open verifier log…',
  [Commands.profileNode]: 'Profile test node',
  [Commands.compareProfiles]: 'Compare profiles…',
  [Commands.profileBypassOffOn]: 'Profile bypass off vs on',
  [Commands.openMap]: 'Open map…',
  [Commands.refreshNodeExplorer]: 'Refresh node explorer',
  [Commands.detachLink]: 'Detach link',
  [Commands.verifyProgram]: 'Verify program source again',
  [Commands.copyId]: 'Copy id',
  [Commands.installAgent]: 'Install agent on node…',
  [Commands.uninstallAgent]: 'Uninstall agent from node…',
  [Commands.attachBypassNodes]: 'Attach bypass on nodes…',
  [Commands.detachBypassNodes]: 'Detach bypass on nodes…',
  [Commands.refreshNodes]: 'Refresh nodes',
  [Commands.verifyNodes]: 'Verify on nodes…',
  [Commands.profileNodes]: 'Profile nodes…',
  [Commands.useNode]: 'Connect to node…',
  [Commands.newProgram]: 'New eBPF program…',
  [Commands.createWorkspace]: 'Create bypass workspace…',
};
export const CommandCategory = 'DFS eBPF';

/** Settings under the `dfsEbpf` section, with their types. */
export interface Settings {
  node: string;
  nodes: string[];
  autoConnect: boolean;
  knownHostsFile: string;
  identityFile: string;
  agentCommand: string;
  statusRefreshSeconds: number;
  'bypass.extraEndpoints': string[];
  'bypass.mount': string;
  'verify.onSave': boolean;
  'build.includeDirs': string[];
  'profile.durationSeconds': number;
  'profile.slowRequestUs': number;
}
export const SettingsSection = 'dfsEbpf';
export const SettingKeys: (keyof Settings)[] = [
  'node',
  'nodes',
  'autoConnect',
  'knownHostsFile',
  'identityFile',
  'agentCommand',
  'statusRefreshSeconds',
  'bypass.extraEndpoints',
  'bypass.mount',
  'verify.onSave',
  'build.includeDirs',
  'profile.durationSeconds',
  'profile.slowRequestUs',
];

/** Context keys for `when` clauses. */
export const ContextKeys = {
  connected: 'dfsEbpf.connected',
  bypassAttached: 'dfsEbpf.bypassAttached',
} as const;

/** Id of the status bar item (VS Code prefixes it with the extension id). */
export const StatusBarId = 'dfsEbpf.bypass';
/** Id of the fleet status bar item, shown when the extension knows more than one node. */
export const FleetStatusBarId = 'dfsEbpf.fleet';
