// The bypass end to end on a real local test node (real kernel, JuiceFS, Redis, sshd), through
// the real path: SSH with host-key checking, `sudo -n agent --stdio`, JSON-RPC. Proves that
// data of every size crosses the bypass byte-identical while its counters grow, that traffic
// keeps flowing after detach, that a second connection cannot take a held bypass, that the
// CLI's pinned bypass outlives the CLI until `detach bypass`, that a half-made pin set left by
// an agent that died while pinning is released by attach, detach and status alike, and that
// concurrent attaches from separate agents never give a cgroup two bypasses.
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
import { readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { BYPASS_META_ROOT, BYPASS_OBJECT, BYPASS_PIN_ROOT, bypassPinName, type BypassStatus } from '../../protocol/src';
import type { NodeSession } from '../../core/src/agent/session';
import { dumpEntries, listMaps, openCodecs, socketCookie, socketsOf } from '../../core/src/inspect/onNode';
import { footprintOf, openLoggedSession, sockopsOnCgroup, stillLoaded } from '../support/bypassState';

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

/**
 * The map inspector's view of the bypass's sockhash, read through the agent: every entry's
 * value is a socket cookie (8-byte values), and sock_diag finds behind each cookie the very
 * socket its key names, both endpoints, on the node's loopback towards Redis or the object store.
 */
async function socketsMatchTheirKeys(session: NodeSession): Promise<void> {
  const map = (await listMaps(session)).find((m) => m.name === BYPASS_OBJECT.sockhashMap && m.ours);
  assert.ok(map, 'the bypass sockhash is listed as ours');
  const entries = await dumpEntries(session, await openCodecs(session, map.id));
  assert.ok(entries.length >= 2, `the sockhash holds the daemon's connections (${entries.length})`);
  const sockets = await socketsOf(session, entries);
  for (const e of entries) {
    assert.ok(typeof e.key === 'string', 'socket maps carry no BTF: keys come as hex');
    const key = Buffer.from(e.key.slice(2), 'hex');
    const ip = (at: number): string => [...key.subarray(at, at + 4)].join('.');
    const want = `${ip(0)}:${key.readUInt16BE(10)} → ${ip(4)}:${key.readUInt16BE(14)}`;
    const cookie = socketCookie(e.value);
    assert.ok(cookie, `entry ${want} holds a cookie: ${JSON.stringify(e.value)}`);
    const s = sockets.get(cookie);
    assert.ok(s, `cookie ${cookie} (${want}) is a live socket in the node's namespace`);
    assert.equal(`${s.src}:${s.sport} → ${s.dst}:${s.dport}`, want, 'the cookie is the socket its key names');
    assert.ok(
      [s.sport, s.dport].some((p) => p === 6379 || p === 6380),
      `${want} is a Redis or object-store connection`,
    );
  }
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
      await socketsMatchTheirKeys(session);

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

/** The pin directory and description of the node's bypass (protocol/src/bypass.ts). */
function pinPlaces(): { dir: string; meta: string } {
  const name = bypassPinName(statSync(node.cgroup).ino);
  return { dir: join(BYPASS_PIN_ROOT, name), meta: join(BYPASS_META_ROOT, `${name}.json`) };
}

/**
 * A pin set as an agent that died while pinning leaves it: a real pinned attach (with traffic,
 * so the sockhash holds sockets), then the pins it would not have written yet removed (pins are
 * written sockhash, sk_msg link, jump, sock_ops link, policy, stats, then the description).
 */
async function halfMadePins(remove: string[], removeDescription: boolean): Promise<BypassStatus> {
  const maker = await openSession(NAME);
  let st: BypassStatus;
  try {
    st = await maker.request(BypassAttachRequest, { pin: true });
  } finally {
    maker.close();
  }
  const files = await writeRandomFiles(join(node.mountpoint, 'it-halfmade'), [100, 5000, 70000]);
  assert.deepEqual(await corruptFiles(files), []);
  const { dir, meta } = pinPlaces();
  for (const f of remove) rmSync(join(dir, f), { force: true });
  if (removeDescription) rmSync(meta, { force: true });
  return st;
}

const halfMade: { what: string; remove: string[]; description: boolean; then: 'attach' | 'detach' | 'status' }[] = [
  {
    what: 'died before pinning sock_ops',
    remove: ['link_sock_ops', 'map_policy', 'stats'],
    description: false,
    then: 'attach',
  },
  { what: 'died before the stats pin', remove: ['stats'], description: false, then: 'detach' },
  { what: 'died before writing the description', remove: [], description: false, then: 'status' },
  {
    what: 'pins whose programs are gone',
    remove: ['link_sock_ops', 'link_sk_msg', 'map_jump', 'map_sockhash'],
    description: true,
    then: 'attach',
  },
];

for (const v of halfMade) {
  test(`a half-made pin set (${v.what}) is released by ${v.then}, which then works`, { timeout: 120_000 }, async () => {
    const dead = await halfMadePins(v.remove, !v.description);
    const footprint = footprintOf(dead);
    const { session, logs } = await openLoggedSession(NAME);
    try {
      if (v.then === 'attach') {
        const st = await session.request(BypassAttachRequest, { pin: true });
        assert.equal(st.attached, true);
        assert.equal(st.owner, 'pinned');
        assert.deepEqual(sockopsOnCgroup(node.cgroup), ['bypass_sockops'], 'exactly our new sock_ops on the cgroup');
        assert.equal((await session.request(BypassDetachRequest, {})).attached, false);
      } else if (v.then === 'detach') {
        assert.equal((await session.request(BypassDetachRequest, {})).attached, false);
      } else {
        assert.equal((await session.request(BypassStatusRequest, {})).attached, false);
      }
      assert.ok(
        logs.some((e) => /released a half-made pinned bypass at .*bypass-\d+ \(/.test(e.msg)),
        `a log line says what was released: ${JSON.stringify(logs.map((e) => e.msg))}`,
      );
      await waitFor(
        () => stillLoaded(footprint).length === 0,
        2000,
        `the dead pin set's programs and maps to go (left: ${stillLoaded(footprint).join(', ')})`,
      );
      const { dir, meta } = pinPlaces();
      assert.ok(!existsSyncSafe(dir) && !existsSyncSafe(meta), 'no pin directory or description is left');
      assert.equal((await session.request(BypassStatusRequest, {})).attached, false);
      const again = await session.request(BypassAttachRequest, {});
      assert.equal(again.attached, true, 'attach works afterwards');
      await session.request(BypassDetachRequest, {});
    } finally {
      session.close();
      removePinsByHand(); // so that a failure here does not spoil the next test
      await clean(join(node.mountpoint, 'it-halfmade'));
    }
  });
}

/** What `node down` does: remove the node's pins and description, without the agent. */
function removePinsByHand(): void {
  const { dir, meta } = pinPlaces();
  rmSync(dir, { recursive: true, force: true });
  rmSync(meta, { force: true });
}

function existsSyncSafe(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

test(
  'concurrent attaches from three agents, 16 rounds (held and pinned): exactly one wins, the others get Conflict',
  { timeout: 300_000 },
  async (t) => {
    removePinsByHand();
    const sessions = await Promise.all([0, 1, 2].map(() => openSession(NAME)));
    const failures: string[] = [];
    try {
      for (let round = 0; round < 16; round++) {
        const pin = round % 2 === 1;
        const results = await Promise.allSettled(sessions.map((s) => s.request(BypassAttachRequest, { pin })));
        const attached = sockopsOnCgroup(node.cgroup);
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
        // Clean up before judging, so that one bad round does not spoil the next.
        for (const i of won) await sessions[i]?.request(BypassDetachRequest, {}).catch(() => undefined);
        for (const s of sessions) await s.request(BypassDetachRequest, {}).catch(() => undefined);
        const conflicts = lost.filter((e) => e instanceof DfsError && e.code === ErrorCode.Conflict).length;
        if (won.length !== 1 || conflicts !== sessions.length - 1 || attached.length !== 1) {
          failures.push(
            `round ${round} (${pin ? 'pinned' : 'held'}): ${won.length} won, ${conflicts} Conflict, sock_ops on the cgroup: [${attached.join(', ')}], errors: ${lost.map((e) => (e as Error).message).join(' | ')}`,
          );
        }
        assert.deepEqual(sockopsOnCgroup(node.cgroup), [], `round ${round}: nothing left attached after cleanup`);
      }
    } finally {
      for (const s of sessions) s.close();
    }
    t.diagnostic(`${16 - failures.length} of 16 rounds had exactly one winner`);
    assert.deepEqual(failures, []);
  },
);
