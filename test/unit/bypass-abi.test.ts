// The bypass ABI (bpf/bypass.h ↔ protocol/src/bypass.ts): compiles the header with the host
// compiler and compares every size and offset with what the TypeScript decoder assumes; and
// the structure of the built bpf/bypass.bpf.c (build/bpf/bypass.bpf.o, from `npm run build`):
// every program and map named in BYPASS_OBJECT is there, and the attached stub uses no map but
// the program array (else the bypass would outlive its owner: ARCHITECTURE.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BYPASS_ENDPOINT_KEY_SIZE,
  BYPASS_JUMP_REDIRECT,
  BYPASS_OBJECT,
  BYPASS_POLICY_SELECTED,
  BYPASS_POLICY_VALUE_SIZE,
  BYPASS_STATS_FIELDS,
  BYPASS_STATS_SIZE,
} from '../../protocol/src';
import { repoRoot } from '../support/repo';

test('struct layouts in bpf/bypass.h equal the protocol constants', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dfs-abi-'));
  try {
    const offsets = BYPASS_STATS_FIELDS.map(
      (f) => `printf("\\"${f}\\": %zu,", offsetof(struct bypass_stats, ${f}));`,
    ).join('\n');
    writeFileSync(
      join(dir, 'abi.c'),
      `#include <linux/types.h>
#include <stddef.h>
#include <stdio.h>
#include "bypass.h"
int main(void) {
  printf("{");
  ${offsets}
  printf("\\"stats\\": %zu, \\"endpoint\\": %zu, \\"policy\\": %zu, \\"sockkey\\": %zu, \\"selected\\": %u, \\"jump\\": %u}",
    sizeof(struct bypass_stats), sizeof(struct bypass_endpoint), sizeof(struct bypass_policy),
    sizeof(struct bypass_sock_key), BYPASS_POLICY_SELECTED, BYPASS_JUMP_REDIRECT);
  return 0;
}`,
    );
    execFileSync('cc', ['-I', join(repoRoot(), 'bpf'), '-o', join(dir, 'abi'), join(dir, 'abi.c')]);
    const abi = JSON.parse(execFileSync(join(dir, 'abi'), { encoding: 'utf8' })) as Record<string, number>;
    assert.equal(abi.stats, BYPASS_STATS_SIZE);
    assert.equal(abi.endpoint, BYPASS_ENDPOINT_KEY_SIZE);
    assert.equal(abi.policy, BYPASS_POLICY_VALUE_SIZE);
    assert.equal(abi.sockkey, 16);
    assert.equal(abi.selected, BYPASS_POLICY_SELECTED);
    assert.equal(abi.jump, BYPASS_JUMP_REDIRECT);
    BYPASS_STATS_FIELDS.forEach((f, i) => assert.equal(abi[f], i * 8, f));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Each function of a BPF object with the symbols its instructions relocate against (its maps). */
function functionRelocations(object: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of execFileSync('llvm-objdump', ['-d', '-r', object], { encoding: 'utf8' }).split('\n')) {
    const fn = /^[0-9a-f]+ <([\w.]+)>:$/.exec(line);
    if (fn?.[1]) out.set(fn[1], (current = []));
    const reloc = /R_BPF_64_64\s+(\S+)/.exec(line);
    if (reloc?.[1] && current) current.push(reloc[1]);
  }
  return out;
}

test('bpf/bypass.bpf.c has the structure BYPASS_OBJECT names: a stub that only tail-calls', () => {
  const object = join(repoRoot(), 'build/bpf/bypass.bpf.o');
  const symbols = execFileSync('llvm-objdump', ['-t', object], { encoding: 'utf8' });
  const defined = (name: string, section: string): boolean =>
    symbols.split('\n').some((l) => l.includes(` ${section}\t`) && l.trim().endsWith(` ${name}`));
  for (const p of [BYPASS_OBJECT.sockopsProgram, BYPASS_OBJECT.skmsgProgram, BYPASS_OBJECT.redirectProgram]) {
    assert.ok(defined(p, p === BYPASS_OBJECT.sockopsProgram ? 'sockops' : 'sk_msg'), `program ${p}`);
  }
  for (const m of [BYPASS_OBJECT.sockhashMap, BYPASS_OBJECT.policyMap, BYPASS_OBJECT.statsMap, BYPASS_OBJECT.jumpMap]) {
    assert.ok(defined(m, '.maps'), `map ${m}`);
  }
  const relocs = functionRelocations(object);
  assert.deepEqual(relocs.get(BYPASS_OBJECT.skmsgProgram), [BYPASS_OBJECT.jumpMap], 'the stub uses only the jump map');
  assert.ok(
    relocs.get(BYPASS_OBJECT.redirectProgram)?.includes(BYPASS_OBJECT.sockhashMap),
    'the redirect program holds the sockhash',
  );
});
