/**
 * The agent's state and the only place that changes it. Mutations (attach, detach) run one
 * at a time through a queue, and across the agents of the node under the node lock (lock.ts);
 * reads may run any time. Every attachment is owned by this agent process, which serves
 * exactly one client connection: dispose() (on disconnect, signal or crash) releases
 * everything, and the kernel would release the fds anyway. Half-made pin sets (an agent died
 * while pinning) are released by attach, detach and status alike, and by the sweep at start.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BYPASS_OBJECT,
  ErrorCode,
  PROTOCOL_VERSION,
  type AgentUpdateParams,
  type AgentUpdateResult,
  type BypassAttachParams,
  type BypassStatus,
  type InitializeParams,
  type InitializeResult,
  type KernelBtfParams,
  type KernelBtfResult,
  type KernelHelpersParams,
  type KernelHelpersResult,
  type KernelKfuncsParams,
  type KernelKfuncsResult,
  type KernelTargetsParams,
  type KernelTargetsResult,
  type Profile,
  type ProfileStarted,
  type ProfileStartParams,
  type ProfileStopParams,
  type ProfileUpdate,
  type VerifyParams,
  type VerifyResult,
  PROFILE_DEFAULTS,
} from '@dfs/protocol';
import { randomUUID } from 'node:crypto';
import { Inspector } from './inspect';
import { RunningProfile } from './profile/running';
import { ProfileSession } from './profile/session';
import { mountDevice, profileEndpoints } from './profile/target';
import { rmSync } from 'node:fs';
import { BypassSession, detachedStatus, type BypassTarget } from './bypass';
import { HelperProbes, KfuncProbes, kernelTargets } from './editing';
import { AgentError, fromNative } from './errors';
import { discoverJuiceFs, normalizeMountpoint, publicMount, type DiscoveredMount } from './juicefs';
import { BYPASS_FEATURES, kernelInfo, probeFeatures } from './kernel';
import type { AgentLog } from './log';
import type { Addon } from './native';
import { detachedFromCgroup, inspectPinned, preparePinDir, readPinned, removePinned, writePinnedStatus } from './pins';
import { tryLockNode, withNodeLock } from './lock';
import { sweepOrphans } from './sweep';
import { buildPolicy } from './policy';
import { countersOfProgram } from './stats';
import { installBundle } from './update';
import { kernelBtf, verifyObject } from './verify';
import { AGENT_BUILD, AGENT_VERSION } from './version';

/** Profiles that ended by themselves, kept for their profile/stop (the oldest goes first). */
const FINISHED_KEPT = 4;

export class Manager {
  private bypass: BypassSession | null = null;
  /** This connection's running profile (one at a time; profiles are not node-exclusive). */
  private profile: RunningProfile | null = null;
  private readonly finished = new Map<string, Profile>();
  private sendUpdate: ((u: ProfileUpdate) => void) | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly features;
  /** The node explorer and map inspector of this connection. */
  readonly inspector: Inspector;
  /** kernel/helpers answers per program type, kept for the agent's lifetime (see editing.ts). */
  private readonly helperProbes: HelperProbes;
  /** kernel/kfuncs answers per program type and name, kept likewise. */
  private readonly kfuncProbes: KfuncProbes;

  constructor(
    private readonly addon: Addon,
    private readonly log: AgentLog,
    /** Directory of the agent bundle (holds bpf/bypass.bpf.o). */
    private readonly bundleDir: string,
  ) {
    this.features = probeFeatures(addon, join(bundleDir, 'bpf', 'probes'));
    this.inspector = new Inspector(addon, log);
    this.helperProbes = new HelperProbes(addon, log);
    this.kfuncProbes = new KfuncProbes(addon, log);
  }

