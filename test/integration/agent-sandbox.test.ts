// The agent's sandbox (remote-agent/src/sandbox.ts) against the real kernel, with the built
// agent in an empty network namespace (no node needed): `bpf/verify` runs in a child, so a long
// verification leaves the agent answering `bypass/status` meanwhile; several verifications at
// once all answer; a program name that is not valid UTF-8 (issue 6, item 7: it used to get
// Internal) is a BadObject naming it; and no sandbox child outlives its request (but the one
// spare waiting for the next verification, which goes with the agent).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BYPASS_OBJECT,
  BypassStatusRequest,
  ErrorCode,
  InitializeRequest,
  PROTOCOL_VERSION,
  VerifyRequest,
} from '../../protocol/src';
import { AgentClient } from '../../core/src/agent/client';
import { compileBpf } from '../../core/src/build/clang';
import { localVmlinuxDir } from '../../core/src/build/vmlinux';
import { DfsError } from '../../core/src/errors';
import { section } from '../support/damage';
import { childrenBesidesSpare, childrenOf, cmdlineOf } from '../support/procfs';

const alive = (pid: number): boolean => cmdlineOf(pid) !== '';
import { repoRoot } from '../support/repo';

const ws = mkdtempSync(join(tmpdir(), 'dfs-sandbox-it-'));
after(() => rmSync(ws, { recursive: true, force: true }));

function startAgent(): { client: AgentClient; kill: () => void; pid: () => number | undefined } {
  const agent = spawn('unshare', ['--net', process.execPath, join(repoRoot(), 'dist/agent/agent.js'), '--stdio'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  return {
    client: new AgentClient(agent.stdout, agent.stdin),
    kill: () => agent.kill('SIGKILL'),
    pid: () => agent.pid,
  };
}

const bypassObject = (): Buffer => readFileSync(join(repoRoot(), 'build/bpf/bypass.bpf.o'));

test(
  'a long verification runs in a child: bypass/status keeps answering meanwhile',
  { timeout: 300_000 },
  async (t) => {
    const big = await compileBpf(join(repoRoot(), 'test/fixtures/bpf/verify/big_log.bpf.c'), join(ws, 'obj'), {
      vmlinuxDir: await localVmlinuxDir(),
    });
    assert.ok(big.ok, big.stderr);
    const { client, kill } = startAgent();
    try {
      const info = await client.request(InitializeRequest, { client: 'test', protocolVersion: PROTOCOL_VERSION });
      let done = false;
      const verify = client
        .request(VerifyRequest, {
          object: readFileSync(big.object).toString('base64'),
          objectName: 'big.o',
          logLevel: 2,
        })
        .finally(() => (done = true));
      let answeredMeanwhile = 0;
      let sawChild = false;
      while (!done) {
        const st = await client.request(BypassStatusRequest, {});
        assert.equal(st.attached, false);
        if (!done) answeredMeanwhile++;
        sawChild ||= childrenOf(info.agentPid).length > 0;
        await new Promise((r) => setTimeout(r, 100));
      }
      const res = await verify;
      assert.equal(res.programs[0]?.errno, 0);
      assert.ok(answeredMeanwhile >= 3, `bypass/status answered ${answeredMeanwhile} times during the verify`);
      t.diagnostic(`bypass/status answered ${answeredMeanwhile} times while the verification ran`);
      assert.ok(sawChild, 'the verification ran in a child of the agent');
      // What may remain is the spare: one fresh child waiting for the next verification.
      assert.deepEqual(childrenBesidesSpare(info.agentPid), [], 'no sandbox child outlives its request but the spare');
      const left = childrenOf(info.agentPid);
      kill();
      // ...and it goes with the agent (its stdin closes), even after a SIGKILL.
      for (const deadline = Date.now() + 10_000; left.some(alive);) {
        assert.ok(Date.now() < deadline, `the spare child ${left.join(' ')} outlived the agent`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      kill();
    }
  },
);

test('several verifications at once all answer, from the same agent', async () => {
  const { client, kill, pid } = startAgent();
  try {
    await client.request(InitializeRequest, { client: 'test', protocolVersion: PROTOCOL_VERSION });
    const object = bypassObject().toString('base64');
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => client.request(VerifyRequest, { object, objectName: `b${i}.bpf.o` })),
    );
    const expected = [BYPASS_OBJECT.sockopsProgram, BYPASS_OBJECT.redirectProgram, BYPASS_OBJECT.skmsgProgram]
      .sort()
      .map((name) => [name, 0]);
    for (const r of results) assert.deepEqual(r.programs.map((p) => [p.name, p.errno]).sort(), expected);
    assert.ok(pid() !== undefined);
  } finally {
    kill();
  }
});

test('a program name that is not valid UTF-8 is a BadObject naming it, not Internal', async () => {
  // Damage the symbol name of bypass_sockops in .strtab: its first byte becomes 0xff.
  const elf = bypassObject();
  const strtab = section(elf, '.strtab');
  const at = elf.indexOf('\0bypass_sockops\0', strtab.offset, 'latin1') + 1;
  assert.ok(at > strtab.offset && at < strtab.offset + strtab.size);
  elf[at] = 0xff;
  const { client, kill } = startAgent();
  try {
    await client.request(InitializeRequest, { client: 'test', protocolVersion: PROTOCOL_VERSION });
    await assert.rejects(
      client.request(VerifyRequest, { object: elf.toString('base64'), objectName: 'names.bpf.o' }),
      (err: unknown) => {
        assert.ok(err instanceof DfsError, String(err));
        assert.equal(err.code, ErrorCode.BadObject, err.message);
        assert.match(err.message, /program name '\\xffypass_sockops' is not valid UTF-8/);
        return true;
      },
    );
    // ...and the agent keeps serving.
    assert.equal((await client.request(BypassStatusRequest, {})).attached, false);
  } finally {
    kill();
  }
});
