// What `dfs-ebpf bench` adds to a real local test node, and that it goes away again
// (core/src/testnode/benchAccess.ts): the second mount of the node's volume with its metadata
// engine over the Unix socket (same volume, inside the node's cgroup and netns, unmounted by
// close() and by `node down` when a bench died), and redis-benchmark's own Redis user (only
// SET/GET on key:*, deleted by close()).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { nodeDown, type LocalNode } from '../../core/src/testnode';
import { mountUnixMeta, openBenchRedisAccess } from '../../core/src/testnode/benchAccess';
import { upNode } from '../support/node';

const NAME = 'dfsnobench';
const UNIX_MP = `/mnt/dfs-ebpf/${NAME}-unix`;
let node: LocalNode;

before(async () => {
  node = await upNode(NAME);
});
after(async () => {
  await nodeDown({ name: NAME });
});

const mounted = (mp: string): boolean => readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${mp} `);
/** juicefs processes (in any cgroup) whose argv names the mountpoint. */
function daemonsFor(mp: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(mp);
      } catch {
        return false; // exited while we looked
      }
    })
    .map(Number);
}

function redisAs(args: string[], env: Record<string, string>, socket?: string): string {
  const where = socket ? ['-s', socket] : ['-p', '6379'];
  const r = spawnSync('nsenter', [`--net=/run/netns/${NAME}`, 'redis-cli', ...where, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return (r.stdout + r.stderr).trim();
}

test('the Unix-socket mount serves the same volume from the node, and close() leaves nothing', async () => {
  const m = await mountUnixMeta({ name: NAME });
  try {
    assert.equal(m.mountpoint, UNIX_MP);
    assert.match(m.metaUrl, new RegExp(`^unix:///var/lib/dfs-ebpf/nodes/${NAME}/redis-meta/redis\\.sock\\?db=1$`));
    writeFileSync(join(node.mountpoint, 'via-tcp'), 'same volume\n');
    assert.equal(readFileSync(join(m.mountpoint, 'via-tcp'), 'utf8'), 'same volume\n');
    const cfg = JSON.parse(readFileSync(join(m.mountpoint, '.config'), 'utf8')) as { Pid: number };
    assert.match(readFileSync(`/proc/${cfg.Pid}/cgroup`, 'utf8'), new RegExp(`/dfs-ebpf/${NAME}\\n`));
    assert.equal(statSync(`/proc/${cfg.Pid}/ns/net`).ino, statSync(`/run/netns/${NAME}`).ino);
    assert.ok(readFileSync(`/proc/${cfg.Pid}/cmdline`, 'utf8').includes('unix:///'), 'metadata over the socket');
  } finally {
    await m.close();
  }
  assert.ok(!mounted(UNIX_MP), 'unmounted');
  assert.ok(!existsSync(UNIX_MP), 'mountpoint removed');
  assert.deepEqual(daemonsFor(UNIX_MP), [], 'its daemons are gone');
  assert.ok(mounted(node.mountpoint), "the node's own mount is untouched");
});

test('a second mount left by a bench that died is taken away by the next one and by node down', async () => {
  await mountUnixMeta({ name: NAME }); // never closed, as if the bench was SIGKILLed
  const again = await mountUnixMeta({ name: NAME }); // replaces it
  assert.ok(mounted(UNIX_MP));
  assert.equal(
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(` ${UNIX_MP} `)).length,
    1,
    'one mount, not two stacked',
  );
  void again; // left open on purpose: node down must remove it
  await nodeDown({ name: NAME });
  assert.ok(!mounted(UNIX_MP));
  assert.ok(!existsSync(UNIX_MP));
  assert.deepEqual(daemonsFor(UNIX_MP), []);
  node = await upNode(NAME);
});

test("redis-benchmark's user may SET and GET key:* only, and close() deletes it", async () => {
  const access = await openBenchRedisAccess({ name: NAME });
  const auth = { REDISCLI_AUTH: access.password };
  try {
    assert.equal(redisAs(['--user', access.user, 'set', 'key:x', '1'], auth), 'OK');
    assert.equal(redisAs(['--user', access.user, 'get', 'key:x'], auth, access.socket), '1');
    assert.match(redisAs(['--user', access.user, 'get', 'setting'], auth), /NOPERM/);
    assert.match(redisAs(['--user', access.user, 'config', 'get', 'requirepass'], auth), /NOPERM/);
    assert.match(redisAs(['--user', access.user, 'keys', '*'], auth), /NOPERM/);
  } finally {
    await access.close();
  }
  assert.match(redisAs(['--user', access.user, 'get', 'key:x'], auth), /WRONGPASS|invalid username-password/);
});