  /** Run a mutation after every earlier one has finished. */
  private serialize<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  initialize(params: InitializeParams): InitializeResult {
    if (params.protocolVersion !== PROTOCOL_VERSION) {
      throw new AgentError(
        ErrorCode.AgentVersionMismatch,
        `agent ${AGENT_VERSION} speaks protocol ${PROTOCOL_VERSION}, client ${params.client} speaks ${params.protocolVersion}; redeploy the agent`,
      );
    }
    this.log.info('agent', `client ${params.client} connected`);
    return {
      agentVersion: AGENT_VERSION,
      protocolVersion: PROTOCOL_VERSION,
      agentBuild: AGENT_BUILD,
      agentPid: process.pid,
      kernel: kernelInfo(),
      runtime: { node: process.version, path: process.execPath },
      libbpfVersion: this.addon.libbpfVersion(),
      features: this.features,
      juicefs: discoverJuiceFs().map(publicMount),
    };
  }

  private requireFeatures(): void {
    const missing = this.features.filter((f) => BYPASS_FEATURES.includes(f.name) && !f.supported);
    if (missing.length > 0) {
      throw new AgentError(
        ErrorCode.KernelFeatureMissing,
        `the bypass needs ${missing.map((f) => f.name).join(', ')}: ${missing.map((f) => f.detail).join('; ')}`,
      );
    }
  }

  /**
   * The mount a bypass request is about: the one named (a trailing slash or `//` still names
   * it), else the only one; several without a name are refused with their list.
   */
  private chooseMount(mountpoint: string | undefined): DiscoveredMount {
    const mounts = discoverJuiceFs();
    const found = mounts.map((x) => x.mountpoint).join(', ') || 'none';
    if (mountpoint !== undefined) {
      const want = normalizeMountpoint(mountpoint);
      const m = mounts.find((x) => x.mountpoint === want);
      if (!m) {
        throw new AgentError(
          ErrorCode.JuiceFsNotFound,
          `no JuiceFS mount at ${mountpoint} in this node's network namespace (found: ${found})`,
        );
      }
      return m;
    }
    const [only, ...more] = mounts;
    if (!only) throw new AgentError(ErrorCode.JuiceFsNotFound, 'no JuiceFS mount on this node; mount one first');
    if (more.length > 0) {
      throw new AgentError(
        ErrorCode.BadRequest,
        `several JuiceFS mounts on this node (${found}); say which one: --mount PATH in the CLI, the dfsEbpf.bypass.mount setting or the quick pick in VS Code`,
      );
    }
    return only;
  }

  /** Program id of a bypass sock_ops attached to the cgroup by anyone, or null. */
  private attachedBypassId(cgroup: string): number | null {
    for (const id of this.addon.cgroupProgIds(cgroup, 'cgroup_sock_ops')) {
      if (this.addon.progNameById(id) === BYPASS_OBJECT.sockopsProgram) return id;
    }
    return null;
  }

  /** The bypass on a mount that this connection does not own: pinned, another connection's, or none. */
  private foreignBypass(mount: DiscoveredMount): BypassStatus | null {
    const pinned = readPinned(this.addon, mount.cgroup);
    if (pinned) return pinned;
    const id = this.attachedBypassId(mount.cgroup);
    if (id === null) return null;
    return {
      ...detachedStatus(),
      attached: true,
      owner: 'other-connection',
      mountpoint: mount.mountpoint,
      cgroup: mount.cgroup,
      programs: [{ id, name: BYPASS_OBJECT.sockopsProgram, type: 'sock_ops', linkId: null }],
      counters: countersOfProgram(this.addon, id, BYPASS_OBJECT.statsMap) ?? detachedStatus().counters,
    };
  }

