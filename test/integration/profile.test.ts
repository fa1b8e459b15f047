// The profiler end to end on a real local test node (real kernel, JuiceFS, Redis, sshd, agent
// over SSH): a known workload on the mount while a profile runs must show up in the kernel's
// FUSE histograms with counts that fit the workload AND agree with JuiceFS's own .accesslog for
// the same window; the queue + daemon split must add up to the total; the syscall, metadata
// and object-store layers and the daemon's stacks must be there; profile/update must stream;
// after profile/stop and after a SIGKILL of the session's agent nothing of ours may stay in the
// kernel; bad input gets coded errors. The programs' own cost (BPF run-time stats) is printed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  ErrorCode,
  PROFILE_DEFAULTS,
  ProfileStartRequest,
  ProfileStopRequest,
  ProfileUpdateNotification,
  type LatencyHistogram,
  type Profile,
  type ProfileUpdate,
} from '../../protocol/src';
import { DfsError } from '../../core/src/errors';
import { nodeDown, type LocalNode } from '../../core/src/testnode';
import type { NodeSession } from '../../core/src/agent/session';
import type { Addon } from '../../remote-agent/src/native';
import { waitFor } from '../support/kernel';
import { agentBundle, dropCaches, openSession, upNode } from '../support/node';
import { speedscopeValidator } from '../support/speedscopeSchema';
import { exportProfile, readProfileText } from '../../core/src/profile/files';

const NAME = 'dfsprof';
const N = 40;
const BIG = 8 << 20;
let node: LocalNode;

before(async () => {
  node = await upNode(NAME);
});
after(async () => {
  await nodeDown({ name: NAME });
});

let loaded: Addon | undefined;
function addon(): Addon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require(join(agentBundle(), 'dfs_bpf.node')) as Addon;
  return loaded;
}

/** The profiler's programs (bpf/profile.bpf.c, profile_sys.bpf.h): prof_fuse_send, prof_switch, ... */
const PROFILER_PROGRAMS = ['prof_fuse_send', 'prof_fuse_end', 'prof_switch', 'prof_sys_enter', 'prof_sys_exit'];
function isProfilerProgram(name: string): boolean {
  return PROFILER_PROGRAMS.includes(name);
}

/**
 * The kernel footprint of a profile that has just started: programs that appeared since
 * `before` with the profiler's names, and the maps they use (found through the programs, never
 * by opening maps: see ARCHITECTURE.md on program arrays).
 */
function footprintSince(before: Set<number>): { progs: number[]; maps: number[] } {
  const a = addon();
  const progs = a.allProgIds().filter((id) => !before.has(id) && isProfilerProgram(a.progNameById(id) ?? ''));
  const maps = new Set<number>();
  for (const id of progs) for (const m of a.progMapIds(id) ?? []) maps.add(m);
  return { progs, maps: [...maps] };
}

function stillThere(f: { progs: number[]; maps: number[] }): string[] {
  const progs = new Set(addon().allProgIds());
  const maps = new Set(addon().allMapIds());
  return [
    ...f.progs.filter((id) => progs.has(id)).map((id) => `prog ${id}`),
    ...f.maps.filter((id) => maps.has(id)).map((id) => `map ${id}`),
  ];
}

/**
 * Reads the mount's .accesslog while it is open: one line per operation the daemon served.
 * Its own reads are FUSE READs too, which JuiceFS does not log: `readsIn` counts them.
 * JuiceFS buffers lines per reader (10,240) and answers a read when the buffer fills it or
 * after 1 s, so the lines of an instant are all in once a read that began after it has
 * returned: `stop(at)` waits for two chunks after `at` (bounded) before it lets go.
 */
