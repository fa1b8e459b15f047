// The agent's wire validation (remote-agent/src/server.ts): bad fields become BadRequest
// errors that name the field; good params pass through unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../protocol/src';
import { AgentError } from '../../remote-agent/src/errors';
import { parseAgentUpdate, parseBypassAttach, parseInitialize } from '../../remote-agent/src/server';

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

test('agent/update needs a version, an arch and well-formed files', () => {
  const file = { path: 'agent.js', sha256: 'a'.repeat(64), data: 'QUJD' };
  assert.equal(parseAgentUpdate({ version: '1.0.0', arch: 'x64', files: [file] }).files.length, 1);
  rejects(() => parseAgentUpdate({ arch: 'x64', files: [file] }), /version and arch/);
  rejects(() => parseAgentUpdate({ version: '1', arch: 'x64', files: [] }), /files/);
  rejects(
    () => parseAgentUpdate({ version: '1', arch: 'x64', files: [{ ...file, sha256: 'xyz' }] }),
    /files\[0\]\.sha256/,
  );
  rejects(() => parseAgentUpdate({ version: '1', arch: 'x64', files: [{ ...file, data: '$$' }] }), /files\[0\]\.data/);
});
