// Agent deployment with a version check, on a real local test node over the real SSH path:
// a node provisioned with an older agent is brought to the client's bundle by connectNode
// (through the installed agent's `agent/update`, signed with the client's update key, no extra
// sudo rule), and a signed bundle that is damaged, foreign or for another architecture is
// refused with a coded error while the installed agent stays as it was. (Unsigned and
// wrongly signed bundles: agent-update-trust.test.ts.)
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentUpdateRequest, ErrorCode, type AgentUpdateParams } from '../../protocol/src';
import { bundledAgentVersion, readBundle } from '../../core/src/agent/bundle';
import { ensureUpdateKey, signBundle } from '../../core/src/agent/signing';
import { NodeSession } from '../../core/src/agent/session';
import { DfsError } from '../../core/src/errors';
import { nullLogger } from '../../core/src/log';
import { resolveTarget } from '../../core/src/ssh/target';
import { nodeDown, nodeUp } from '../../core/src/testnode';
import { agentBundle, openSession, sha256 } from '../support/node';

const NAME = 'dfsitdp';
const OLD = '0.0.1-old';

before(async () => {
  // Provision the node with the same code under an older manifest version.
  const old = mkdtempSync(join(tmpdir(), 'dfs-old-agent-'));
  cpSync(agentBundle(), old, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(old, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(old, 'manifest.json'), JSON.stringify({ ...manifest, version: OLD }));
  await nodeUp({ name: NAME, agentBundleDir: old });
});
after(async () => {
  await nodeDown({ name: NAME });
});

const rawSession = (): Promise<NodeSession> =>
  NodeSession.open(resolveTarget(`local:${NAME}`), { log: nullLogger, clientName: 'deploy-test' });

async function updateRejected(mutate: (p: AgentUpdateParams) => AgentUpdateParams, message: RegExp): Promise<void> {
  const s = await rawSession();
  try {
    await assert.rejects(
      () => s.request(AgentUpdateRequest, signBundle(mutate(readBundle(agentBundle())), ensureUpdateKey())),
      (e: unknown) => e instanceof DfsError && e.code === ErrorCode.BadRequest && message.test(e.message),
    );
    assert.equal(s.info.agentVersion, OLD);
  } finally {
    s.close();
  }
}

test('damaged, foreign or wrong-architecture bundles are refused and change nothing', async () => {
  await updateRejected((p) => ({ ...p, arch: p.arch === 'x64' ? 'arm64' : 'x64' }), /built for .*, this node runs/);
  await updateRejected(
    (p) => ({
      ...p,
      files: p.files.map((f) => (f.path === 'agent.js' ? { ...f, sha256: sha256(Buffer.from('other')) } : f)),
    }),
    /agent\.js does not match its sha256/,
  );
  await updateRejected(
    (p) => ({
      ...p,
      files: [
        ...p.files,
        { path: '../../../etc/cron.d/x', sha256: sha256(Buffer.from('x')), data: Buffer.from('x').toString('base64') },
      ],
    }),
    /unexpected file/,
  );
  await updateRejected(
    (p) => ({ ...p, files: p.files.filter((f) => f.path !== 'dfs_bpf.node') }),
    /lacks dfs_bpf\.node/,
  );
  const still = await rawSession();
  assert.equal(still.info.agentVersion, OLD, 'the installed agent still works, unchanged');
  still.close();
});

test('connecting with a newer client deploys its agent bundle and reconnects to it', async () => {
  const expected = bundledAgentVersion(agentBundle());
  assert.ok(expected && expected !== OLD);
  const before = await rawSession();
  assert.equal(before.info.agentVersion, OLD);
  before.close();

  const s = await openSession(NAME); // connectNode: version check → agent/update → reopen
  try {
    assert.equal(s.info.agentVersion, expected);
    const installed = join('/var/lib/dfs-ebpf/nodes', NAME, 'agent/lib');
    for (const f of readBundle(agentBundle()).files) {
      assert.equal(sha256(readFileSync(join(installed, f.path))), f.sha256, `${f.path} installed byte for byte`);
    }
  } finally {
    s.close();
  }
});
