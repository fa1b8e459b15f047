// The node's facts for the editing checks (core/src/editing/facts.ts) when the node's agent is
// from before `kernel/helpers` and `kernel/kfuncs`: the facts still load (BTF events and kfunc
// signatures from the kernel's BTF), helper and kfunc calls go unjudged, nothing else changes,
// and nothing is cached, so an updated agent is asked next time. A fake requester stands in for
// the session: it models an older agent's answers only (kernel/btf from this machine's real BTF
// in a prepared cache entry, "method not found" for the newer requests), and the cache lives in
// a temporary XDG_CACHE_HOME.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KernelBtfRequest, type KernelBtfResult, type RequestSpec } from '../../protocol/src';
import { vmlinuxCacheDir } from '../../core/src/build/vmlinux';
import { DfsError } from '../../core/src/errors';
import { checkText, loadNodeFacts } from '../../core/src/editing/facts';
import { tempCacheHome } from '../support/cacheHome';
import { repoRoot } from '../support/repo';

tempCacheHome('dfs-editing-facts-');

const CORPUS = join(repoRoot(), 'test/fixtures/bpf/check');

test('an agent from before kernel/helpers and kernel/kfuncs: calls unjudged, the rest checked, nothing cached', async () => {
  const btf = readFileSync('/sys/kernel/btf/vmlinux');
  const digest = createHash('sha256').update(btf).digest('hex');
  const release = '6.18.0-older-agent';
  const dir = vmlinuxCacheDir(release, digest);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vmlinux.h'), '/* cached */\n');
  writeFileSync(join(dir, 'vmlinux.btf'), btf);
  const asked: string[] = [];
  const olderAgent = {
    request<P, R>(spec: RequestSpec<P, R>): Promise<R> {
      asked.push(spec.method);
      if (spec.method === KernelBtfRequest.method) {
        return Promise.resolve({ release, sha256: digest } satisfies KernelBtfResult as R);
      }
      // What the agent's server answers for a method it does not have (JSON-RPC -32601).
      return Promise.reject(new DfsError(-32601 as never, `unknown method "${spec.method}"`));
    },
  };

  const node = await loadNodeFacts(olderAgent);
  assert.deepEqual(asked, ['kernel/btf', 'kernel/helpers', 'kernel/kfuncs']);
  assert.equal(node.facts.helpers.size, 0);
  assert.equal(node.facts.kfuncs, null);
  assert.ok(node.kfuncs.size > 100, 'kfunc signatures still come from the BTF');
  assert.ok(node.facts.btfEvents?.has('sched_switch'));
  assert.ok(!existsSync(join(dir, 'editing-helpers.json')) && !existsSync(join(dir, 'editing-kfuncs.json')));

  const helpers = await checkText(readFileSync(join(CORPUS, 'wrong_helpers.bpf.c'), 'utf8'), node);
  assert.deepEqual(helpers, [], 'no helper or kfunc call is judged');
  const sections = await checkText(readFileSync(join(CORPUS, 'wrong_sections.bpf.c'), 'utf8'), node);
  assert.ok(sections.length > 0 && sections.every((d) => d.code === 'unknown-section'));
});
