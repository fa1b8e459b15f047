/**
 * One running profile of one JuiceFS mount: loads `bpf/profile.bpf.o` with its configuration
 * (mount device, daemon tgid, slow threshold, stacks on/off), attaches every program, holds
 * the BPF run-time stats fd, reads slow-request events from the ring buffer on the event loop,
 * and answers live updates and the final Profile from the kernel's maps.
 *
 * Lifetime: everything is fd-owned by this agent process and nothing is pinned, so when the
 * connection closes or the agent dies the kernel frees it all. stop() reads the maps and then
 * release()s: links, ring buffer poll, stats fd and object, in that order; release() is
 * idempotent and synchronous (safe in exit handlers). Memory is bounded whatever the event
 * rate: kernel maps have fixed sizes, and JS keeps only the slowest SLOW_KEPT events.
 */

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  ErrorCode,
  type Profile,
  type ProfileConfig,
  type ProfileUpdate,
  type SlowRequest,
  SLOW_REQUESTS_KEPT,
} from '@dfs/protocol';
import { AgentError, fromNative } from '../errors';
import type { DiscoveredMount } from '../juicefs';
import type { AgentLog } from '../log';
import type { Addon, BpfLink, BpfObject, RingBufferPoll } from '../native';
import { Symbolizer } from '../symbols';
import { decodeEvent, endpointKey, PROF_LAYER, PROF_SYSCALLS, SYSCALL_NUMBERS } from './abi';
import { fuseOpName } from './opcodes';
import { countStacks, readCost, readDrops, readHistograms, readStacks, type ProfileEndpoint } from './read';

/** Slow-request events kept (the slowest). */
const SLOW_KEPT = SLOW_REQUESTS_KEPT;
/** Ring-buffer records handed to JS per event-loop wake-up. */
const EVENTS_PER_WAKE = 4096;

export interface ProfileTarget {
  mount: DiscoveredMount;
  /** The mount's superblock device in the kernel's encoding (major << 20 | minor). */
  dev: number;
  endpoints: ProfileEndpoint[];
  config: ProfileConfig;
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return b;
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v, 0);
  return b;
}

/** prof_sysnr entries for this machine: syscall number → prof_sys index + 1. */
function syscallTable(): [number, number][] {
  const numbers = SYSCALL_NUMBERS[process.arch];
  if (!numbers) {
    throw new AgentError(ErrorCode.KernelFeatureMissing, `the profiler knows no syscall numbers for ${process.arch}`);
  }
  return PROF_SYSCALLS.flatMap((name, i) => {
    const nr = numbers[name];
    return nr === undefined ? [] : [[nr, i + 1] as [number, number]];
  });
}

/** Run-time statistics duty cycle: on for the first STATS_ON_MS of every STATS_PERIOD_MS. */
const STATS_PERIOD_MS = 10_000;
const STATS_ON_MS = 1000;

export class ProfileSession {
  private links: BpfLink[] = [];
  private poll: RingBufferPoll | null = null;
  private statsFd = -1;
  /** Run-time statistics are on STATS_ON_MS of every STATS_PERIOD_MS (see StatsDuty). */
  private statsTimer: NodeJS.Timeout | undefined;
  private statsOnSince = 0;
  private statsOnMs = 0;
  private released = false;
  private readonly slow: SlowRequest[] = [];
  private slowSeen = 0;
  /** When every program was attached (set by start()). */
  startedAt = new Date();
  private startedMs = Date.now();

  private constructor(
    private readonly addon: Addon,
    private readonly log: AgentLog,
    readonly id: string,
    readonly target: ProfileTarget,
    private readonly object: BpfObject,
    /** Names of the attached programs. */
    readonly programs: string[],
  ) {}

