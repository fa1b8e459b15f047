// The agent's JSON-RPC surface against the real kernel, with no SSH in between: the built
// agent (dist/agent/agent.js) runs as root in a fresh, empty network namespace (unshare
// --net, so no JuiceFS mount is "ours"), and we talk to it over its stdio. Proves: initialize
// reports real kernel features; garbage, bad fields and unknown methods get coded errors and
// the agent keeps serving; it exits when its stdin closes or is killed, leaving no program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import {
  BypassAttachRequest,
  BypassStatusRequest,
  ProfileStartRequest,
  ProfileStopRequest,
  ErrorCode,
  InitializeRequest,
  PROTOCOL_VERSION,
  type RequestSpec,
} from '../../protocol/src';
import { AgentClient } from '../../core/src/agent/client';
import { DfsError } from '../../core/src/errors';
import { repoRoot } from '../support/repo';
import { bpfProgramNames, waitFor } from '../support/kernel';

function startAgent(): ChildProcessWithoutNullStreams {
  return spawn('unshare', ['--net', process.execPath, join(repoRoot(), 'dist/agent/agent.js'), '--stdio'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function frame(body: string): string {
  return `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

async function expectCode<P, R>(
  client: AgentClient,
  spec: RequestSpec<P, R>,
  params: P,
  code: number,
): Promise<DfsError> {
  try {
    await client.request(spec, params);
  } catch (err) {
    assert.ok(err instanceof DfsError, String(err));
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`${spec.method} should have failed with ${code}`);
}

test('initialize reports versions and probed kernel features', async () => {
  const agent = startAgent();
  const client = new AgentClient(agent.stdout, agent.stdin);
  try {
    const info = await client.request(InitializeRequest, { client: 'test', protocolVersion: PROTOCOL_VERSION });
    assert.equal(info.protocolVersion, PROTOCOL_VERSION);
    assert.match(info.agentVersion, /^\d+\.\d+\.\d+/);
    assert.match(info.libbpfVersion, /^v\d+\.\d+/);
    const feature = (n: string) => info.features.find((f) => f.name === n);
    for (const n of ['sock_ops', 'sk_msg', 'sockhash', 'cgroup_v2', 'btf'])
      assert.equal(feature(n)?.supported, true, n);
    // This kernel is built without kprobes (DESIGN.md §2): the probe must say so, with a reason.
    assert.equal(feature('kprobe')?.supported, false);
    assert.match(feature('kprobe')?.detail ?? '', /kprobe/);
    assert.deepEqual(info.juicefs, [], 'an empty network namespace has no JuiceFS of its own');
    await expectCode(
      client,
      InitializeRequest,
      { client: 'test', protocolVersion: 999 },
      ErrorCode.AgentVersionMismatch,
    );
  } finally {
    agent.kill('SIGKILL');
  }
});

test('garbage, bad fields and unknown methods get coded answers; the agent keeps serving', async () => {
  const agent = startAgent();
  const replies: string[] = [];
  agent.stdout.on('data', (d: Buffer) => replies.push(d.toString()));
  try {
    // 1. A body that is not JSON: JSON-RPC parse error with id null.
    agent.stdin.write(frame('{"jsonrpc":"2.0","id":1,"method":'));
    await waitFor(() => replies.join('').includes('-32700'), 5000, 'parse error reply');
    assert.match(replies.join(''), /"id":null/);

    const client = new AgentClient(agent.stdout, agent.stdin);
    // 2. Wrong field types: BadRequest naming the field.
    const e = await expectCode(client, BypassAttachRequest, { extraEndpoints: 'all' } as never, ErrorCode.BadRequest);
    assert.match(e.message, /extraEndpoints/);
    await expectCode(client, BypassAttachRequest, { command: 'id' } as never, ErrorCode.BadRequest);
    // 3. An unknown method: JSON-RPC MethodNotFound.
    await expectCode(client, { method: 'shell/exec' }, { cmd: 'id' }, -32601);
    // 4. A valid request that cannot be met here: a clear JuiceFS error, not a crash.
    const nf = await expectCode(client, BypassAttachRequest, {}, ErrorCode.JuiceFsNotFound);
    assert.match(nf.message, /no JuiceFS mount/);
    // A profile of a node without JuiceFS: the same clear error, nothing loaded.
    const pf = await expectCode(client, ProfileStartRequest, {}, ErrorCode.JuiceFsNotFound);
    assert.match(pf.message, /no JuiceFS mount/);
    await expectCode(client, ProfileStopRequest, { profileId: 'none' }, ErrorCode.NotFound);
    // ...and the agent still answers.
    const st = await client.request(BypassStatusRequest, {});
    assert.equal(st.attached, false);
    assert.equal(agent.exitCode, null, 'agent still running');
  } finally {
    agent.kill('SIGKILL');
  }
});

test('the agent exits when its stdin closes', async () => {
  const agent = startAgent();
  const client = new AgentClient(agent.stdout, agent.stdin);
  await client.request(InitializeRequest, { client: 'test', protocolVersion: PROTOCOL_VERSION });
  const exited = new Promise<number | null>((r) => agent.on('exit', (code) => r(code)));
  agent.stdin.end();
  assert.equal(await exited, 0);
});

test('no program of ours is left in the kernel after these agents', async () => {
  await waitFor(() => !bpfProgramNames().some((n) => n.startsWith('bypass_')), 3000, 'no bypass programs');
});