function accessLog(mountpoint: string): {
  stop: (at: number) => Promise<string[]>;
  readsIn: (from: number, to: number) => number;
} {
  const stream = createReadStream(join(mountpoint, '.accesslog'), { highWaterMark: 1 << 16 });
  let text = '';
  const reads: number[] = [];
  stream.on('data', (d) => {
    reads.push(Date.now());
    text += d.toString();
  });
  stream.on('error', () => undefined);
  return {
    readsIn: (from, to) => reads.filter((at) => at >= from && at <= to).length,
    stop: async (at) => {
      const deadline = Date.now() + 5000;
      while (reads.filter((t) => t >= at).length < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      stream.destroy();
      return text.split('\n').filter(Boolean);
    },
  };
}

/**
 * Count of each operation in the .accesslog lines of a time window. A line reads
 * "2026.11.26 12:22:34.932650 [uid:0,gid:0,pid:17906] read (...): 2902 - OK <0.000008>"
 * (local time, which is the agent's clock too: same machine).
 */
function countAccessLog(lines: string[], from: number, to: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) {
    const m = /^(\d{4})\.(\d\d)\.(\d\d) (\d\d):(\d\d):(\d\d)\.(\d+) \[[^\]]*\]\s+(\w+)\s*\(/.exec(l);
    if (!m) continue;
    const [, y, mo, d, h, mi, sec, frac, op] = m;
    const at = new Date(+y!, +mo! - 1, +d!, +h!, +mi!, +sec!, Number(`0.${frac}`) * 1000).getTime();
    if (at < from || at > to || !op) continue;
    out.set(op, (out.get(op) ?? 0) + 1);
  }
  return out;
}

function hist(
  p: { histograms: LatencyHistogram[] },
  layer: string,
  op: string,
  phase?: string,
): LatencyHistogram | undefined {
  return p.histograms.find((h) => h.layer === layer && h.op === op && h.phase === phase);
}

const count = (h: LatencyHistogram | undefined): number => h?.count ?? 0;

/** The workload: N creates with a 4 KiB write, N stats, N reads, one BIG file written and read back. */
async function workload(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const small = randomBytes(4096);
  for (let i = 0; i < N; i++) await writeFile(join(dir, `f${i}`), small);
  const big = randomBytes(BIG);
  await writeFile(join(dir, 'big'), big);
  // Past the entry and attribute timeouts (JuiceFS's default 1 s) and with an empty page
  // cache, every stat and read below has to ask the daemon.
  await new Promise((r) => setTimeout(r, 1500));
  await dropCaches();
  for (let i = 0; i < N; i++) await stat(join(dir, `f${i}`));
  for (let i = 0; i < N; i++) assert.equal((await readFile(join(dir, `f${i}`))).length, 4096);
  assert.ok((await readFile(join(dir, 'big'))).equals(big), 'the big file reads back identical');
}

/**
 * What the workload must make the kernel send, at least (the kernel's rules, not JuiceFS's):
 * - CREATE: one per new file (N + 1); each create's open also costs a negative LOOKUP, and
 *   each stat after the entry timeout a revalidating LOOKUP: LOOKUP >= N.
 * - WRITE: without writeback cache every write() goes to the daemon, split at max_write
 *   (<= 1 MiB): >= N + BIG / 1 MiB, and never more than one per 4 KiB page.
 * - READ: the page cache was dropped; each small file needs >= 1, the big file >= BIG / 1 MiB
 *   (readahead and max_read may split it further, up to one per page).
 * - OPEN: each read opens an existing file (N + 1); FLUSH and RELEASE: one per close (2N + 2).
 * Upper bounds are loose (x2 + 20): other agents on this machine read the mount's .config
 * while discovering JuiceFS mounts, and the attribute cache may ask for GETATTR after writes;
 * the exact check is the agreement with .accesslog below.
 */
const MIN = {
  CREATE: N + 1,
  LOOKUP: N,
  WRITE: N + BIG / (1 << 20),
  READ: N + BIG / (1 << 20),
  OPEN: N + 1,
  FLUSH: 2 * N + 2,
  RELEASE: 2 * N + 2,
};
const MAX = {
  WRITE: N + BIG / 4096,
  READ: 2 * N + BIG / 4096,
};

