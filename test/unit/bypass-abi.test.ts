// The bypass ABI (bpf/bypass.h ↔ protocol/src/bypass.ts): compiles the header with the host
// compiler and compares every size and offset with what the TypeScript decoder assumes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BYPASS_ENDPOINT_KEY_SIZE,
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
  printf("\\"stats\\": %zu, \\"endpoint\\": %zu, \\"policy\\": %zu, \\"sockkey\\": %zu, \\"selected\\": %u}",
    sizeof(struct bypass_stats), sizeof(struct bypass_endpoint), sizeof(struct bypass_policy),
    sizeof(struct bypass_sock_key), BYPASS_POLICY_SELECTED);
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
    BYPASS_STATS_FIELDS.forEach((f, i) => assert.equal(abi[f], i * 8, f));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
