/**
 * The agent's state and the only place that changes it. Mutations (attach, detach) run one
 * at a time through a queue; reads may run any time. Every attachment is owned by this
 * agent process, which serves exactly one client connection: dispose() (on disconnect,
 * signal or crash) releases everything, and the kernel would release the fds anyway.
 */

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
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
  type KernelBtfResult,
  type VerifyParams,
  type VerifyResult,
} from '@dfs/protocol';
import { rmSync } from 'node:fs';
import { BypassSession, detachedStatus } from './bypass';
import { AgentError, fromNative } from './errors';
import { discoverJuiceFs, publicMount, type DiscoveredMount } from './juicefs';
import { BYPASS_FEATURES, kernelInfo, probeFeatures } from './kernel';
import type { AgentLog } from './log';
import type { Addon } from './native';
import { preparePinDir, readPinned, removePinned, writePinnedStatus } from './pins';
import { buildPolicy } from './policy';
import { countersOfProgram } from './stats';
import { installBundle } from './update';
import { kernelBtf, verifyObject } from './verify';
import { AGENT_BUILD, AGENT_VERSION } from './version';

export class Manager {
  private bypass: BypassSession | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly features;

  constructor(
    private readonly addon: Addon,
    private readonly log: AgentLog,
    /** Directory of the agent bundle (holds bpf/bypass.bpf.o). */
    private readonly bundleDir: string,
  ) {
    this.features = probeFeatures(addon, join(bundleDir, 'bpf', 'probes'));
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

  private chooseMount(mountpoint: string | undefined): DiscoveredMount {
    const mounts = discoverJuiceFs();
    if (mountpoint !== undefined) {
      const m = mounts.find((x) => x.mountpoint === mountpoint);
      if (!m) {
        throw new AgentError(
          ErrorCode.JuiceFsNotFound,
          `no JuiceFS mount at ${mountpoint} in this node's network namespace (found: ${mounts.map((x) => x.mountpoint).join(', ') || 'none'})`,
        );
      }
      return m;
    }
    const [only, ...more] = mounts;
    if (!only) throw new AgentError(ErrorCode.JuiceFsNotFound, 'no JuiceFS mount on this node; mount one first');
    if (more.length > 0) {
      throw new AgentError(
        ErrorCode.BadRequest,
        `several JuiceFS mounts on this node (${mounts.map((x) => x.mountpoint).join(', ')}); say which one`,
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
      const other = this.foreignBypass(mount);
      if (other) {
        throw new AgentError(
          ErrorCode.Conflict,
          other.owner === 'pinned'
            ? `a pinned bypass is already attached to ${mount.cgroup}; remove it first (dfs-ebpf detach bypass)`
            : `another connection already attached a bypass to ${mount.cgroup} (program id ${other.programs[0]?.id}); detach it there first`,
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
      const pinDir = params.pin ? preparePinDir(mount.cgroup) : null;
      let session: BypassSession;
      try {
        session = await BypassSession.attach(
          this.addon,
          this.log,
          { elf, objectName, mountpoint: mount.mountpoint, cgroup: mount.cgroup, endpoints },
          opId,
        );
      } catch (err) {
        if (pinDir) rmSync(pinDir, { recursive: true, force: true });
        throw err;
      }
      const what = `${mount.cgroup} for ${endpoints.map((e) => `${e.host}:${e.port} (${e.source})`).join(', ')}`;
      if (!pinDir) {
        this.bypass = session;
        this.log.info('bypass', `attached to ${what}, owned by this connection`, opId);
        return session.status();
      }
      try {
        const status = session.pinAndRelease(pinDir);
        writePinnedStatus(mount.cgroup, status);
        this.log.info('bypass', `attached to ${what}, pinned at ${pinDir}`, opId);
        return status;
      } catch (err) {
        session.detach();
        rmSync(pinDir, { recursive: true, force: true });
        throw fromNative(err, 'pinning the bypass');
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
      for (const mount of discoverJuiceFs()) {
        const other = this.foreignBypass(mount);
        if (!other) continue;
        if (other.owner === 'other-connection') {
          throw new AgentError(
            ErrorCode.Conflict,
            `the bypass on ${mount.mountpoint} belongs to another connection (e.g. VS Code or \`attach bypass --hold\`); detach it there or close that connection`,
          );
        }
        const last = removePinned(this.addon, mount.cgroup) ?? other.counters;
        this.log.info(
          'bypass',
          `removed the pinned bypass on ${mount.cgroup} after ${last.redirected_msgs} redirected messages`,
          opId,
        );
        return { ...detachedStatus(), counters: last };
      }
      return detachedStatus();
    });
  }

  /** This connection's bypass, else whatever bypass the kernel holds on a mount of this node. */
  bypassStatus(): BypassStatus {
    if (this.bypass) return this.bypass.status();
    for (const mount of discoverJuiceFs()) {
      if (!mount.cgroup) continue;
      const other = this.foreignBypass(mount);
      if (other) return other;
    }
    return detachedStatus();
  }

  /** Load every program of an object (never attached) and return the verifier logs. */
  verify(params: VerifyParams, opId: number): Promise<VerifyResult> {
    return verifyObject(this.addon, params, this.log, opId);
  }

  kernelBtf(): KernelBtfResult {
    const btf = kernelBtf();
    return {
      release: kernelInfo().release,
      sha256: createHash('sha256').update(btf).digest('hex'),
      btfGz: gzipSync(btf).toString('base64'),
    };
  }

  /** Install the client's agent bundle over this agent's own directory (see update.ts). */
  update(params: AgentUpdateParams): Promise<AgentUpdateResult> {
    return this.serialize(() => installBundle(params, this.bundleDir, this.log));
  }

  /** Release every attachment now (synchronous: safe in exit and signal handlers). */
  dispose(): void {
    if (this.bypass) {
      this.bypass.detach();
      this.bypass = null;
      this.log.info('agent', 'released the bypass on shutdown');
    }
  }
}
