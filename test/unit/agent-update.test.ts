// agent/update's trust and content checks (remote-agent/src/update.ts) with the client's
// signing (core/src/agent/signing.ts), no process and no node: a bundle signed by a pinned key
// passes; unsigned, foreign-key, tampered-file and tampered-manifest bundles are refused with
// PermissionDenied; a manifest.json that is null, not an object or without its fields is a
// BadRequest that names the problem (it was an Internal error before).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { ErrorCode, UPDATE_KEY_TYPE, type AgentUpdateParams } from '../../protocol/src';
import { keyFingerprint, signBundle, type UpdateKey } from '../../core/src/agent/signing';
import { AgentError } from '../../remote-agent/src/errors';
import { checkBundle, checkSignature, parsePinnedKeys } from '../../remote-agent/src/update';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function makeKey(): UpdateKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const publicRaw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const line = `${UPDATE_KEY_TYPE} ${publicRaw.toString('base64')} test`;
  return {
    privateKey,
    publicRaw,
    line,
    fingerprint: keyFingerprint(publicRaw),
    paths: { privateKey: '/nonexistent', publicKey: '/nonexistent.pub' },
  };
}

function file(path: string, content: string | Buffer): AgentUpdateParams['files'][number] {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  return { path, sha256: sha(data), data: data.toString('base64') };
}

function bundle(
  manifest: string = JSON.stringify({ version: '9.9.9', arch: process.arch, build: 'abc' }),
): AgentUpdateParams {
  return {
    version: '9.9.9',
    arch: process.arch,
    build: 'abc',
    files: [
      file('agent.js', 'console.log(1)'),
      file('dfs_bpf.node', Buffer.from([0x7f, 0x45, 0x4c, 0x46])),
      file('bpf/bypass.bpf.o', 'obj'),
      file('manifest.json', manifest),
    ],
  };
}

function refused(fn: () => unknown, code: ErrorCode, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AgentError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

const PATH = '/var/lib/dfs-ebpf/nodes/x/agent/update-keys';

test('a bundle signed by a pinned key passes; anything else is PermissionDenied', () => {
  const key = makeKey();
  const other = makeKey();
  const pinned = parsePinnedKeys(`# the client\n${other.line}\n\n${key.line}\n`, PATH);
  assert.equal(pinned.length, 2);
  const signed = signBundle(bundle(), key);
  assert.equal(checkSignature(signed, pinned, PATH), key.fingerprint);

  refused(() => checkSignature(bundle(), pinned, PATH), ErrorCode.PermissionDenied, /not signed.*update-keys/);
  const stranger = makeKey();
  refused(
    () => checkSignature(signBundle(bundle(), stranger), pinned, PATH),
    ErrorCode.PermissionDenied,
    new RegExp(
      `signed by key ${stranger.fingerprint.replace(/[+/]/g, '.')}, which ${PATH} does not pin.*agent-update\\.pub`,
    ),
  );
  // A file changed after signing, with its sha256 recomputed so the content checks would pass.
  const tampered = {
    ...signed,
    files: signed.files.map((f) => (f.path === 'agent.js' ? file('agent.js', 'evil()') : f)),
  };
  refused(() => checkSignature(tampered, pinned, PATH), ErrorCode.PermissionDenied, /does not match this bundle/);
  for (const change of [{ version: '9.9.10' }, { arch: 'arm64' }, { build: 'abd' }]) {
    refused(() => checkSignature({ ...signed, ...change }, pinned, PATH), ErrorCode.PermissionDenied, /does not match/);
  }
  // A file added or removed after signing.
  refused(
    () => checkSignature({ ...signed, files: [...signed.files, file('bpf/x.bpf.o', 'x')] }, pinned, PATH),
    ErrorCode.PermissionDenied,
    /does not match/,
  );
  refused(
    () => checkSignature({ ...signed, files: signed.files.slice(1) }, pinned, PATH),
    ErrorCode.PermissionDenied,
    /does not match/,
  );
  // The order of the files does not matter; their content does.
  assert.equal(checkSignature({ ...signed, files: [...signed.files].reverse() }, pinned, PATH), key.fingerprint);
});

test('an update-keys file must hold well-formed key lines', () => {
  refused(() => parsePinnedKeys('', PATH), ErrorCode.PermissionDenied, /pins no key/);
  refused(() => parsePinnedKeys('# only a comment\n', PATH), ErrorCode.PermissionDenied, /pins no key/);
  refused(() => parsePinnedKeys('ssh-ed25519 AAAA x\n', PATH), ErrorCode.PermissionDenied, /line 1 of .* is not/);
  refused(() => parsePinnedKeys(`${UPDATE_KEY_TYPE} short\n`, PATH), ErrorCode.PermissionDenied, /line 1/);
});

test('manifest.json that is not an object with version, arch and build is a BadRequest naming it', () => {
  const cases: [string, RegExp][] = [
    ['null', /manifest\.json must be a JSON object .*not null/],
    ['[1]', /not an array/],
    ['5', /not a number/],
    ['"9.9.9"', /not a string/],
    ['{', /manifest\.json is not JSON/],
    ['{}', /no string "version" \(found nothing\)/],
    [JSON.stringify({ version: 9 }), /no string "version" \(found a number\)/],
    [JSON.stringify({ version: '9.9.9' }), /no string "arch"/],
    [
      JSON.stringify({ version: '1.0.0', arch: process.arch, build: 'abc' }),
      /says version 1\.0\.0, the request 9\.9\.9/,
    ],
    [JSON.stringify({ version: '9.9.9', arch: 'sparc', build: 'abc' }), /says arch sparc/],
    [JSON.stringify({ version: '9.9.9', arch: process.arch, build: {} }), /"build" is an object/],
    [JSON.stringify({ version: '9.9.9', arch: process.arch }), /says build ''/],
  ];
  for (const [manifest, message] of cases) {
    refused(() => checkBundle(bundle(manifest)), ErrorCode.BadRequest, message);
  }
  assert.equal(checkBundle(bundle()).size, 4);
});

test('bundle content: names, sha256, architecture and required files', () => {
  const b = bundle();
  refused(() => checkBundle({ ...b, arch: 'sparc' }), ErrorCode.BadRequest, /built for sparc/);
  refused(
    () => checkBundle({ ...b, files: [...b.files, file('../../etc/cron.d/x', 'x')] }),
    ErrorCode.BadRequest,
    /unexpected file/,
  );
  refused(() => checkBundle({ ...b, files: [...b.files, file('agent.js', 'x')] }), ErrorCode.BadRequest, /twice/);
  refused(
    () =>
      checkBundle({
        ...b,
        files: b.files.map((f) => (f.path === 'agent.js' ? { ...f, sha256: sha(Buffer.from('y')) } : f)),
      }),
    ErrorCode.BadRequest,
    /agent\.js does not match its sha256/,
  );
  refused(
    () => checkBundle({ ...b, files: b.files.filter((f) => f.path !== 'dfs_bpf.node') }),
    ErrorCode.BadRequest,
    /lacks dfs_bpf\.node/,
  );
});
