// The agent's wire validation (remote-agent/src/server.ts): bad fields become BadRequest
// errors that name the field; good params pass through unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../protocol/src';
import { AgentError } from '../../remote-agent/src/errors';
import {
  parseAgentUpdate,
  parseBypassAttach,
  parseInitialize,
  parseProfileStart,
  parseProfileStop,
} from '../../remote-agent/src/params';
import { PROFILE_LIMITS } from '../../protocol/src';

function rejects(fn: () => unknown, field: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof AgentError);
    assert.equal(err.code, ErrorCode.BadRequest);
    assert.match(err.message, field);
    return true;
  });
}

test('initialize needs a client name and an integer protocol version', () => {
  assert.deepEqual(parseInitialize({ client: 'cli', protocolVersion: 1 }), { client: 'cli', protocolVersion: 1 });
  rejects(() => parseInitialize({ protocolVersion: 1 }), /client/);
  rejects(() => parseInitialize({ client: 'x', protocolVersion: '1' }), /protocolVersion/);
  rejects(() => parseInitialize([1, 2]), /object/);
});

test('bypass/attach accepts the documented fields', () => {
  const p = parseBypassAttach({
    object: Buffer.from('ELF').toString('base64'),
    objectName: 'b.bpf.o',
    mountpoint: '/mnt/x',
    extraEndpoints: [{ host: '10.0.0.1', port: 9000 }],
    pin: true,
  });
  assert.equal(p.pin, true);
  assert.deepEqual(p.extraEndpoints, [{ host: '10.0.0.1', port: 9000 }]);
  assert.deepEqual(parseBypassAttach(undefined), {});
});

test('bypass/attach rejects bad fields by name', () => {
  rejects(() => parseBypassAttach({ extraEndpoints: 'x' }), /extraEndpoints/);
  rejects(() => parseBypassAttach({ extraEndpoints: [{ host: 'example.com', port: 1 }] }), /extraEndpoints\[0\]\.host/);
  rejects(() => parseBypassAttach({ extraEndpoints: [{ host: '1.2.3.4', port: 70000 }] }), /port/);
  rejects(() => parseBypassAttach({ mountpoint: 'relative/path' }), /mountpoint/);
  rejects(() => parseBypassAttach({ object: 'not base64!' }), /base64/);
  rejects(() => parseBypassAttach({ pin: 'yes' }), /pin/);
  rejects(() => parseBypassAttach({ command: 'rm -rf /' }), /unknown field command/);
  rejects(() => parseBypassAttach({ objectName: '' }), /objectName/);
});

test('agent/update needs a version, an arch, a build and well-formed files', () => {
  const file = { path: 'agent.js', sha256: 'a'.repeat(64), data: 'QUJD' };
  const base = { version: '1', arch: 'x64', build: 'b' };
  assert.equal(parseAgentUpdate({ ...base, version: '1.0.0', files: [file] }).files.length, 1);
  rejects(() => parseAgentUpdate({ arch: 'x64', build: '', files: [file] }), /version and arch/);
  rejects(() => parseAgentUpdate({ version: '1', arch: 'x64', files: [file] }), /build/);
  rejects(() => parseAgentUpdate({ ...base, files: [] }), /files/);
  rejects(() => parseAgentUpdate({ ...base, files: [{ ...file, sha256: 'xyz' }] }), /files\[0\]\.sha256/);
  rejects(() => parseAgentUpdate({ ...base, files: [{ ...file, data: '$$' }] }), /files\[0\]\.data/);
  rejects(() => parseAgentUpdate({ ...base, files: [null] }), /files\[0\] must be an object/);
  rejects(() => parseAgentUpdate({ ...base, files: [[file]] }), /files\[0\] must be an object/);
  rejects(() => parseAgentUpdate({ ...base, files: [{ ...file, mode: 0o4755 }] }), /unknown field mode/);
});

test('agent/update signatures are shaped like Ed25519, or absent', () => {
  const p = { version: '1', arch: 'x64', build: '', files: [{ path: 'agent.js', sha256: 'a'.repeat(64), data: '' }] };
  const publicKey = Buffer.alloc(32, 1).toString('base64');
  const value = Buffer.alloc(64, 2).toString('base64');
  assert.equal(parseAgentUpdate(p).signature, undefined);
  assert.deepEqual(parseAgentUpdate({ ...p, signature: { publicKey, value } }).signature, { publicKey, value });
  rejects(() => parseAgentUpdate({ ...p, signature: null }), /signature must be an object/);
  rejects(() => parseAgentUpdate({ ...p, signature: 'sig' }), /signature must be an object/);
  rejects(() => parseAgentUpdate({ ...p, signature: { publicKey, value, keyId: 1 } }), /unknown field keyId/);
  rejects(() => parseAgentUpdate({ ...p, signature: { publicKey: value, value } }), /signature\.publicKey/);
  rejects(() => parseAgentUpdate({ ...p, signature: { publicKey, value: publicKey } }), /signature\.value/);
  rejects(() => parseAgentUpdate({ ...p, signature: { publicKey: 'A'.repeat(43) + '!', value } }), /publicKey/);
});

test('profile/start takes its documented fields within PROFILE_LIMITS, profile/stop a profileId', () => {
  assert.deepEqual(parseProfileStart(undefined), {});
  const all = { mountpoint: '/mnt/x', stacks: false, slowRequestUs: 5000, updateIntervalMs: 500, maxDurationS: 30 };
  assert.deepEqual(parseProfileStart(all), all);
  const { slowRequestUs, updateIntervalMs, maxDurationS } = PROFILE_LIMITS;
  for (const [key, range] of Object.entries({ slowRequestUs, updateIntervalMs, maxDurationS })) {
    assert.deepEqual(parseProfileStart({ [key]: range.max }), { [key]: range.max });
    rejects(() => parseProfileStart({ [key]: range.min - 1 }), new RegExp(key));
    rejects(() => parseProfileStart({ [key]: range.max + 1 }), new RegExp(key));
    rejects(() => parseProfileStart({ [key]: 2.5 }), new RegExp(key));
    rejects(() => parseProfileStart({ [key]: '10' }), new RegExp(key));
  }
  rejects(() => parseProfileStart({ stacks: 1 }), /stacks/);
  rejects(() => parseProfileStart({ mountpoint: 'mnt' }), /mountpoint/);
  rejects(() => parseProfileStart({ duration: 5 }), /unknown field duration/);
  assert.deepEqual(parseProfileStop({ profileId: 'abc' }), { profileId: 'abc' });
  rejects(() => parseProfileStop({}), /profileId/);
  rejects(() => parseProfileStop({ profileId: 'x'.repeat(65) }), /profileId/);
  rejects(() => parseProfileStop({ profileId: 'a', extra: 1 }), /unknown field extra/);
});