  /** Load, configure, attach and start reading; on any failure nothing stays loaded. */
  static start(addon: Addon, log: AgentLog, bundleDir: string, id: string, target: ProfileTarget): ProfileSession {
    const path = join(bundleDir, 'bpf', 'profile.bpf.o');
    let elf: Buffer;
    try {
      elf = readFileSync(path);
    } catch {
      throw new AgentError(ErrorCode.Internal, `the agent bundle lacks ${path}; reinstall the agent`);
    }
    let object: BpfObject;
    try {
      object = addon.openObject(elf, { name: 'profile', logLevel: 1, logSize: 1 << 20 });
    } catch (err) {
      throw fromNative(err, 'opening profile.bpf.o');
    }
    let session: ProfileSession | undefined;
    try {
      const { config, mount } = target;
      object.setVariable('.rodata', 'target_dev', u32(target.dev));
      object.setVariable('.rodata', 'daemon_tgid', u32(mount.pid));
      object.setVariable('.rodata', 'slow_ns', u64(BigInt(config.slow_request_us) * 1000n));
      object.setVariable('.rodata', 'capture_stacks', u32(config.stacks ? 1 : 0));
      object.setVariable('.rodata', 'stack_sample_every', u32(config.stack_sample_every ?? 1));
      const programs: string[] = [];
      for (const p of object.programs()) {
        // Without stacks, sched_switch (the busiest tracepoint of all) is not even loaded.
        if (!config.stacks && p.section === 'tp_btf/sched_switch') object.setAutoload(p.name, false);
        else programs.push(p.name);
      }
      const loaded = object.load();
      if (loaded.errno !== 0) {
        const missing = /failed to find kernel BTF type ID of '([^']+)'/.exec(loaded.messages)?.[1];
        if (missing) {
          throw new AgentError(
            ErrorCode.KernelFeatureMissing,
            `this kernel has no tracepoint ${missing} for the profiler (the FUSE request tracepoints are recent)`,
            loaded.messages,
          );
        }
        throw new AgentError(
          loaded.log ? ErrorCode.VerifierRejected : ErrorCode.BpfError,
          `profile.bpf.o did not load (errno ${loaded.errno})`,
          (loaded.messages + '\n' + loaded.log.slice(-4000)).trim(),
        );
      }
      const sysnrFd = object.mapFd('prof_sysnr');
      for (const [nr, index] of syscallTable()) addon.mapUpdate(sysnrFd, u32(nr), u32(index), 0);
      const endpointsFd = object.mapFd('prof_endpoints');
      for (const e of target.endpoints) {
        addon.mapUpdate(endpointsFd, endpointKey(e), u32(PROF_LAYER[e.layer]), 0);
      }
      session = new ProfileSession(addon, log, id, target, object, programs);
      session.statsOn();
      for (const name of programs) {
        try {
          session.links.push(object.attachAuto(name));
        } catch (err) {
          throw fromNative(err, `attaching ${name}`);
        }
      }
      session.poll = addon.ringBufferPoll(
        object.mapFd('prof_events'),
        (events, error) => session?.onEvents(events, error),
        EVENTS_PER_WAKE,
      );
      session.startedAt = new Date();
      session.startedMs = session.startedAt.getTime();
      const s = session;
      s.statsTimer = setInterval(() => s.statsTick(), STATS_ON_MS);
      return session;
    } catch (err) {
      if (session) session.release();
      else object.close();
      throw fromNative(err, 'starting the profile');
    }
  }

  private onEvents(events: Buffer[], error?: string): void {
    if (error) this.log.warn('profile', `the slow-request ring buffer stopped: ${error}`);
    for (const raw of events) {
      const e = decodeEvent(raw);
      if (!e) continue;
      this.slowSeen++;
      const req: SlowRequest = {
        op: fuseOpName(e.opcode),
        unique: Number(e.unique),
        total_ns: e.totalNs,
        requester_pid: e.requesterTgid,
        reply_tid: e.replyTid,
      };
      if (e.queueNs > 0 || e.daemonNs > 0) {
        req.queue_ns = e.queueNs;
        req.daemon_ns = e.daemonNs;
      }
      // Keep the slowest SLOW_KEPT, sorted slowest first.
      if (this.slow.length >= SLOW_KEPT && (this.slow[this.slow.length - 1]?.total_ns ?? 0) >= req.total_ns) continue;
      const at = this.slow.findIndex((s) => s.total_ns < req.total_ns);
      this.slow.splice(at < 0 ? this.slow.length : at, 0, req);
      if (this.slow.length > SLOW_KEPT) this.slow.pop();
    }
  }

  /**
   * The kernel's BPF run-time statistics cost every BPF program on the node two clock reads
   * per run while they are on (measured: +0.5 µs per syscall through sys_enter/sys_exit),
   * so they are on for STATS_ON_MS of every STATS_PERIOD_MS, and `cost_sampled_s` says
   * over how long the costs were counted. The first window opens at the start.
   */
  private statsOn(): void {
    if (this.statsFd >= 0) return;
    this.statsFd = this.addon.enableRunTimeStats();
    this.statsOnSince = Date.now();
  }

  private statsOff(): void {
    if (this.statsFd < 0) return;
    this.addon.closeFd(this.statsFd);
    this.statsFd = -1;
    this.statsOnMs += Date.now() - this.statsOnSince;
  }

  private statsTick(): void {
    const phase = (Date.now() - this.startedMs) % STATS_PERIOD_MS;
    try {
      if (phase < STATS_ON_MS) this.statsOn();
      else this.statsOff();
    } catch (err) {
      this.log.warn('profile', `run-time statistics: ${(err as Error).message}`);
    }
  }

  /** Seconds during which run-time statistics were on so far. */
  private sampledS(): number {
    return (this.statsOnMs + (this.statsFd >= 0 ? Date.now() - this.statsOnSince : 0)) / 1000;
  }

  elapsedS(): number {
    return (Date.now() - this.startedMs) / 1000;
  }

  /** The cumulative view since the start. */
  update(ended?: string): ProfileUpdate {
    const u: ProfileUpdate = {
      profileId: this.id,
      elapsed_s: this.elapsedS(),
      histograms: readHistograms(this.addon, this.object, this.target.endpoints),
      drops: readDrops(this.addon, this.object),
      cost: readCost(this.addon, this.object, this.programs),
      cost_sampled_s: this.sampledS(),
      stacks: countStacks(this.addon, this.object),
    };
    if (ended !== undefined) u.ended = ended;
    return u;
  }

  /** Detach (so the numbers stop moving), read everything, then unload. */
  stop(): Profile {
    if (this.released) throw new AgentError(ErrorCode.NotFound, `profile ${this.id} is already stopped`);
    for (const l of this.links) l.destroy();
    this.links = [];
    // Events still in the ring buffer are not read: they only feed slow_requests (their
    // stacks are already aggregated in the kernel as kind "slow").
    const duration = this.elapsedS();
    try {
      const { mount, config } = this.target;
      const sources: Profile['sources'] = {};
      let root = 'juicefs';
      try {
        root = readFileSync(`/proc/${mount.pid}/comm`, 'utf8').trim() || root;
      } catch {
        // the daemon is gone; its stacks keep the default root
      }
      const profile: Profile = {
        version: 1,
        node: hostname(),
        mountpoint: mount.mountpoint,
        juicefs: mount.version,
        started_at: this.startedAt.toISOString(),
        duration_s: duration,
        histograms: readHistograms(this.addon, this.object, this.target.endpoints),
        stacks: readStacks(
          this.addon,
          this.object,
          { symbolizer: new Symbolizer(), daemonPid: mount.pid, root },
          sources,
        ),
        sources,
        drops: readDrops(this.addon, this.object),
        cost: readCost(this.addon, this.object, this.programs),
        cost_sampled_s: this.sampledS(),
        config,
      };
      if (this.slowSeen > 0) profile.slow_requests = [...this.slow];
      return profile;
    } finally {
      this.release();
    }
  }

  /** Release everything of ours in the kernel; idempotent, synchronous. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const l of this.links) l.destroy();
    this.links = [];
    this.poll?.close();
    this.poll = null;
    clearInterval(this.statsTimer);
    this.statsOff();
    this.object.close();
  }
}