test(
  'a profile of a known workload: FUSE, syscall, meta and object layers, stacks; nothing left after stop',
  { timeout: 300_000 },
  async (t) => {
    const session = await openSession(NAME);
    const dir = join(node.mountpoint, 'it-profile');
    await rm(dir, { recursive: true, force: true });
    const progsBefore = new Set(addon().allProgIds());
    const updates: ProfileUpdate[] = [];
    session.agent.onNotification(ProfileUpdateNotification, (u) => updates.push(u));
    const log = accessLog(node.mountpoint);
    let profile: Profile;
    let lines: string[];
    let stopAt: number;
    try {
      const started = await session.request(ProfileStartRequest, { updateIntervalMs: 200, slowRequestUs: 2000 });
      assert.equal(started.mountpoint, node.mountpoint);
      assert.deepEqual(started.config, {
        stacks: true,
        slow_request_us: 2000,
        stack_sample_every: PROFILE_DEFAULTS.stackSampleEvery,
      });
      const footprint = footprintSince(progsBefore);
      t.diagnostic(`loaded: ${footprint.progs.length} programs, ${footprint.maps.length} maps`);
      assert.equal(footprint.progs.length, PROFILER_PROGRAMS.length, 'the profiler programs are loaded');

      await workload(dir);
      await new Promise((r) => setTimeout(r, 500));
      stopAt = Date.now();
      profile = await session.request(ProfileStopRequest, { profileId: started.profileId });
      lines = await log.stop(stopAt);

      await waitFor(
        () => stillThere(footprint).length === 0,
        2000,
        () => `unload (left: ${stillThere(footprint).join(', ')})`,
      );
      assert.ok(updates.length >= 5, `profile/update streamed (${updates.length})`);
      assert.ok(updates.every((u) => u.profileId === started.profileId && u.ended === undefined));
      const last = updates[updates.length - 1]!;
      assert.ok(count(hist(last, 'fuse', 'CREATE')) >= N, 'updates carry the cumulative histograms');
    } finally {
      session.close();
      await rm(dir, { recursive: true, force: true });
    }
    const from = Date.parse(profile.started_at);
    const logged = countAccessLog(lines, from, stopAt);
    const ownReads = log.readsIn(from, stopAt);
    report(t, profile, logged);
    t.diagnostic(`reads of .accesslog itself in the window: ${ownReads}`);

    // FUSE: the workload's requests, and the same counts as JuiceFS's own log of the window.
    for (const [op, min] of Object.entries(MIN)) {
      const n = count(hist(profile, 'fuse', op));
      assert.ok(n >= min && n <= 2 * min + 20, `FUSE ${op}: ${n} requests for a workload that needs at least ${min}`);
    }
    assert.ok(count(hist(profile, 'fuse', 'WRITE')) <= MAX.WRITE + 20);
    assert.ok(count(hist(profile, 'fuse', 'READ')) <= MAX.READ + 20);
    // Window edges (the profile attaches and detaches inside the requests, the log is cut by
    // the client's clock) may hold a request of another agent reading .config: +-3. READ also
    // holds the reads of .accesslog itself, which JuiceFS does not log.
    for (const op of ['CREATE', 'WRITE', 'READ', 'LOOKUP', 'GETATTR', 'OPEN', 'FLUSH', 'RELEASE', 'MKDIR']) {
      const kernel = count(hist(profile, 'fuse', op));
      const daemon = (logged.get(op.toLowerCase()) ?? 0) + (op === 'READ' ? ownReads : 0);
      assert.ok(Math.abs(kernel - daemon) <= 3, `FUSE ${op}: the kernel saw ${kernel}, .accesslog has ${daemon}`);
    }
    // queue + daemon = total, request by request, wherever the daemon's read was seen.
    for (const total of profile.histograms.filter((h) => h.layer === 'fuse' && h.phase === undefined)) {
      const queue = hist(profile, 'fuse', total.op, 'queue');
      const daemon = hist(profile, 'fuse', total.op, 'daemon');
      assert.equal(count(queue), count(daemon), `${total.op}: queue and daemon count the same requests`);
      assert.ok(
        count(queue) >= 0.9 * total.count,
        `${total.op}: the daemon's read seen for ${count(queue)}/${total.count}`,
      );
      const split = (queue?.sum_ns ?? 0) + (daemon?.sum_ns ?? 0);
      assert.ok(split <= total.sum_ns, `${total.op}: queue + daemon <= total`);
      if (count(queue) === total.count) assert.equal(split, total.sum_ns, `${total.op}: queue + daemon = total`);
    }

    // Syscalls of the workload on the mount (Node: openat, write, read, statx, close, mkdir).
    const sys = (op: string): number => count(hist(profile, 'syscall', op));
    assert.ok(sys('openat') >= 2 * N + 2, `openat ${sys('openat')}`);
    assert.ok(sys('close') >= 2 * N + 2, `close ${sys('close')}`);
    assert.ok(sys('write') >= N + 1, `write ${sys('write')}`);
    assert.ok(sys('read') >= N + 1, `read ${sys('read')}`);
    assert.ok(sys('statx') + sys('newfstatat') + sys('newstat') >= N, 'stat calls');
    assert.ok(sys('mkdir') + sys('mkdirat') >= 1, 'mkdir');

    // Round trips of the daemon to Redis (metadata) and to the object store.
    const meta = profile.histograms.find((h) => h.layer === 'meta');
    const object = profile.histograms.find((h) => h.layer === 'object');
    assert.equal(meta?.op, 'redis 127.0.0.1:6379');
    assert.ok(count(meta) >= N, `meta round trips ${count(meta)}`);
    assert.equal(object?.op, 'redis 127.0.0.1:6380');
    assert.ok(count(object) >= N, `object round trips ${count(object)}`);

    // Stacks of the daemon: on and off CPU, root = its comm, then user frames, then kernel
    // frames down to where it waited; the slow requests' repliers.
    const kinds = new Set(profile.stacks.map((s) => s.kind));
    assert.ok(kinds.has('oncpu') && kinds.has('offcpu') && kinds.has('slow'), [...kinds].join(','));
    assert.ok(
      profile.stacks.every((s) => s.frames[0] === 'juicefs'),
      'root frame is the comm',
    );
    // User frames by Go function name from the release binary's pcln table (symbols/):
    // the runtime's and JuiceFS's own packages (its FUSE layer serves every request).
    const frames = new Set(profile.stacks.flatMap((s) => s.frames));
    assert.ok(
      [...frames].some((f) => f.startsWith('runtime.')),
      'Go runtime frames by name',
    );
    assert.ok(
      [...frames].some((f) => /^github\.com\/juicedata\/juicefs\/pkg\/fuse\./.test(f)),
      "JuiceFS's FUSE layer by Go function name",
    );
    assert.ok(
      Object.keys(profile.sources).some((f) => f.startsWith('github.com/juicedata/juicefs/')),
      'with sources',
    );

    // The exports of this real profile: speedscope validates against speedscope's own schema,
    // and every format reads back to the same totals.
    const sum = (p: Profile): number => p.stacks.reduce((a, s) => a + s.total_ns, 0);
    const validate = await speedscopeValidator();
    const speedscope = exportProfile(profile, 'speedscope');
    assert.ok(validate(JSON.parse(speedscope)), JSON.stringify(validate.errors?.slice(0, 3)));
    for (const format of ['json', 'folded', 'speedscope'] as const) {
      const back = readProfileText(exportProfile(profile, format), `profile.${format}`);
      assert.equal(back.format, format);
      assert.equal(sum(back.profile), sum(profile), `${format}: the same total time`);
      // Folded lines carry no kind: an on- and an off-CPU stack of the same frames are one line.
      const paths = (p: Profile): number =>
        new Set(p.stacks.map((s) => (format === 'folded' ? '' : s.kind) + s.frames.join(';'))).size;
      assert.equal(paths(back.profile), paths(profile), `${format}: the same stacks`);
    }
    assert.ok(
      profile.stacks.some((s) => s.kind === 'offcpu' && /schedule\w*_\[k\]$/.test(s.frames[s.frames.length - 1] ?? '')),
      'an off-CPU stack ends in the scheduler, not in the tracing machinery',
    );
    assert.ok((profile.slow_requests?.length ?? 0) >= 1, 'the big read was slower than 2 ms');
    // The programs' cost is counted while run-time statistics are on (1 s in every 10 s, from the start).
    const sampled = profile.cost_sampled_s ?? -1;
    assert.ok(sampled > 0.5 && sampled <= profile.duration_s + 0.1, `cost counted over ${sampled} s`);
    assert.ok((profile.cost.find((c) => c.name === 'prof_fuse_send')?.run_cnt ?? 0) > 0, 'FUSE sends counted');
  },
);