  attachBypass(params: BypassAttachParams, opId: number): Promise<BypassStatus> {
    return this.serialize(async () => {
      if (this.bypass)
        throw new AgentError(ErrorCode.Conflict, 'the bypass is already attached by this connection; detach it first');
      this.requireFeatures();
      const mount = this.chooseMount(params.mountpoint);
      if (!mount.cgroup) {
        throw new AgentError(
          ErrorCode.KernelFeatureMissing,
          `the JuiceFS daemon (pid ${mount.pid}) is not in a cgroup v2 hierarchy`,
        );
      }
      const endpoints = await buildPolicy(mount.metaUrl, mount.bucketUrl, params.extraEndpoints ?? []);
      if (endpoints.length === 0) {
        throw new AgentError(
          ErrorCode.BadRequest,
          `JuiceFS at ${mount.mountpoint} uses no TCP endpoint (meta ${mount.meta}, storage ${mount.storage}); nothing to bypass`,
        );
      }
      const objectName = params.objectName ?? 'bypass.bpf.o';
      const elf = params.object !== undefined ? Buffer.from(params.object, 'base64') : this.bundledObject();
      const cgroup = mount.cgroup;
      // From the check to the last pin, no other agent of the node may attach (which would put
      // two bypasses on one cgroup) or take our unfinished pins for dead ones.
      return withNodeLock('attach', async () => {
        await this.releaseDeadPins(cgroup, opId);
        const other = this.foreignBypass(mount);
        if (other) {
          throw new AgentError(
            ErrorCode.Conflict,
            other.owner === 'pinned'
              ? `a pinned bypass is already attached to ${cgroup}; remove it first (dfs-ebpf detach bypass)`
              : `another connection already attached a bypass to ${cgroup} (program id ${other.programs[0]?.id}); detach it there first`,
          );
        }
        return this.attachLocked(
          { elf, objectName, mountpoint: mount.mountpoint, cgroup, endpoints },
          params.pin === true,
          opId,
        );
      });
    });
  }

  /** Load, attach and maybe pin; the node lock is held. */
  private async attachLocked(target: BypassTarget, pin: boolean, opId: number): Promise<BypassStatus> {
    const pinDir = pin ? preparePinDir(target.cgroup) : null;
    let session: BypassSession;
    try {
      session = await BypassSession.attach(this.addon, this.log, target, opId);
    } catch (err) {
      if (pinDir) rmSync(pinDir, { recursive: true, force: true });
      throw err;
    }
    const what = `${target.cgroup} for ${target.endpoints.map((e) => `${e.host}:${e.port} (${e.source})`).join(', ')}`;
    if (!pinDir) {
      this.bypass = session;
      this.log.info('bypass', `attached to ${what}, owned by this connection`, opId);
      return session.status();
    }
    try {
      const status = session.pinAndRelease(pinDir);
      writePinnedStatus(target.cgroup, status);
      this.log.info('bypass', `attached to ${what}, pinned at ${pinDir}`, opId);
      return status;
    } catch (err) {
      session.detach();
      removePinned(this.addon, target.cgroup);
      throw fromNative(err, 'pinning the bypass');
    }
  }

  /** Release a half-made pin set of this cgroup, if there is one; the node lock is held. */
  private async releaseDeadPins(cgroup: string, opId?: number): Promise<void> {
    const state = inspectPinned(this.addon, cgroup);
    if (state.kind !== 'dead') return;
    const { sockops } = removePinned(this.addon, cgroup);
    this.log.warn('bypass', `released a half-made pinned bypass at ${state.dir} (${state.why})`, opId);
    await this.awaitDetached(cgroup, sockops, opId);
  }

  /** After removing pins: wait until their sock_ops programs have left the cgroup (see pins.ts). */
  private async awaitDetached(cgroup: string, sockops: number[], opId?: number): Promise<void> {
    if (!(await detachedFromCgroup(this.addon, cgroup, sockops))) {
      this.log.warn('bypass', `sock_ops program ${sockops.join(', ')} is still attached to ${cgroup} after 2 s`, opId);
    }
  }

  /**
   * For reads: release half-made pin sets of these cgroups when the node lock is free right
   * now (else an attach is in progress, and its pins are not dead).
   */
  private async releaseDeadPinsIfIdle(cgroups: string[]): Promise<void> {
    const dead = cgroups.filter((c) => inspectPinned(this.addon, c).kind === 'dead');
    if (dead.length === 0) return;
    const lock = await tryLockNode(0);
    if (!lock) return;
    try {
      for (const c of dead) await this.releaseDeadPins(c);
    } finally {
      lock.release();
    }
  }

