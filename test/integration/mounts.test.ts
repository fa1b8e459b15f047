// Several JuiceFS mounts on one node (issue 6, item 13), through the real CLI: the node's own
// mount plus a second mount of the same volume whose metadata engine is reached over Redis's
// Unix socket (the bench's limit mount, core/src/testnode/benchAccess.ts). Without --mount the
// agent refuses to guess and says how to choose; --mount picks the mount (a trailing slash
// still names it), the policy follows that mount's own endpoints, and an unknown mount is
// JuiceFsNotFound with the list of mounts found.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeDown, type LocalNode } from '../../core/src/testnode';
import { mountUnixMeta, type UnixMetaMount } from '../../core/src/testnode/benchAccess';
import { upNode } from '../support/node';
import { runCli, type CliResult } from '../support/cli';

const NAME = 'dfsitmt';
let node: LocalNode;
let second: UnixMetaMount;

before(async () => {
  node = await upNode(NAME);
  second = await mountUnixMeta({ name: NAME });
});
after(async () => {
  await second?.close();
  await nodeDown({ name: NAME });
});

const cli = (...args: string[]): Promise<CliResult> => runCli([...args, '--node', NAME, '--json']);

interface BypassDoc {
  attached: boolean;
  owner: string;
  mountpoint: string | null;
  endpoints: { host: string; port: number; source: string }[];
}

test('the agent reports both mounts', async () => {
  const r = await cli('status');
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { juicefs: { mountpoint: string }[] };
  assert.deepEqual(doc.juicefs.map((m) => m.mountpoint).sort(), [node.mountpoint, second.mountpoint].sort());
});

test('attach without --mount is refused and says how to choose; nothing is attached', async () => {
  const r = await cli('attach', 'bypass');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /several JuiceFS mounts on this node/);
  assert.match(r.stderr, /--mount PATH/);
  assert.ok(r.stderr.includes(node.mountpoint) && r.stderr.includes(second.mountpoint), r.stderr);
  const status = JSON.parse((await cli('status')).stdout) as { bypass: BypassDoc };
  assert.equal(status.bypass.attached, false);
});

test('attach --mount with a trailing slash attaches for that mount, with its own endpoints', async () => {
  const r = await cli('attach', 'bypass', '--mount', `${second.mountpoint}/`);
  assert.equal(r.code, 0, r.stderr);
  const { bypass } = JSON.parse(r.stdout) as { bypass: BypassDoc };
  try {
    assert.equal(bypass.attached, true);
    assert.equal(bypass.mountpoint, second.mountpoint);
    // The second mount reaches its metadata engine over a Unix socket: only the object store is TCP.
    assert.deepEqual(
      bypass.endpoints.map((e) => e.source),
      ['object'],
      JSON.stringify(bypass.endpoints),
    );
    const status = JSON.parse((await cli('status')).stdout) as { bypass: BypassDoc };
    assert.equal(status.bypass.mountpoint, second.mountpoint);
  } finally {
    const d = await cli('detach', 'bypass');
    assert.equal(d.code, 0, d.stderr);
  }
  const after = JSON.parse((await cli('status')).stdout) as { bypass: BypassDoc };
  assert.equal(after.bypass.attached, false);
});

test('attach --mount on the node mount bypasses its metadata engine and object store', async () => {
  const r = await cli('attach', 'bypass', '--mount', node.mountpoint);
  assert.equal(r.code, 0, r.stderr);
  const { bypass } = JSON.parse(r.stdout) as { bypass: BypassDoc };
  try {
    assert.equal(bypass.mountpoint, node.mountpoint);
    assert.deepEqual(bypass.endpoints.map((e) => e.source).sort(), ['meta', 'object']);
  } finally {
    assert.equal((await cli('detach', 'bypass')).code, 0);
  }
});

test('attach --mount of a path that is not a JuiceFS mount is JuiceFsNotFound, listing the mounts', async () => {
  const r = await cli('attach', 'bypass', '--mount', '/mnt/no-such-jfs');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no JuiceFS mount at \/mnt\/no-such-jfs/);
  assert.match(r.stderr, /\[JuiceFsNotFound\]/);
  assert.ok(r.stderr.includes(second.mountpoint), r.stderr);
});
