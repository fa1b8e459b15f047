// Who can install code that runs as root, on a real local test node over the real SSH path
// (the node's SSH user, through its sudo rule): only a holder of the client's private update
// key. A bundle signed with the pinned key installs; unsigned, foreign-key, tampered-file and
// tampered-manifest bundles are refused and the installed agent stays byte for byte as it
// was; the SSH user can neither read the client's private key nor write the pinned public
// key, nor get its own key's bundles installed. A signed bundle whose manifest.json is null is
// a coded BadRequest (it was an Internal error). Client state (the key) lives in a private
// XDG_STATE_HOME for this file.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { AgentUpdateRequest, ErrorCode, UPDATE_KEY_TYPE, type AgentUpdateParams } from '../../protocol/src';
import { bundledAgentVersion, readBundle } from '../../core/src/agent/bundle';
import { NodeSession } from '../../core/src/agent/session';
import {
  keyFingerprint,
  loadUpdateKey,
  signBundle,
  updateKeyPaths,
  type UpdateKey,
} from '../../core/src/agent/signing';
import { DfsError } from '../../core/src/errors';
import { nullLogger } from '../../core/src/log';
import { resolveTarget } from '../../core/src/ssh/target';
import { nodeDown } from '../../core/src/testnode';
import { agentBundle, sha256, upNode } from '../support/node';

const NAME = 'dfswiup';
const AGENT_DIR = `/var/lib/dfs-ebpf/nodes/${NAME}/agent`;
const KEYS = join(AGENT_DIR, 'update-keys');
const state = mkdtempSync(join(tmpdir(), 'dfs-wire-state-'));

before(async () => {
  process.env.XDG_STATE_HOME = state;
  await upNode(NAME);
});
after(async () => {
  try {
    await nodeDown({ name: NAME });
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
});

/** Every file under the agent directory (install dir, wrapper, pinned keys) with its sha256. */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (lstatSync(p).isDirectory()) walk(p);
      else out[relative(AGENT_DIR, p)] = `${statSync(p).mode.toString(8)} ${sha256(readFileSync(p))}`;
    }
  };
  walk(AGENT_DIR);
  return out;
}

const session = (): Promise<NodeSession> =>
  NodeSession.open(resolveTarget(`local:${NAME}`), { log: nullLogger, clientName: 'trust-test' });

function clientKey(): UpdateKey {
  const k = loadUpdateKey();
  assert.ok(k, 'node up made the client update key');
  return k;
}

/** A key nobody pinned: what an SSH user without the client's private key can make. */
function strangerKey(): UpdateKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicRaw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  return {
    privateKey,
    publicRaw,
    line: `${UPDATE_KEY_TYPE} ${publicRaw.toString('base64')} stranger`,
    fingerprint: keyFingerprint(publicRaw),
    paths: { privateKey: '', publicKey: '' },
  };
}

/** The bundle with one file's content replaced (and its sha256 recomputed). */
function withFile(p: AgentUpdateParams, path: string, content: Buffer): AgentUpdateParams {
  return {
    ...p,
    files: p.files.map((f) =>
      f.path === path ? { path, sha256: sha256(content), data: content.toString('base64') } : f,
    ),
  };
}

function withVersion(p: AgentUpdateParams, version: string): AgentUpdateParams {
  const manifest = JSON.parse(readFileSync(join(agentBundle(), 'manifest.json'), 'utf8')) as Record<string, unknown>;
  return { ...withFile(p, 'manifest.json', Buffer.from(JSON.stringify({ ...manifest, version }))), version };
}

async function refused(p: AgentUpdateParams, code: ErrorCode, message: RegExp): Promise<void> {
  const before = snapshot();
  const s = await session();
  try {
    await assert.rejects(
      () => s.request(AgentUpdateRequest, p),
      (e: unknown) => {
        assert.ok(e instanceof DfsError, String(e));
        assert.equal(e.code, code, e.message);
        assert.match(e.message, message);
        return true;
      },
    );
  } finally {
    s.close();
  }
  assert.deepEqual(snapshot(), before, 'the installed agent is unchanged byte for byte');
}

test('the client key is pinned root-owned outside the install directory; the private key stays with the client', () => {
  const key = clientKey();
  assert.equal(readFileSync(KEYS, 'utf8'), `${key.line}\n`);
  const st = statSync(KEYS);
  assert.equal(st.uid, 0);
  assert.equal(st.mode & 0o777, 0o644);
  assert.equal(statSync(AGENT_DIR).uid, 0);
  assert.equal(statSync(AGENT_DIR).mode & 0o022, 0);
  assert.equal(statSync(updateKeyPaths().privateKey).mode & 0o777, 0o600);
  assert.ok(!KEYS.startsWith(join(AGENT_DIR, 'lib')), 'outside the directory agent/update replaces');
});

