// Compiler output → structured diagnostics (core/src/build/clang.ts), and the BPF flags.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bpfCompileArgs, parseClangDiagnostics } from '../../core/src/build/clang';

test('clang errors and warnings become diagnostics; notes and context lines do not', () => {
  const stderr = [
    "bpf/bypass.bpf.c:42:9: error: use of undeclared identifier 'foo'",
    '        foo = 1;',
    '        ^',
    "bpf/bypass.bpf.c:50:5: warning: unused variable 'x' [-Wunused-variable]",
    "bpf/bypass.h:3:1: note: expanded from macro 'X'",
    "bpf/x.bpf.c:1:10: fatal error: 'vmlinux.h' file not found",
    '2 errors generated.',
  ].join('\n');
  assert.deepEqual(parseClangDiagnostics(stderr), [
    { file: 'bpf/bypass.bpf.c', line: 42, column: 9, severity: 'error', message: "use of undeclared identifier 'foo'" },
    {
      file: 'bpf/bypass.bpf.c',
      line: 50,
      column: 5,
      severity: 'warning',
      message: "unused variable 'x' [-Wunused-variable]",
    },
    { file: 'bpf/x.bpf.c', line: 1, column: 10, severity: 'error', message: "'vmlinux.h' file not found" },
  ]);
});

test('BPF compile flags: target bpf, -g -O2, includes, multiarch after the rest', () => {
  const args = bpfCompileArgs('/w/bpf/a.bpf.c', '/o/a.bpf.o', ['/cache/vmlinux']);
  for (const f of ['-g', '-O2', '-target', 'bpf', '-I/cache/vmlinux', '-I/w/bpf', '-c', '/w/bpf/a.bpf.c'])
    assert.ok(args.includes(f), f);
  assert.equal(args[args.indexOf('-o') + 1], '/o/a.bpf.o');
  assert.ok(args.some((a) => a.startsWith('-D__TARGET_ARCH_')));
});