  /**
   * Run once at start, before any mutation: release what dead agents left (orphaned bypasses,
   * half-made pin sets of this node's mounts).
   */
  sweepAtStart(): Promise<void> {
    return this.serialize(async () => {
      try {
        sweepOrphans(this.addon, this.log);
        const cgroups = discoverJuiceFs().flatMap((m) => (m.cgroup ? [m.cgroup] : []));
        const dead = cgroups.filter((c) => inspectPinned(this.addon, c).kind === 'dead');
        if (dead.length === 0) return; // the usual case: no lock, no flock(1) process
        await withNodeLock('the sweep at start', async () => {
          for (const c of dead) await this.releaseDeadPins(c); // re-inspects under the lock
        });
      } catch (err) {
        this.log.warn('sweep', `the sweep at start failed: ${(err as Error).message}`);
      }
    });
  }

  private bundledObject(): Buffer {
    const path = join(this.bundleDir, 'bpf', 'bypass.bpf.o');
    try {
      return readFileSync(path);
    } catch {
      throw new AgentError(ErrorCode.Internal, `the agent bundle lacks ${path}; reinstall the agent`);
    }
  }

  /** Detach this connection's bypass, else remove a pinned one; another connection's is refused. */
  detachBypass(opId: number): Promise<BypassStatus> {
    return this.serialize(() => {
      const session = this.bypass;
      if (session) {
        const last = session.detach();
        this.bypass = null;
        this.log.info('bypass', `detached after ${last.redirected_msgs} redirected messages`, opId);
        return { ...detachedStatus(), counters: last };
      }
      return withNodeLock('detach', async () => {
        for (const mount of discoverJuiceFs()) {
          if (!mount.cgroup) continue;
          await this.releaseDeadPins(mount.cgroup, opId);
          const other = this.foreignBypass(mount);
          if (!other) continue;
          if (other.owner === 'other-connection') {
            throw new AgentError(
              ErrorCode.Conflict,
              `the bypass on ${mount.mountpoint} belongs to another connection (e.g. VS Code or \`attach bypass --hold\`); detach it there or close that connection`,
            );
          }
          const removed = removePinned(this.addon, mount.cgroup);
          await this.awaitDetached(mount.cgroup, removed.sockops, opId);
          const last = removed.last ?? other.counters;
          this.log.info(
            'bypass',
            `removed the pinned bypass on ${mount.cgroup} after ${last.redirected_msgs} redirected messages`,
            opId,
          );
          return { ...detachedStatus(), counters: last };
        }
        return detachedStatus();
      });
    });
  }

  /** This connection's bypass, else whatever bypass the kernel holds on a mount of this node. */
  async bypassStatus(): Promise<BypassStatus> {
    if (this.bypass) return this.bypass.status();
    const mounts = discoverJuiceFs().filter((m) => m.cgroup);
    await this.releaseDeadPinsIfIdle(mounts.map((m) => m.cgroup ?? ''));
    for (const mount of mounts) {
      const other = this.foreignBypass(mount);
      if (other) return other;
    }
    return detachedStatus();
  }

  /** Load every program of an object (never attached) and return the verifier logs. */
  verify(params: VerifyParams, opId: number): Promise<VerifyResult> {
    return verifyObject(this.addon, params, this.log, opId);
  }

  /** The BTF's digest, computed once per agent process (see verify.ts kernelBtf). */
  private readonly btfDigest: { sha256?: string } = {};

  kernelBtf(p: KernelBtfParams): KernelBtfResult {
    return kernelBtf(p, this.btfDigest);
  }

  /** Which helpers each program type may call: libbpf's probes, never attached (see editing.ts). */
  kernelHelpers(p: KernelHelpersParams, opId: number): KernelHelpersResult {
    return this.helperProbes.answer(p, opId);
  }

  /** Which kfuncs each program type may call: the verifier's verdict on a probe call (see editing.ts). */
  kernelKfuncs(p: KernelKfuncsParams, opId: number): KernelKfuncsResult {
    return this.kfuncProbes.answer(p, opId);
  }

  /** Whether tracepoints and uprobe symbols exist on this node; reads only (see editing.ts). */
  kernelTargets(p: KernelTargetsParams): KernelTargetsResult {
    return kernelTargets(p);
  }

  /** Install the client's agent bundle over this agent's own directory (see update.ts). */
  update(params: AgentUpdateParams): Promise<AgentUpdateResult> {
    return this.serialize(() => installBundle(params, this.bundleDir, this.log));
  }

