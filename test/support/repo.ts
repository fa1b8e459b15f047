// Test support: locate the repository root (the directory whose package.json is dfs-ebpf),
// from wherever the bundled test file runs (out/test/...).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function repoRoot(from: string = __dirname): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'dfs-ebpf') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no dfs-ebpf package.json above ${from}`);
    dir = up;
  }
}
