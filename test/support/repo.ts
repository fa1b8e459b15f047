// Test support: locate the repository root (the directory whose package.json is dfs-ebpf),
// from wherever the bundled test file runs (out/test/...), and the agent's built addon there.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Addon } from '../../remote-agent/src/native';

function rootAbove(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'dfs-ebpf') return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** The root above `from` (default: this bundle), else above the working directory. */
export function repoRoot(from: string = __dirname): string {
  const root = rootAbove(from) ?? rootAbove(process.cwd());
  if (root === undefined) throw new Error(`no dfs-ebpf package.json above ${from} or ${process.cwd()}`);
  return root;
}

/** The agent's libbpf addon as built in this checkout (remote-agent/native/build/Release). */
export function builtAddon(): Addon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(join(repoRoot(), 'remote-agent/native/build/Release/dfs_bpf.node')) as Addon;
}
