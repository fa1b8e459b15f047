// Bounded fuzz of the agent with damaged objects (issue 6, items 1 and 7), run in CI: damaged
// variants of our real objects (bit flips, .BTF/.BTF.ext flips, truncations, section-table
// corruption, zeroed BTF, random ELF and BTF headers; test/support/damage.ts) through a real
// agent's `bpf/verify` (by core's verify path, with the log parser and the BTF line reader),
// through `bypass/attach` on a local test node (dfsnafz), and through the CLI's `verify`.
// Every answer must be a result or a coded error: no Internal, no raw JavaScript error, no dead
// agent, no hang; the agent's pid stays the same and it holds no BPF object and no sandbox
// child afterwards. The seed is printed; DFS_FUZZ_SEED=N replays a run.
// The long run (20,000+ inputs, with figures) is `npm run fuzz:objects` (test/fuzz/objects.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BypassStatusRequest, InitializeRequest, PROTOCOL_VERSION } from '../../protocol/src';
import { AgentClient } from '../../core/src/agent/client';
import { nodeDown } from '../../core/src/testnode';
import { mutate } from '../support/damage';
import { baseObjects, caseRng, fuzzAttach, fuzzVerify, type FuzzStats } from '../support/fuzzObjects';
import { openSession, upNode } from '../support/node';
import { bpfFdsOf, childrenBesidesSpare, childrenOf } from '../support/procfs';
import { repoRoot } from '../support/repo';

const NAME = 'dfsnafz';
const SEED = Number(process.env.DFS_FUZZ_SEED ?? Date.now() % 1_000_000) >>> 0;
const ws = mkdtempSync(join(tmpdir(), 'dfs-fuzz-objects-'));

function assertClean(stats: FuzzStats, what: string): void {
  const failures = stats.failures.map(
    (f) => `#${f.index} ${f.base} (${f.mutation}): ${f.outcome.kind} ${f.outcome.message ?? ''}`,
  );
  assert.deepEqual(failures, [], `${what} (seed ${SEED}, replay with DFS_FUZZ_SEED=${SEED})`);
  assert.equal(stats.count('uncoded') + stats.count('lost') + stats.count('hang'), 0);
  assert.equal(stats.btfLinesThrew, 0, 'btfLineInfo never throws');
}

before(async () => {
  await upNode(NAME);
});
after(async () => {
  rmSync(ws, { recursive: true, force: true });
  await nodeDown({ name: NAME });
});

test(
  'bpf/verify: 240 damaged objects, each a result or a coded error; one agent throughout',
  { timeout: 600_000 },
  async (t) => {
    t.diagnostic(`seed ${SEED} (replay: DFS_FUZZ_SEED=${SEED})`);
    const agent = spawn('unshare', ['--net', process.execPath, join(repoRoot(), 'dist/agent/agent.js'), '--stdio'], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const client = new AgentClient(agent.stdout, agent.stdin);
    try {
      const info = await client.request(InitializeRequest, { client: 'fuzz', protocolVersion: PROTOCOL_VERSION });
      const stats = await fuzzVerify(client, baseObjects(), { seed: SEED, count: 240, concurrency: 3 });
      t.diagnostic(stats.summary());
      for (const [code, example] of stats.examples) t.diagnostic(`e.g. ${code}: ${example.slice(0, 300)}`);
      assertClean(stats, 'bpf/verify');
      assert.ok(stats.count('result') > 0 && stats.count('coded') > 0, 'both kinds of answers occur');
      const again = await client.request(InitializeRequest, { client: 'fuzz', protocolVersion: PROTOCOL_VERSION });
      assert.equal(again.agentPid, info.agentPid, 'the same agent answered every case');
      assert.deepEqual(bpfFdsOf(info.agentPid), [], 'the agent holds no BPF object');
      assert.deepEqual(childrenBesidesSpare(info.agentPid), [], 'no sandbox child is left but the spare');
    } finally {
      agent.kill('SIGKILL');
    }
  },
);

test('bypass/attach: 40 damaged bypass objects on a node; nothing stays attached', { timeout: 600_000 }, async (t) => {
  const session = await openSession(NAME);
  try {
    const pid = session.info.agentPid;
    const bypass = readFileSync(join(repoRoot(), 'build/bpf/bypass.bpf.o'));
    const stats = await fuzzAttach(session, bypass, { seed: SEED, first: 10_000, count: 40 });
    t.diagnostic(stats.summary());
    assertClean(stats, 'bypass/attach');
    assert.equal((await session.request(BypassStatusRequest, {})).attached, false);
    process.kill(pid, 0); // throws ESRCH if the session's agent process died
    assert.deepEqual(bpfFdsOf(pid), [], 'the agent holds no BPF object');
    assert.deepEqual(childrenOf(pid), [], 'no sandbox child is left');
  } finally {
    session.close();
  }
});

test(
  'the CLI verifies 10 damaged objects: a verdict or one coded line, never a raw error',
  { timeout: 600_000 },
  async (t) => {
    const bases = baseObjects();
    const cli = join(repoRoot(), 'dist/cli/main.js');
    const seen: string[] = [];
    for (let index = 20_000; index < 20_010; index++) {
      const rng = caseRng(SEED, index);
      const m = mutate(rng.pick(bases).bytes, rng);
      const file = join(ws, `fuzz-${index}.bpf.o`);
      writeFileSync(file, m.bytes);
      const r = await promisify(execFile)(process.execPath, [cli, 'verify', file, '--node', NAME, '--json'], {
        maxBuffer: 256 << 20,
      }).then(
        (ok) => ({ code: 0, stdout: ok.stdout, stderr: ok.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      const what = `#${index} (${m.kind}: ${m.what}), seed ${SEED}`;
      assert.ok(r.code === 0 || r.code === 1, `${what}: exit ${r.code}\n${r.stderr}`);
      if (r.stdout.trim() !== '') {
        const doc = JSON.parse(r.stdout) as { programs: unknown[] };
        assert.ok(Array.isArray(doc.programs), what);
      }
      if (r.code === 1) {
        const lines = r.stderr.trim().split('\n');
        assert.equal(lines.length, 1, `${what}: one line\n${r.stderr}`);
        const code = /\[(\w+)\]$/.exec(lines[0] ?? '')?.[1];
        assert.ok(code && code !== 'Internal', `${what}: a coded line, not Internal: ${lines[0]}`);
        seen.push(code);
      } else seen.push('ok');
    }
    t.diagnostic(`CLI answers: ${seen.join(', ')}`);
  },
);
