// Node specs (core/src/ssh/target.ts): user@host:port, ~/.ssh/config aliases, defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../protocol/src';
import { DfsError } from '../../core/src/errors';
import { resolveTarget, targetAddress } from '../../core/src/ssh/target';

const sshConfig = `
Host jfs-lab
  HostName 10.9.8.7
  User tester
  Port 2202
  IdentityFile ~/.ssh/lab_key
  UserKnownHostsFile ~/.ssh/lab_known_hosts
Host *
  User fallback
`;
const env = { home: '/home/u', sshConfigText: () => sshConfig };

test('user@host:port is taken literally, known_hosts defaults to ~/.ssh/known_hosts', () => {
  const t = resolveTarget('alice@192.0.2.10:2222', {}, env);
  assert.equal(targetAddress(t), 'alice@192.0.2.10:2222');
  assert.equal(t.knownHostsFile, '/home/u/.ssh/known_hosts');
  assert.equal(t.agentCommand, '/usr/local/lib/dfs-ebpf/bin/dfs-ebpf-agent');
  assert.equal(t.localNode, undefined);
});

test('an ~/.ssh/config alias supplies host, user, port, key and known_hosts', () => {
  const t = resolveTarget('jfs-lab', {}, env);
  assert.equal(targetAddress(t), 'tester@10.9.8.7:2202');
  assert.equal(t.identityFile, '/home/u/.ssh/lab_key');
  assert.equal(t.knownHostsFile, '/home/u/.ssh/lab_known_hosts');
});

test('settings override the config; Host * supplies the user of a bare host', () => {
  const t = resolveTarget('node7', { knownHostsFile: '/k', agentCommand: '/opt/agent' }, env);
  assert.equal(t.user, 'fallback');
  assert.equal(t.port, 22);
  assert.equal(t.knownHostsFile, '/k');
  assert.equal(t.agentCommand, '/opt/agent');
});

test('a local node that is not up is a NodeNotUp error that says what to run', () => {
  assert.throws(
    () => resolveTarget('local:nosuchnode', {}, env),
    (err: unknown) =>
      err instanceof DfsError &&
      err.code === ErrorCode.NodeNotUp &&
      /dfs-ebpf node up --name nosuchnode/.test(err.message),
  );
});

test('garbage is a BadRequest', () => {
  assert.throws(
    () => resolveTarget('a b c', {}, env),
    (err: unknown) => err instanceof DfsError && err.code === ErrorCode.BadRequest,
  );
});