test(
  'SIGKILL of the agent while profiling: nothing of ours stays in the kernel (within 2 s)',
  { timeout: 120_000 },
  async (t) => {
    for (const how of ['agent SIGKILL', 'SSH close'] as const) {
      const progsBefore = new Set(addon().allProgIds());
      const session = await openSession(NAME);
      try {
        await session.request(ProfileStartRequest, {});
        const footprint = footprintSince(progsBefore);
        assert.equal(footprint.progs.length, PROFILER_PROGRAMS.length);
        if (how === 'agent SIGKILL') process.kill(session.info.agentPid, 'SIGKILL');
        else session.ssh.close();
        const took = await waitFor(
          () => stillThere(footprint).length === 0,
          2000,
          () => `the kernel to free the profile (left: ${stillThere(footprint).join(', ')})`,
        );
        t.diagnostic(`${how}: programs and maps freed ${took} ms after`);
      } finally {
        session.close();
      }
    }
  },
);

async function refused(p: Promise<unknown>, code: ErrorCode, what: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DfsError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, what);
    return true;
  });
}

test(
  'bad input gets coded errors; one profile per connection; maxDurationS ends it by itself',
  { timeout: 120_000 },
  async () => {
    const session: NodeSession = await openSession(NAME);
    try {
      const start = (p: unknown): Promise<unknown> => session.request(ProfileStartRequest, p as never);
      await refused(start({ bogus: 1 }), ErrorCode.BadRequest, /unknown field bogus/);
      await refused(start({ slowRequestUs: 0 }), ErrorCode.BadRequest, /slowRequestUs must be an integer in 1\.\./);
      await refused(start({ updateIntervalMs: 50 }), ErrorCode.BadRequest, /updateIntervalMs/);
      await refused(start({ maxDurationS: 1e9 }), ErrorCode.BadRequest, /maxDurationS/);
      await refused(start({ maxDurationS: 1.5 }), ErrorCode.BadRequest, /maxDurationS/);
      await refused(start({ stacks: 'yes' }), ErrorCode.BadRequest, /stacks must be true or false/);
      await refused(start({ mountpoint: 'relative' }), ErrorCode.BadRequest, /absolute path/);
      await refused(start({ mountpoint: '/tmp' }), ErrorCode.JuiceFsNotFound, /no JuiceFS mount at \/tmp/);
      await refused(session.request(ProfileStopRequest, { profileId: 'nope' }), ErrorCode.NotFound, /no profile nope/);
      await refused(session.request(ProfileStopRequest, {} as never), ErrorCode.BadRequest, /profileId is required/);

      const updates: ProfileUpdate[] = [];
      session.agent.onNotification(ProfileUpdateNotification, (u) => updates.push(u));
      const started = await session.request(ProfileStartRequest, {
        maxDurationS: 1,
        stacks: false,
        updateIntervalMs: 200,
      });
      await refused(start({}), ErrorCode.Conflict, /already running on this connection/);
      await waitFor(() => updates.some((u) => u.ended !== undefined), 5000, 'the profile to end by itself');
      const last = updates[updates.length - 1]!;
      assert.match(last.ended ?? '', /maxDurationS \(1 s\) reached/);
      const profile = await session.request(ProfileStopRequest, { profileId: started.profileId });
      assert.equal(profile.config.stacks, false);
      assert.equal(profile.stacks.length, 0, 'no stacks when stacks: false');
      assert.ok(!profile.cost.some((c) => c.name === 'prof_switch'), 'sched_switch not even attached');
      await refused(
        session.request(ProfileStopRequest, { profileId: started.profileId }),
        ErrorCode.NotFound,
        /no profile/,
      );
      // The connection serves on, and can profile again.
      const again = await session.request(ProfileStartRequest, {});
      await session.request(ProfileStopRequest, { profileId: again.profileId });
    } finally {
      session.close();
    }
  },
);

