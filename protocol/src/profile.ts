/**
 * Profiling a test node: the `profile/*` agent messages and the Profile document, declared
 * once. The same Profile is what `profile/stop` answers, what `dfs-ebpf profile --format json`
 * writes (DESIGN.md §7 keys: duration_s, histograms, stacks), what `--compare` reads and what
 * the profile viewer draws. Key names are snake_case because they are a file format.
 */

import { request, notification } from './messages';

// ---------------------------------------------------------------------------------------------
// The Profile document

/** Where a latency was measured. */
export type ProfileLayer = 'fuse' | 'syscall' | 'meta' | 'object' | 'block';

/**
 * Which part of a FUSE request: `queue` from the kernel's send to the daemon's read of it on
 * /dev/fuse, `daemon` from that read to the daemon's reply. Absent (or `total`) is the whole.
 */
export type ProfilePhase = 'total' | 'queue' | 'daemon';

/** One log2 bucket: `count` latencies in (previous le_us, le_us]. Buckets are not cumulative. */
export interface HistogramBucket {
  le_us: number;
  count: number;
}

export interface LatencyHistogram {
  layer: ProfileLayer;
  /**
   * FUSE: the kernel's opcode name (`LOOKUP`, `GETATTR`, `READ`, ...; `OP_<n>` for a number the
   * kernel added later). syscall: the syscall name (`read`, `openat`, ...). meta / object: the
   * endpoint ("redis 10.0.0.1:6379", "unix /run/redis.sock").
   */
  op: string;
  phase?: ProfilePhase;
  count: number;
  /** Sum of the latencies, ns (the average is sum_ns / count). */
  sum_ns: number;
  /** Only buckets with a count, ascending le_us. */
  buckets: HistogramBucket[];
}

/**
 * How a stack's time was spent: on a CPU, off it (blocked, waiting), or the stack of the
 * daemon thread that answered a slow FUSE request (weighted by the request's latency).
 */
export type StackKind = 'oncpu' | 'offcpu' | 'slow';

/** Suffix of a kernel frame's name (the folded-stacks convention of perf and flamegraph.pl). */
export const KERNEL_FRAME_SUFFIX = '_[k]';

export interface ProfileStack {
  /**
   * Root first. User frames by function name (Go: `github.com/juicedata/juicefs/pkg/fuse.(*fileSystem).Read`),
   * kernel frames with KERNEL_FRAME_SUFFIX, a frame that cannot be named as `module+0xOFFSET`
   * (never dropped). The root frame is the thread's name (comm).
   */
  frames: string[];
  total_ns: number;
  count: number;
  kind: StackKind;
}

/** Where a frame's function is defined, when the binary says (Go's pcln table does). */
export interface FrameSource {
  file: string;
  line: number;
}

/** One program's cost over the profile, from the kernel's BPF run-time statistics. */
export interface ProgramCost {
  name: string;
  run_cnt: number;
  run_time_ns: number;
}

/** Events the kernel side could not record (a full map or ring buffer): counted, never silent. */
export interface ProfileDrops {
  /** Slow-request events lost to a full ring buffer. */
  events: number;
  /** Stacks that did not fit the stack map (their time is still in the histograms). */
  stacks: number;
  /** Requests or calls whose start did not fit the in-flight map. */
  inflight: number;
}

export interface ProfileConfig {
  /** Capture wall-clock (on + off CPU) stacks of the JuiceFS daemon. */
  stacks: boolean;
  /** A FUSE request slower than this (µs) has its daemon stack captured. */
  slow_request_us: number;
  /**
   * The daemon's stacks are taken at one context switch in this many, at random, and what is
   * added for them weighs that much more (an unbiased estimate at 1/N of the cost); counts
   * are the switches sampled. Absent or 1: every switch.
   */
  stack_sample_every?: number;
}

/**
 * One FUSE request slower than config.slow_request_us, from the kernel's ring buffer (the
 * slowest SLOW_REQUESTS_KEPT of the profile). Its daemon stack is in `stacks` as kind `slow`.
 */
