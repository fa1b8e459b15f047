/**
 * Every command id, setting and context key of the extension, declared once. A unit test
 * (test/unit/contributions.test.ts) checks these against `contributes` in package.json, so
 * the manifest and the code cannot drift apart.
 */

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
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

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
};
export const CommandCategory = 'DFS eBPF';

/** Settings under the `dfsEbpf` section, with their types. */
export interface Settings {
  node: string;
  autoConnect: boolean;
  knownHostsFile: string;
  identityFile: string;
  agentCommand: string;
  statusRefreshSeconds: number;
  'bypass.extraEndpoints': string[];
  'verify.onSave': boolean;
  'build.includeDirs': string[];
}
export const SettingsSection = 'dfsEbpf';
export const SettingKeys: (keyof Settings)[] = [
  'node',
  'autoConnect',
  'knownHostsFile',
  'identityFile',
  'agentCommand',
  'statusRefreshSeconds',
  'bypass.extraEndpoints',
  'verify.onSave',
  'build.includeDirs',
];

/** Context keys for `when` clauses. */
export const ContextKeys = {
  connected: 'dfsEbpf.connected',
  bypassAttached: 'dfsEbpf.bypassAttached',
} as const;

/** Id of the status bar item (VS Code prefixes it with the extension id). */
export const StatusBarId = 'dfsEbpf.bypass';
