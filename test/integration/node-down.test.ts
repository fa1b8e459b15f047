// `node down` in the situations that used to defeat it (issue 6 item 8: down gave up with
// "processes … survive SIGKILL" and then left the namespace, user, sudo rule and cgroup behind):
//  - I/O running on the node's mount, from the host (this process) and from an SSH session
//    inside the node, with a pinned bypass in place, repeated: every round leaves nothing behind
//    (netns, veth, mount, mountpoint, users, sudo rule, cgroup, pins, server state, processes);
//  - the metadata engine frozen while clients wait on the mount: JuiceFS's supervisor then
//    sits in an uninterruptible FUSE wait holding the connection open (the deterministic form
//    of the failure), and down must still finish and leave nothing;
//  - something that truly cannot be removed: down removes every other part and names it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BYPASS_META_ROOT, BYPASS_PIN_ROOT, BypassAttachRequest, bypassPinName } from '../../protocol/src';
import { DfsError } from '../../core/src/errors';
import { nodeDown, type LocalNode } from '../../core/src/testnode';
import { openSession, upNode } from '../support/node';
import { allPids, procText } from '../support/procfs';

const NAME = 'dfsnodown';
const ROUNDS = 3;

after(async () => {
  await nodeDown({ name: NAME });
});

/**
 * Writes and reads back small files under `dir` (on the mount) until stopped or the mount goes
 * away. Never recreates a directory with `recursive`, so once the mount is gone it cannot
 * leave files on the root file system under the mountpoint. Errors end the loop quietly: the
 * mount disappearing under it is the point of the test.
 */
function hostIo(mountpoint: string): { stop: () => Promise<number> } {
  let stopped = false;
  let ops = 0;
  const dev = statSync(mountpoint).dev;
  const worker = async (w: number): Promise<void> => {
    for (let r = 0; !stopped; r++) {
      try {
        if (statSync(mountpoint).dev !== dev) return; // unmounted: the mountpoint is a plain directory now
        const d = join(mountpoint, `host-w${w}-r${r}`);
        await mkdir(d);
        for (let i = 0; i < 16 && !stopped; i++) {
          const data = randomBytes(1 + ((i * 7919 + w * 104729) % (256 * 1024)));
          await writeFile(join(d, `f${i}`), data);
          const back = await readFile(join(d, `f${i}`));
          if (!back.equals(data)) throw new Error(`corrupt ${d}/f${i} while the node was up`);
          ops++;
        }
      } catch (e) {
        if (e instanceof Error && e.message.startsWith('corrupt')) throw e;
        return;
      }
    }
  };
  const all = Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
  return {
    stop: async () => {
      stopped = true;
      await all;
      return ops;
    },
  };
}

/** An SSH session in the node writing big files on the mount in a loop (a node-cgroup process in FUSE I/O). */
function sshIo(node: LocalNode): { done: Promise<number | null> } {
  const child = spawn(
    'ssh',
    [
      '-F',
      '/dev/null',
      '-i',
      node.identityFile,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      `UserKnownHostsFile=${node.knownHostsFile}`,
      '-o',
      'BatchMode=yes',
      '-p',
      String(node.port),
      `${node.user}@${node.host}`,
      // Bounded: at most 200 files of 8 MiB, each closed (FLUSH) and fsynced.
      `i=0; while [ $i -lt 200 ]; do dd if=/dev/urandom of=${node.mountpoint}/ssh/f$i bs=1M count=8 conv=fsync 2>/dev/null || exit 3; i=$((i+1)); done`,
    ],
    { stdio: 'ignore' },
  );
  return { done: new Promise((r) => child.on('close', (code) => r(code))) };
}

