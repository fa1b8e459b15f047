/**
 * A workspace's BPF layout: its `*.bpf.c`, where their objects go (`<root>/build/bpf/`), and
 * `compile_commands.json` at the root so clangd and the C/C++ extension read `.bpf.c` files
 * with the same BPF flags (no squiggles on valid code). forNode.ts builds with them.
 */

import { readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { bpfCompileArgs } from './clang';

const SKIP_DIRS = new Set(['node_modules', '.git', 'build', 'dist', 'out', '.cache']);

/** Every `*.bpf.c` under root (skipping build output and dependencies), sorted. */
export function findBpfSources(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 8) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) walk(join(dir, e.name), depth + 1);
      } else if (e.name.endsWith('.bpf.c')) {
        out.push(join(dir, e.name));
      }
    }
  };
  walk(root, 0);
  return out.sort();
}

export interface CompileCommandsOptions {
  /** Workspace root: compile_commands.json goes here, objects under <root>/build/bpf. */
  root: string;
  vmlinuxDir: string;
  includeDirs?: string[];
}

export function objectDir(root: string): string {
  return join(root, 'build', 'bpf');
}

/** Write compile_commands.json for these sources (clangd reads it from the workspace root). */
export function writeCompileCommands(o: CompileCommandsOptions, sources: string[]): string {
  const file = join(o.root, 'compile_commands.json');
  const entries = sources.map((src) => {
    const object = join(objectDir(o.root), basename(src).replace(/\.c$/, '.o')); // as compileBpf names it
    return { directory: o.root, file: src, arguments: ['clang', ...bpfCompileArgs(src, object, [o.vmlinuxDir, ...(o.includeDirs ?? [])])] };
  });
  writeFileSync(file, JSON.stringify(entries, null, 2) + '\n');
  return file;
}