  /** Where profile/update notifications go (the connection, set by server.ts). */
  onProfileUpdate(send: (u: ProfileUpdate) => void): void {
    this.sendUpdate = send;
  }

  /** Load and attach the profiler on a JuiceFS mount (see profile/session.ts). */
  startProfile(params: ProfileStartParams, opId: number): Promise<ProfileStarted> {
    return this.serialize(async () => {
      if (this.profile) {
        throw new AgentError(
          ErrorCode.Conflict,
          `profile ${this.profile.id} is already running on this connection; stop it first`,
        );
      }
      const mount = this.chooseMount(params.mountpoint);
      const config = {
        stacks: params.stacks ?? true,
        slow_request_us: params.slowRequestUs ?? PROFILE_DEFAULTS.slowRequestUs,
        stack_sample_every: params.stackSampleEvery ?? PROFILE_DEFAULTS.stackSampleEvery,
      };
      const target = {
        mount,
        dev: mountDevice(mount.mountpoint),
        endpoints: await profileEndpoints(mount.metaUrl, mount.bucketUrl),
        config,
      };
      const id = randomUUID();
      const session = ProfileSession.start(this.addon, this.log, this.bundleDir, id, target);
      const running = new RunningProfile(
        session,
        this.log,
        params.updateIntervalMs ?? PROFILE_DEFAULTS.updateIntervalMs,
        params.maxDurationS ?? PROFILE_DEFAULTS.maxDurationS,
        (u) => this.sendUpdate?.(u),
        (why) => void this.endProfile(running, why),
      );
      this.profile = running;
      this.log.info(
        'profile',
        `profile ${id} started on ${mount.mountpoint} (daemon pid ${mount.pid}, ${session.programs.length} programs, endpoints ${target.endpoints.map((e) => `${e.layer} ${e.label}`).join(', ') || 'none'})`,
        opId,
      );
      return {
        profileId: id,
        mountpoint: mount.mountpoint,
        daemonPid: mount.pid,
        juicefs: mount.version,
        started_at: session.startedAt.toISOString(),
        config,
      };
    });
  }

  /** Stop this connection's profile (or collect one that ended by itself) and answer its Profile. */
  stopProfile(params: ProfileStopParams, opId: number): Promise<Profile> {
    return this.serialize(() => {
      const running = this.profile;
      if (running && running.id === params.profileId) {
        this.profile = null;
        const profile = running.stop();
        this.log.info(
          'profile',
          `profile ${running.id} stopped after ${profile.duration_s.toFixed(1)} s; unloaded`,
          opId,
        );
        return profile;
      }
      const done = this.finished.get(params.profileId);
      if (done) {
        this.finished.delete(params.profileId);
        return done;
      }
      throw new AgentError(ErrorCode.NotFound, `no profile ${params.profileId} on this connection`);
    });
  }

  /** A profile ended by itself (max duration, daemon gone): last update, unload, keep the Profile. */
  private endProfile(running: RunningProfile, why: string): Promise<void> {
    return this.serialize(() => {
      if (this.profile !== running) return;
      this.profile = null;
      try {
        this.finished.set(running.id, running.end(why));
      } catch (err) {
        this.log.warn(
          'profile',
          `profile ${running.id} ended (${why}) but reading it failed: ${(err as Error).message}`,
        );
        running.dispose();
        return;
      }
      for (const id of this.finished.keys()) {
        if (this.finished.size <= FINISHED_KEPT) break;
        this.finished.delete(id);
      }
      this.log.info('profile', `profile ${running.id} ended: ${why}; unloaded, kept for profile/stop`);
    });
  }

  /** Release every attachment now (synchronous: safe in exit and signal handlers). */
  dispose(): void {
    this.inspector.dispose();
    if (this.profile) {
      this.profile.dispose();
      this.profile = null;
      this.log.info('agent', 'released the profile on shutdown');
    }
    if (this.bypass) {
      this.bypass.detach();
      this.bypass = null;
      this.log.info('agent', 'released the bypass on shutdown');
    }
  }
}
