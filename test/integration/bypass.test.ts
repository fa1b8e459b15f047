// The bypass end to end on a real local test node (real kernel, JuiceFS, Redis, sshd), through
// the real path: SSH with host-key checking, `sudo -n agent --stdio`, JSON-RPC. Proves that
// data of every size crosses the bypass byte-identical while its counters grow, that traffic
// keeps flowing after detach, that a second connection cannot take a held bypass, and that the
// CLI's pinned bypass outlives the CLI until `detach bypass`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BypassAttachRequest, BypassDetachRequest, BypassStatusRequest, ErrorCode } from '../../protocol/src';
import { compileBpf } from '../../core/src/build/clang';
import { DfsError } from '../../core/src/errors';
import { nodeDown, type LocalNode } from '../../core/src/testnode';
import { bpfLinks, bpfPrograms, waitFor } from '../support/kernel';
import { clean, corruptFiles, dropCaches, openSession, upNode, writeRandomFiles } from '../support/node';
import { repoRoot } from '../support/repo';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const NAME = 'dfsitbp';
const MiB = 1 << 20;
let node: LocalNode;

before(async () => {
  node = await upNode(NAME);
});
after(async () => {
  await nodeDown({ name: NAME });
});

function programIdsLive(ids: number[]): boolean {
  const live = new Set(bpfPrograms().map((p) => p.id));
  return ids.some((id) => live.has(id));
}

test(
  'user-built bypass: 1 B to 64 MiB and 3000 small files cross it byte-identical while its counters grow',
  { timeout: 600_000 },
  async () => {
    const build = await compileBpf(join(repoRoot(), 'bpf/bypass.bpf.c'), join(tmpdir(), `dfs-it-${process.pid}`));
    assert.ok(build.ok, build.stderr);
    const session = await openSession(NAME);
    const dir = join(node.mountpoint, 'it-bypass');
    try {
      const st = await session.request(BypassAttachRequest, {
        object: readFileSync(build.object).toString('base64'),
        objectName: 'bypass.bpf.o',
      });
      assert.equal(st.attached, true);
      assert.equal(st.owner, 'this-connection');
      assert.equal(st.cgroup, node.cgroup);
      assert.deepEqual(st.endpoints.map((e) => `${e.host}:${e.port}/${e.source}`).sort(), [
        '127.0.0.1:6379/meta',
        '127.0.0.1:6380/object',
      ]);
      const ids = st.programs.map((p) => p.id);
      assert.ok(programIdsLive(ids), 'the kernel lists our programs');
      const before = st.counters;

      const big = await writeRandomFiles(
        join(dir, 'big'),
        [1, 4095, 4096, 4097, 65536 + 1, MiB + 3, 4 * MiB, 16 * MiB, 64 * MiB],
        2,
      );
      const burst = await writeRandomFiles(
        join(dir, 'burst'),
        Array.from({ length: 3000 }, (_, i) => 1 + ((i * 37) % 8192)),
        32,
      );
      await dropCaches();
      assert.deepEqual(await corruptFiles([...big, ...burst]), [], 'every file reads back identical');

      const mid = (await session.request(BypassStatusRequest, {})).counters;
      assert.equal(mid.errors, 0);
      assert.ok(
        mid.redirected_msgs > before.redirected_msgs + 1000,
        `redirected msgs grew: ${before.redirected_msgs} → ${mid.redirected_msgs}`,
      );
      // With no local block cache, the 64 MiB file went up and came back over the object-store connection.
      assert.ok(mid.redirected_bytes >= 2 * 64 * MiB, `redirected bytes: ${mid.redirected_bytes}`);
      assert.ok(mid.sockets_added + (await session.request(BypassStatusRequest, {})).adoptedSockets > 0);

      const detached = await session.request(BypassDetachRequest, {});
      assert.equal(detached.attached, false);
      assert.ok(detached.counters.redirected_msgs >= mid.redirected_msgs, 'detach reports the final counters');
      await waitFor(() => !programIdsLive(ids), 2000, 'programs released after detach');

      const afterDetach = await writeRandomFiles(
        join(dir, 'after'),
        [...Array.from({ length: 200 }, (_, i) => i + 1), 8 * MiB],
        16,
      );
      await dropCaches();
      assert.deepEqual(await corruptFiles([...afterDetach, ...big]), [], 'traffic still flows after detach');
    } finally {
      session.close();
      await clean(dir);
    }
  },
);

test('a second connection sees the held bypass with live counters but cannot take or remove it', async () => {
  const owner = await openSession(NAME);
  const other = await openSession(NAME);
  try {
    const st = await owner.request(BypassAttachRequest, {});
    const seen = await other.request(BypassStatusRequest, {});
    assert.equal(seen.attached, true);
    assert.equal(seen.owner, 'other-connection');
    assert.equal(seen.programs[0]?.id, st.programs.find((p) => p.type === 'sock_ops')?.id);
    for (const req of [() => other.request(BypassAttachRequest, {}), () => other.request(BypassDetachRequest, {})]) {
      await assert.rejects(req, (e: unknown) => e instanceof DfsError && e.code === ErrorCode.Conflict);
    }
    assert.equal((await owner.request(BypassDetachRequest, {})).attached, false);
    assert.equal((await other.request(BypassStatusRequest, {})).attached, false);
  } finally {
    owner.close();
    other.close();
  }
});

test('the CLI pins the bypass: it outlives the CLI process until `detach bypass`', { timeout: 120_000 }, async () => {
  const cli = (...args: string[]) =>
    promisify(execFile)(process.execPath, [
      join(repoRoot(), 'dist/cli/main.js'),
      ...args,
      '--node',
      `local:${NAME}`,
      '--json',
    ]);
  const attached = JSON.parse((await cli('attach', 'bypass')).stdout) as {
    bypass: { attached: boolean; owner: string; programs: { id: number }[] };
  };
  assert.equal(attached.bypass.attached, true);
  assert.equal(attached.bypass.owner, 'pinned');
  const ids = attached.bypass.programs.map((p) => p.id);
  assert.ok(programIdsLive(ids), 'still attached after the CLI exited');
  assert.ok(
    bpfLinks().some((l) => ids.includes(l.prog_id)),
    'as bpf links',
  );

  const dir = join(node.mountpoint, 'it-pinned');
  const files = await writeRandomFiles(
    dir,
    Array.from({ length: 100 }, (_, i) => 100 + i * 50),
  );
  await dropCaches();
  assert.deepEqual(await corruptFiles(files), []);
  const status = JSON.parse((await cli('status')).stdout) as {
    bypass: { attached: boolean; owner: string; redirected_msgs: number };
  };
  assert.equal(status.bypass.attached, true);
  assert.equal(status.bypass.owner, 'pinned');
  assert.ok(status.bypass.redirected_msgs > 0, 'a pinned bypass still counts');

  const detached = JSON.parse((await cli('detach', 'bypass')).stdout) as {
    bypass: { attached: boolean; redirected_msgs: number };
  };
  assert.equal(detached.bypass.attached, false);
  assert.ok(detached.bypass.redirected_msgs >= status.bypass.redirected_msgs);
  await waitFor(() => !programIdsLive(ids), 2000, 'pinned programs released by detach');
  const again = JSON.parse((await cli('status')).stdout) as { bypass: { attached: boolean } };
  assert.equal(again.bypass.attached, false);
  await clean(dir);
});