test('unsigned, foreign-key, tampered-file and tampered-manifest bundles are refused; nothing changes', async () => {
  const real = readBundle(agentBundle());
  const key = clientKey();
  const signed = signBundle(real, key);
  await refused(real, ErrorCode.PermissionDenied, /the bundle is not signed; .* pinned in .*update-keys/);
  const stranger = strangerKey();
  await refused(
    signBundle(real, stranger),
    ErrorCode.PermissionDenied,
    new RegExp(
      `signed by key ${stranger.fingerprint.replace(/[+/]/g, '.')}, which ${KEYS} does not pin .*agent-update\\.pub`,
    ),
  );
  // A file changed after signing, sha256 recomputed: the signature no longer matches.
  await refused(
    withFile(signed, 'agent.js', Buffer.from('require("child_process").execSync("id > /tmp/pwned")')),
    ErrorCode.PermissionDenied,
    /does not match this bundle/,
  );
  // A file changed after signing, sha256 left as signed: the content check catches it.
  await refused(
    {
      ...signed,
      files: signed.files.map((f) => (f.path === 'agent.js' ? { ...f, data: Buffer.from('x').toString('base64') } : f)),
    },
    ErrorCode.BadRequest,
    /agent\.js does not match its sha256/,
  );
  // The manifest (and the request's version) changed after signing.
  await refused(
    { ...withVersion(signed, '99.0.0'), signature: signed.signature },
    ErrorCode.PermissionDenied,
    /does not match/,
  );
  await refused({ ...signed, version: '99.0.0' }, ErrorCode.PermissionDenied, /does not match/);
  await refused({ ...signed, build: 'other' }, ErrorCode.PermissionDenied, /does not match/);
  // A file added after signing.
  await refused(
    { ...signed, files: [...signed.files, { path: 'bpf/x.bpf.o', sha256: sha256(Buffer.from('x')), data: 'eA==' }] },
    ErrorCode.PermissionDenied,
    /does not match/,
  );
});

test('a signed bundle whose manifest.json is null (or not an object) is a coded BadRequest', async () => {
  const key = clientKey();
  const real = readBundle(agentBundle());
  await refused(
    signBundle(withFile(real, 'manifest.json', Buffer.from('null')), key),
    ErrorCode.BadRequest,
    /manifest\.json must be a JSON object with version, arch and build, not null/,
  );
  await refused(
    signBundle(withFile(real, 'manifest.json', Buffer.from('["x"]')), key),
    ErrorCode.BadRequest,
    /not an array/,
  );
  await refused(
    signBundle(withFile(real, 'manifest.json', Buffer.from('{"arch":"x64"}')), key),
    ErrorCode.BadRequest,
    /no string "version"/,
  );
});

test('the SSH user cannot read the private key, write the pinned key, or install with its own key', async () => {
  const s = await session();
  try {
    const priv = updateKeyPaths().privateKey;
    const probe = await s.ssh.run(
      [
        `id -un`,
        `test -r ${priv} && echo read-private || echo no-read-private`,
        `test -w ${KEYS} && echo write-keys || echo no-write-keys`,
        `test -w ${AGENT_DIR} && echo write-dir || echo no-write-dir`,
        `(echo x >> ${KEYS}) 2>/dev/null && echo appended || echo no-append`,
        `(mv ${KEYS} ${KEYS}.x) 2>/dev/null && echo moved || echo no-move`,
      ].join('; '),
    );
    assert.deepEqual(probe.stdout.trim().split('\n'), [
      `dfs-${NAME}`,
      'no-read-private',
      'no-write-keys',
      'no-write-dir',
      'no-append',
      'no-move',
    ]);
  } finally {
    s.close();
  }
  // Its own key, its own "bundle": refused like any stranger's.
  const mine = strangerKey();
  const evil = withVersion(withFile(readBundle(agentBundle()), 'agent.js', Buffer.from('process.exit(0)')), '66.6.6');
  await refused(signBundle(evil, mine), ErrorCode.PermissionDenied, /does not pin/);
  const still = await session();
  assert.equal(still.info.agentVersion, bundledAgentVersion(agentBundle()));
  still.close();
});

test('a bundle signed with the pinned key installs, byte for byte', async () => {
  const key = clientKey();
  const next = signBundle(withVersion(readBundle(agentBundle()), '0.1.99-signed'), key);
  const s = await session();
  try {
    const res = await s.request(AgentUpdateRequest, next);
    assert.equal(res.installed, '0.1.99-signed');
  } finally {
    s.close();
  }
  for (const f of next.files) {
    assert.equal(sha256(readFileSync(join(AGENT_DIR, 'lib', f.path))), f.sha256, `${f.path} installed byte for byte`);
  }
  assert.equal(readFileSync(KEYS, 'utf8'), `${key.line}\n`, 'the update did not touch the pinned key');
  const after = await session();
  assert.equal(after.info.agentVersion, '0.1.99-signed');
  after.close();
  assert.deepEqual(
    readdirSync(AGENT_DIR).sort(),
    ['bin', 'bundle.sha256', 'lib', 'update-keys'],
    'no staging or old directory left behind',
  );
});