export interface SlowRequest {
  /** FUSE opcode name, as in the histograms. */
  op: string;
  /** The request's FUSE unique id on its connection. */
  unique: number;
  total_ns: number;
  /** Present when the daemon's read of the request from /dev/fuse was seen. */
  queue_ns?: number;
  daemon_ns?: number;
  /** The process that sent the request (a kernel worker for background requests). */
  requester_pid: number;
  /** The daemon thread that answered it. */
  reply_tid: number;
}

export const SLOW_REQUESTS_KEPT = 100;

export interface Profile {
  /** Format version of this document. */
  version: 1;
  /** The node's label (e.g. "dfsnode0" or "user@host:port"). */
  node: string;
  mountpoint: string;
  /** JuiceFS version of the profiled daemon. */
  juicefs: string;
  /** ISO time the profile started. */
  started_at: string;
  duration_s: number;
  histograms: LatencyHistogram[];
  stacks: ProfileStack[];
  /** Frame name → its definition, for click-to-source; frames absent here have none. */
  sources: Record<string, FrameSource>;
  drops: ProfileDrops;
  cost: ProgramCost[];
  /**
   * Seconds during which `cost` was counted: the kernel's run-time statistics slow every BPF
   * program on the node while on, so the agent keeps them on 1 s in every 10 s. Absent: the
   * whole profile.
   */
  cost_sampled_s?: number;
  config: ProfileConfig;
  /** Optional (added by the agent's profiler): the slowest requests, slowest first. */
  slow_requests?: SlowRequest[];
}

// ---------------------------------------------------------------------------------------------
// profile/* (client → agent; profile/update agent → client)

export interface ProfileStartParams {
  /** JuiceFS mount to profile. Absent: the only mount in the node's network namespace. */
  mountpoint?: string;
  /** Capture daemon stacks (default true). */
  stacks?: boolean;
  /** Slow FUSE request threshold, µs (default PROFILE_DEFAULTS.slowRequestUs). */
  slowRequestUs?: number;
  /** Take the daemon's stacks at one context switch in N (default PROFILE_DEFAULTS.stackSampleEvery). */
  stackSampleEvery?: number;
  /** Interval of profile/update notifications, ms (PROFILE_LIMITS). */
  updateIntervalMs?: number;
  /** The agent stops the profile by itself after this many seconds (PROFILE_LIMITS). */
  maxDurationS?: number;
}

export const PROFILE_DEFAULTS = {
  /** How long a client profiles when not told (CLI --duration, the extension's first pick). */
  durationS: 10,
  slowRequestUs: 10_000,
  stackSampleEvery: 32,
  updateIntervalMs: 1000,
  maxDurationS: 600,
} as const;

export const PROFILE_LIMITS = {
  slowRequestUs: { min: 1, max: 60_000_000 },
  stackSampleEvery: { min: 1, max: 1024 },
  updateIntervalMs: { min: 200, max: 60_000 },
  maxDurationS: { min: 1, max: 3600 },
} as const;

export interface ProfileStarted {
  profileId: string;
  mountpoint: string;
  /** The JuiceFS daemon whose threads are profiled. */
  daemonPid: number;
  juicefs: string;
  started_at: string;
  config: ProfileConfig;
}

/** Live view while a profile runs: cumulative histograms since the start. */
export interface ProfileUpdate {
  profileId: string;
  elapsed_s: number;
  histograms: LatencyHistogram[];
  drops: ProfileDrops;
  cost: ProgramCost[];
  /** As Profile.cost_sampled_s. */
  cost_sampled_s?: number;
  /** Distinct stacks captured so far. */
  stacks: number;
  /** Set on the last update when the agent stopped the profile itself (maxDurationS, daemon gone). */
  ended?: string;
}

export interface ProfileStopParams {
  profileId: string;
}

export const ProfileStartRequest = request<ProfileStartParams, ProfileStarted>('profile/start');
export const ProfileStopRequest = request<ProfileStopParams, Profile>('profile/stop');
export const ProfileUpdateNotification = notification<ProfileUpdate>('profile/update');
