// Regression test for issue 6, item 1: a damaged BPF object must never take the root agent
// down. The damage is the reported one, made reproducibly (test/support/damage.ts
// `btfCrashRecipe`: two flipped bits inside the .BTF of build/bpf/bypass.bpf.o, located
// through the section table and the BTF type table), which made Debian 12's libbpf 1.1.2
// segfault inside bpf_object__load. Sent through `bpf/verify` (agent in an empty network namespace, no node
// needed) and through `bypass/attach` with a user object (on a real local test node,
// dfsnadmg), each gets a coded BadObject; the same agent process keeps serving, holds no BPF
// fd afterwards, and still verifies and attaches the intact object.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BypassAttachRequest,
  BypassDetachRequest,
  BypassStatusRequest,
  ErrorCode,
  InitializeRequest,
  PROTOCOL_VERSION,
  VerifyRequest,
  type RequestSpec,
} from '../../protocol/src';
import { AgentClient } from '../../core/src/agent/client';
import { DfsError } from '../../core/src/errors';
import { nodeDown } from '../../core/src/testnode';
import { applyFlips, btfCrashRecipe, section } from '../support/damage';
import { openSession, upNode } from '../support/node';
import { bpfFdsOf } from '../support/procfs';
import { repoRoot } from '../support/repo';

const NAME = 'dfsnadmg';
const intact = (): Buffer => readFileSync(join(repoRoot(), 'build/bpf/bypass.bpf.o'));
const damaged = (): Buffer => applyFlips(intact(), btfCrashRecipe(intact()));

const popcount = (x: number): number => (x === 0 ? 0 : (x & 1) + popcount(x >>> 1));

interface Requester {
  request<P, R>(spec: RequestSpec<P, R>, params: P): Promise<R>;
}

async function expectCode<P, R>(agent: Requester, spec: RequestSpec<P, R>, params: P, code: number): Promise<DfsError> {
  try {
    await agent.request(spec, params);
  } catch (err) {
    assert.ok(err instanceof DfsError, String(err));
    assert.equal(err.code, code, `${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`${spec.method} should have failed with code ${code}`);
}

test('the recipe flips two bits inside .BTF', () => {
  const flips = btfCrashRecipe(intact());
  const btf = section(intact(), '.BTF');
  assert.equal(flips.length, 2);
  for (const f of flips) assert.ok(f.byte >= btf.offset && f.byte < btf.offset + btf.size, f.why);
  const [good, bad] = [intact(), damaged()];
  let bits = 0;
  for (const [i, b] of bad.entries()) bits += popcount(b ^ (good[i] ?? 0));
  assert.equal(bits, 2);
});

test('bpf/verify of the damaged object: BadObject, and the same agent keeps serving', async (t) => {
  const agent = spawn('unshare', ['--net', process.execPath, join(repoRoot(), 'dist/agent/agent.js'), '--stdio'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: Buffer[] = [];
  agent.stderr.on('data', (d: Buffer) => stderr.push(d));
  const client = new AgentClient(agent.stdout, agent.stdin);
  try {
    const info = await client.request(InitializeRequest, { client: 'test', protocolVersion: PROTOCOL_VERSION });
    const err = await expectCode(
      client,
      VerifyRequest,
      { object: damaged().toString('base64'), objectName: 'damaged.bpf.o' },
      ErrorCode.BadObject,
    );
    assert.match(err.message, /damaged\.bpf\.o/);
    t.diagnostic(err.message);
    assert.equal(agent.exitCode, null, `agent still running; its stderr:\n${Buffer.concat(stderr).toString()}`);
    // The same process answers, and verifies the intact object.
    const again = await client.request(InitializeRequest, { client: 'test', protocolVersion: PROTOCOL_VERSION });
    assert.equal(again.agentPid, info.agentPid);
    const ok = await client.request(VerifyRequest, { object: intact().toString('base64'), objectName: 'bypass.bpf.o' });
    assert.deepEqual(
      ok.programs.map((p) => p.errno),
      ok.programs.map(() => 0),
    );
    assert.deepEqual(bpfFdsOf(info.agentPid), [], 'the agent holds no BPF object after verifying');
  } finally {
    agent.kill('SIGKILL');
  }
});

before(async () => {
  await upNode(NAME);
});
after(async () => {
  await nodeDown({ name: NAME });
});

test('bypass/attach with the damaged object: BadObject, nothing attached, the session lives on', async (t) => {
  const session = await openSession(NAME);
  try {
    const pid = session.info.agentPid;
    const err = await expectCode(
      session,
      BypassAttachRequest,
      { object: damaged().toString('base64'), objectName: 'damaged.bpf.o' },
      ErrorCode.BadObject,
    );
    assert.match(err.message, /damaged\.bpf\.o/);
    t.diagnostic(err.message);
    const st = await session.request(BypassStatusRequest, {});
    assert.equal(st.attached, false);
    assert.deepEqual(bpfFdsOf(pid), [], 'the agent holds no BPF object after the refused attach');

    // The same agent then attaches the intact user object and detaches it.
    const on = await session.request(BypassAttachRequest, {
      object: intact().toString('base64'),
      objectName: 'bypass.bpf.o',
    });
    assert.equal(on.attached, true);
    assert.equal(on.owner, 'this-connection');
    const off = await session.request(BypassDetachRequest, {});
    assert.equal(off.attached, false);
    process.kill(pid, 0); // throws ESRCH if the session's agent process died
    assert.deepEqual(bpfFdsOf(pid), [], 'nothing left after detach');
  } finally {
    session.close();
  }
});
