// What the built addon (remote-agent/native/build/Release/dfs_bpf.node, from `npm run build`)
// asks of a node: only glibc and the C++ runtime. libbpf, libelf and zlib are linked in from
// the pinned cache (scripts/libbpf.mjs, remote-agent/native/binding.gyp), because the agent is
// shipped to bare Debian servers that need not have libelf1 or zlib1g, and a system libbpf.so
// must never stand in for ours. Reads the ELF dynamic section only; needs no root and no kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/repo';

/** Libraries every node has: glibc's (libc, libm, the dynamic loader) and the C++ runtime. */
const ALLOWED_NEEDED = /^(libc\.so\.6|libm\.so\.6|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux[-\w]*\.so\.\d+)$/;

function dynamicSection(): string {
  const addon = join(repoRoot(), 'remote-agent/native/build/Release/dfs_bpf.node');
  assert.ok(existsSync(addon), `${addon} is not built; run npm run build`);
  return execFileSync('readelf', ['-d', addon], { encoding: 'utf8' });
}

test('the addon needs only glibc and libstdc++ (libbpf, libelf and zlib are inside)', () => {
  const needed = [...dynamicSection().matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1] ?? '');
  assert.ok(needed.includes('libc.so.6'), `no libc.so.6 among NEEDED ${needed.join(', ')}: not readelf's format?`);
  assert.deepEqual(
    needed.filter((lib) => !ALLOWED_NEEDED.test(lib)),
    [],
    `NEEDED: ${needed.join(', ')}`,
  );
});

test('the addon uses no initial-exec TLS, so dlopen cannot run out of static TLS space', () => {
  // A non-PIC libelf.a (Debian's) would bring initial-exec TLS and set DF_STATIC_TLS.
  assert.doesNotMatch(dynamicSection(), /\(FLAGS\).*STATIC_TLS/);
});
