// Test support: the map inspector's BPF fixtures (test/fixtures/bpf/maps/*.bpf.c) compiled as
// the product builds BPF (clang -O2 -g for the build machine's arch, the pinned libbpf's
// headers), into a fresh temp dir each call. Returns the object's bytes, its path, and dispose()
// to remove the temp dir.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './repo';

export function compileMapsFixture(name = 'maps'): { elf: Buffer; path: string; dispose: () => void } {
  const root = repoRoot(process.cwd());
  const include = execFileSync(process.execPath, [join(root, 'scripts/libbpf.mjs'), 'include'], {
    encoding: 'utf8',
  }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'dfs-maps-fixture-'));
  const path = join(dir, `${name}.bpf.o`);
  const dispose = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    execFileSync('clang', [
      ...'-O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu'.split(' '),
      `-I${include}`,
      '-c',
      join(root, 'test/fixtures/bpf/maps', `${name}.bpf.c`),
      '-o',
      path,
    ]);
    return { elf: readFileSync(path), path, dispose };
  } catch (err) {
    dispose();
    throw err;
  }
}