// Last: it kills the node's JuiceFS daemon (the node is brought down after this file).
test('the profile ends by itself when the JuiceFS daemon exits', { timeout: 120_000 }, async () => {
  const progsBefore = new Set(addon().allProgIds());
  const session = await openSession(NAME);
  try {
    const updates: ProfileUpdate[] = [];
    session.agent.onNotification(ProfileUpdateNotification, (u) => updates.push(u));
    const started = await session.request(ProfileStartRequest, { updateIntervalMs: 200 });
    const footprint = footprintSince(progsBefore);
    process.kill(started.daemonPid, 'SIGKILL');
    await waitFor(() => updates.some((u) => u.ended !== undefined), 5000, 'the profile to end by itself');
    assert.equal(updates[updates.length - 1]?.ended, `the JuiceFS daemon (pid ${started.daemonPid}) exited`);
    await waitFor(
      () => stillThere(footprint).length === 0,
      2000,
      () => `unload (left: ${stillThere(footprint).join(', ')})`,
    );
    const profile = await session.request(ProfileStopRequest, { profileId: started.profileId });
    assert.equal(profile.mountpoint, node.mountpoint);
  } finally {
    session.close();
  }
});

function report(t: { diagnostic: (m: string) => void }, profile: Profile, logged: Map<string, number>): void {
  for (const h of profile.histograms) {
    const avg = (h.sum_ns / h.count / 1000).toFixed(1);
    t.diagnostic(`${h.layer} ${h.op}${h.phase ? ` ${h.phase}` : ''}: ${h.count} (avg ${avg} µs)`);
  }
  t.diagnostic(`accesslog (window): ${[...logged].map(([k, v]) => `${k}=${v}`).join(' ')}`);
  t.diagnostic(
    `drops: ${JSON.stringify(profile.drops)}; stacks: ${profile.stacks.length}; slow: ${profile.slow_requests?.length ?? 0}`,
  );
  // The heaviest stack of each kind (stacks are sorted by total_ns).
  for (const kind of ['offcpu', 'oncpu', 'slow']) {
    const s = profile.stacks.find((x) => x.kind === kind);
    if (s) t.diagnostic(`${s.kind} ${s.total_ns} ns x${s.count}: ${s.frames.join(';')}`);
  }
  const slowest = profile.slow_requests?.[0];
  if (slowest) t.diagnostic(`slowest request: ${JSON.stringify(slowest)}`);
  // The programs' own cost (BPF run-time stats), printed, not asserted.
  const cost = [...profile.cost].sort((a, b) => b.run_time_ns - a.run_time_ns);
  const total = cost.reduce((s, c) => s + c.run_time_ns, 0);
  t.diagnostic(`cost: ${(total / 1e6).toFixed(1)} ms of BPF over ${profile.duration_s.toFixed(1)} s`);
  for (const c of cost.slice(0, 12)) {
    const per = c.run_cnt ? (c.run_time_ns / c.run_cnt).toFixed(0) : '0';
    t.diagnostic(`cost ${c.name}: ${c.run_cnt} runs, ${(c.run_time_ns / 1e6).toFixed(2)} ms (${per} ns/run)`);
  }
}