function leftovers(node: LocalNode, pinName: string): string[] {
  const left: string[] = [];
  const has = (file: string, user: string): boolean =>
    readFileSync(file, 'utf8')
      .split('\n')
      .some((l) => l.startsWith(`${user}:`));
  if (existsSync(`/run/netns/${NAME}`)) left.push('netns');
  if (spawnSync('ip', ['link', 'show', `vh-${NAME}`]).status === 0) left.push('host veth');
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${node.mountpoint} `)) left.push('mount');
  if (existsSync(node.mountpoint)) left.push('mountpoint directory');
  for (const f of ['/etc/passwd', '/etc/group'])
    for (const u of [node.user, `${node.user}-redis`]) if (has(f, u)) left.push(`${u} in ${f}`);
  if (readdirSync('/etc/sudoers.d').some((f) => f.includes(NAME))) left.push('sudoers');
  if (existsSync(node.cgroup)) left.push('cgroup');
  if (existsSync(join(BYPASS_PIN_ROOT, pinName))) left.push('bypass pins');
  if (existsSync(join(BYPASS_META_ROOT, `${pinName}.json`))) left.push('bypass pin record');
  if (existsSync(`/var/lib/dfs-ebpf/nodes/${NAME}`)) left.push('server state');
  for (const pid of allPids()) {
    if (procText(pid, 'cgroup').includes(`/dfs-ebpf/${NAME}\n`)) left.push(`process ${pid}`);
  }
  return left;
}

test(`node down under I/O leaves nothing, ${ROUNDS} rounds`, { timeout: ROUNDS * 300_000 }, async (t) => {
  for (let round = 1; round <= ROUNDS; round++) {
    const node = await upNode(NAME);
    const pinName = bypassPinName(statSync(node.cgroup).ino);
    // A pinned bypass, as the CLI leaves one: down must remove it.
    const session = await openSession(NAME);
    try {
      const st = await session.request(BypassAttachRequest, { pin: true });
      assert.equal(st.owner, 'pinned');
    } finally {
      session.close();
    }
    await mkdir(join(node.mountpoint, 'ssh'), { mode: 0o777 });
    spawnSync('chown', [node.user, join(node.mountpoint, 'ssh')]);
    const inNode = sshIo(node);
    const onHost = hostIo(node.mountpoint);
    await new Promise((r) => setTimeout(r, 4000));
    const t0 = Date.now();
    await nodeDown({ name: NAME });
    const downMs = Date.now() - t0;
    const ops = await onHost.stop();
    const sshExit = await inNode.done;
    t.diagnostic(`round ${round}: down took ${downMs} ms; host I/O ops ${ops}; ssh I/O exit ${sshExit}`);
    assert.ok(ops > 0, 'host I/O was running');
    assert.deepEqual(leftovers(node, pinName), [], `round ${round} left these behind`);
  }
});

test(
  'node down with the metadata engine frozen under waiting clients leaves nothing',
  { timeout: 300_000 },
  async (t) => {
    const node = await upNode(NAME);
    const pinName = bypassPinName(statSync(node.cgroup).ino);
    await mkdir(join(node.mountpoint, 'frozen'));
    const redisPid = Number(readFileSync(`/var/lib/dfs-ebpf/nodes/${NAME}/redis-meta/redis.pid`, 'utf8').trim());
    process.kill(redisPid, 'SIGSTOP');
    // Clients now wait on requests JuiceFS has taken but cannot answer: one on the host, one in the node.
    const hostClient = spawn('sh', ['-c', `for i in 1 2 3 4 5; do touch ${node.mountpoint}/frozen/h$i; done`], {
      stdio: 'ignore',
    });
    const hostDone = new Promise((r) => hostClient.on('close', r));
    const inNode = sshIo(node);
    // Long enough for JuiceFS's watchdog (every 5 s) to block on the mount as well.
    await new Promise((r) => setTimeout(r, 7000));
    const t0 = Date.now();
    await nodeDown({ name: NAME });
    t.diagnostic(`down with a frozen metadata engine took ${Date.now() - t0} ms`);
    await hostDone;
    await inNode.done;
    assert.deepEqual(leftovers(node, pinName), []);
  },
);

test('what cannot be removed is named, and everything else is removed', { timeout: 300_000 }, async () => {
  const node = await upNode(NAME);
  const pinName = bypassPinName(statSync(node.cgroup).ino);
  // Stands in for anything down must not destroy: a mount inside the node's server state.
  const blocker = `/var/lib/dfs-ebpf/nodes/${NAME}/logs`;
  assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'dfsnodown-blocker', blocker]).status, 0);
  try {
    await assert.rejects(nodeDown({ name: NAME }), (e: unknown) => {
      assert.ok(e instanceof DfsError);
      assert.match(e.message, /only partly down; left behind: server state \/var\/lib\/dfs-ebpf\/nodes\/dfsnodown/);
      assert.match(e.message, /still mounted inside: \/var\/lib\/dfs-ebpf\/nodes\/dfsnodown\/logs/);
      return true;
    });
    assert.deepEqual(leftovers(node, pinName), ['server state'], 'only the blocked part is left');
    assert.ok(existsSync(join(blocker, '..', 'state.json')), 'nothing was deleted inside it');
  } finally {
    spawnSync('umount', [blocker]);
  }
  await nodeDown({ name: NAME });
  assert.deepEqual(leftovers(node, pinName), []);
});
