/**
 * One attached socket bypass: the loaded object of bpf/bypass.bpf.c (or the user's build of
 * it), its sk_msg link on the sockhash and its sock_ops link on the JuiceFS cgroup, the
 * policy it was given, and its counters. Everything is fd-owned by this process: detach()
 * or process exit releases it all in the kernel. That holds for the sockhash too only because
 * of the object's structure (BYPASS_OBJECT): the attached sk_msg program is a stub that
 * reaches the redirect through a program array, which the kernel empties when this process's
 * last fd of it closes; openAndLoad() refuses objects without that structure.
 * The object may be the client's: `attach` first opens, checks and loads it in a sandbox
 * child (sandbox.ts, `checkBypassHere`), so that a damaged object that crashes libbpf is a
 * BadObject, and only then loads it for real here.
 */

import { join } from 'node:path';
import {
  BYPASS_ENDPOINT_KEY_SIZE,
  BYPASS_JUMP_REDIRECT,
  BYPASS_OBJECT,
  BYPASS_POLICY_VALUE_SIZE,
  BYPASS_STATS_SIZE,
  ErrorCode,
  type AttachedProgram,
  type BypassCounters,
  type BypassStatus,
  type PolicyEndpoint,
} from '@dfs/protocol';
import { AgentError, fromNative } from './errors';
import type { AgentLog } from './log';
import type { Addon, BpfLink, BpfObject, LoadResult, MapInfo, ProgramInfo } from './native';
import { adoptExisting } from './adopt';
import { PIN_ORDER } from './pins';
import { clearSockhash } from './sweep';
import { policyKey, policyValue } from './policy';
import { readCounters, zeroCounters } from './stats';
import { CHECK_LIMITS, runSandboxed, type SandboxOptions } from './sandbox';
import { programsOf } from './verify';

const TRAMPOLINE_ATTACH = new Set(['trace_fentry', 'trace_fexit', 'modify_return', 'lsm_mac']);
const LOG_SIZE = 4 << 20;

export interface BypassTarget {
  elf: Buffer;
  objectName: string;
  mountpoint: string;
  cgroup: string;
  endpoints: PolicyEndpoint[];
}

export function detachedStatus(): BypassStatus {
  return {
    attached: false,
    owner: null,
    objectName: null,
    mountpoint: null,
    cgroup: null,
    endpoints: [],
    programs: [],
    counters: zeroCounters(),
    adoptedSockets: 0,
    remoteLeftAtAttach: 0,
    attachedAt: null,
  };
}

/** How often a held bypass looks for pre-existing connections that became idle enough to adopt. */
const ADOPT_INTERVAL_MS = 1000;

/** Why the stub structure exists, for objects written before it. */
const STRUCTURE_HINT = `a bypass attaches a stub ${BYPASS_OBJECT.skmsgProgram} that tail-calls ${BYPASS_OBJECT.redirectProgram} through the program array ${BYPASS_OBJECT.jumpMap}, so that it cannot outlive its owner; see bpf/bypass.bpf.c`;

function requireProgram(progs: ProgramInfo[], name: string, type: string, hint = ''): void {
  const p = progs.find((x) => x.name === name);
  if (!p) {
    throw new AgentError(
      ErrorCode.BadObject,
      `the object has no program named ${name} (a ${type} program)${hint ? `: ${hint}` : ''}`,
    );
  }
  if (p.type !== type) {
    throw new AgentError(ErrorCode.BadObject, `program ${name} is of type ${p.type}, expected ${type}`);
  }
}

interface MapSizes {
  value?: number;
  key?: number;
}

function requireMap(maps: MapInfo[], name: string, type: string, sizes: MapSizes = {}, hint = ''): void {
  const m = maps.find((x) => x.name === name);
  if (!m) {
    throw new AgentError(
      ErrorCode.BadObject,
      `the object has no map named ${name} (a ${type} map)${hint ? `: ${hint}` : ''}`,
    );
  }
  if (m.type !== type) throw new AgentError(ErrorCode.BadObject, `map ${name} is a ${m.type}, expected ${type}`);
  for (const [what, got, want] of [
    ['values', m.valueSize, sizes.value],
    ['keys', m.keySize, sizes.key],
  ] as const) {
    if (want !== undefined && got !== want) {
      throw new AgentError(
        ErrorCode.BadObject,
        `map ${name} has ${got}-byte ${what}, expected ${want} (struct in bpf/bypass.h changed?)`,
      );
    }
  }
}

/** The maps of an opened object; a name that is not valid UTF-8 (EILSEQ in the addon) is a BadObject. */
function mapsOf(obj: BpfObject, objectName: string): MapInfo[] {
  try {
    return obj.maps();
  } catch (err) {
    throw new AgentError(ErrorCode.BadObject, `${objectName}: ${(err as Error).message.split('\n').join('; ')}`);
  }
}

/** Why a load failed, coded: trampolines refused, a verifier rejection, or the errno. */
function loadError(res: LoadResult, progs: ProgramInfo[], objectName: string): AgentError {
  const tramp = progs.find((p) => TRAMPOLINE_ATTACH.has(p.attachType));
  // As root, EPERM from a load with a trampoline program is the kernel refusing trampolines.
  if (res.errno === 1 && tramp) {
    return new AgentError(
      ErrorCode.KernelFeatureMissing,
      `program ${tramp.name} (${tramp.section}) needs BPF trampolines (fentry/fexit/LSM), which this kernel refuses; use tp_btf, raw_tp or tracepoints instead`,
      `bpf_object__load: EPERM before verification of ${tramp.name}`,
    );
  }
  if (res.log.trim() !== '') {
    return new AgentError(ErrorCode.VerifierRejected, `the verifier rejected ${objectName}`, res.log);
  }
  return fromNative(
    Object.assign(new Error(res.messages.split('\n')[0] || 'load failed'), {
      errno: res.errno,
      op: 'bpf_object__load',
    }),
    `loading ${objectName}`,
  );
}

/**
 * The attached stub must use its program array and nothing else: with the sockhash, each
 * socket's reference to the stub would keep the sockhash alive after its owner (the cycle
 * this structure exists to break); and the sweep recognises a stub by its single map, which it
 * must never open by id (sweep.ts).
 */
function requireStubStructure(addon: Addon, obj: BpfObject): void {
  const stub = obj.programs().find((p) => p.name === BYPASS_OBJECT.skmsgProgram);
  const jump = obj.maps().find((m) => m.name === BYPASS_OBJECT.jumpMap);
  const used = stub ? (addon.progMapIds(stub.id) ?? []) : [];
  if (!stub || !jump || used.length !== 1 || used[0] !== jump.id) {
    const names = obj
      .maps()
      .filter((m) => used.includes(m.id) && m.id !== jump?.id)
      .map((m) => m.name);
    throw new AgentError(
      ErrorCode.BadObject,
      `program ${BYPASS_OBJECT.skmsgProgram} uses ${names.join(', ') || `no ${BYPASS_OBJECT.jumpMap}`}; it must only tail-call ${BYPASS_OBJECT.redirectProgram} through ${BYPASS_OBJECT.jumpMap} (see bpf/bypass.bpf.c), else the bypass could outlive its owner`,
    );
  }
}

/**
 * Open the object, check that it is a bypass (programs and maps of the right types and sizes,
 * the stub structure) and load it; returns the loaded object, or throws a coded error with
 * nothing left open.
 */
function openAndLoad(addon: Addon, elf: Buffer, objectName: string): { obj: BpfObject; progs: ProgramInfo[] } {
  let obj: BpfObject;
  try {
    obj = addon.openObject(elf, { name: objectName, logLevel: 1, logSize: LOG_SIZE });
  } catch (err) {
    const why = (err as Error).message.split('\n').join('; ');
    throw new AgentError(ErrorCode.BadObject, `${objectName} is not a loadable BPF object: ${why}`);
  }
  try {
    const progs = programsOf(obj, objectName);
    requireProgram(progs, BYPASS_OBJECT.sockopsProgram, 'sock_ops');
    requireProgram(progs, BYPASS_OBJECT.skmsgProgram, 'sk_msg');
    requireProgram(progs, BYPASS_OBJECT.redirectProgram, 'sk_msg', STRUCTURE_HINT);
    const maps = mapsOf(obj, objectName);
    requireMap(maps, BYPASS_OBJECT.sockhashMap, 'sockhash');
    requireMap(maps, BYPASS_OBJECT.policyMap, 'hash', {
      value: BYPASS_POLICY_VALUE_SIZE,
      key: BYPASS_ENDPOINT_KEY_SIZE,
    });
    requireMap(maps, BYPASS_OBJECT.statsMap, 'percpu_array', { value: BYPASS_STATS_SIZE, key: 4 });
    requireMap(maps, BYPASS_OBJECT.jumpMap, 'prog_array', {}, STRUCTURE_HINT);
    let res: LoadResult;
    try {
      res = obj.load();
    } catch (err) {
      throw fromNative(err, `loading ${objectName}`);
    }
    if (res.errno !== 0) throw loadError(res, progs, objectName);
    requireStubStructure(addon, obj);
    return { obj, progs };
  } catch (err) {
    obj.close();
    throw err;
  }
}

/** The sandbox child's side of `attach`: open, check and load as attach will, then close. */
export function checkBypassHere(addon: Addon, elf: Buffer, objectName: string): true {
  openAndLoad(addon, elf, objectName).obj.close();
  return true;
}

export class BypassSession {
  private readonly links: BpfLink[] = [];
  /** fd of the loaded bypass_stats map (set right after load). */
  private statsFd = -1;
  private readonly attachedAt = new Date().toISOString();
  private programs: AttachedProgram[] = [];
  private closed = false;
  private readonly adopted = new Set<number>();
  private adoptedCount = 0;
  private remoteLeftCount = 0;
  private adoptTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly addon: Addon,
    private readonly obj: BpfObject,
    private readonly target: BypassTarget,
  ) {}

  /**
   * Check the object in a sandbox child, then open, check, load and attach it here; on any
   * failure nothing stays loaded or attached.
   */
  static async attach(
    addon: Addon,
    log: AgentLog,
    target: BypassTarget,
    opId: number,
    opts: SandboxOptions = {},
  ): Promise<BypassSession> {
    const job = { kind: 'check-bypass' as const, objectName: target.objectName };
    await runSandboxed(job, target.elf, (r) => (r === true ? r : null), log, opId, CHECK_LIMITS, opts);
    const { obj, progs } = openAndLoad(addon, target.elf, target.objectName);
    try {
      const session = new BypassSession(addon, obj, target);
      log.info('bypass', `loaded ${target.objectName} (${progs.length} programs)`, opId);
      session.attachLoaded(log, opId);
      return session;
    } catch (err) {
      obj.close();
      throw fromNative(err, `attaching ${target.objectName}`);
    }
  }

  private attachLoaded(log: AgentLog, opId: number): void {
    const { obj, target } = this;
    const slot = Buffer.alloc(4);
    slot.writeUInt32LE(BYPASS_JUMP_REDIRECT);
    const redirectFd = Buffer.alloc(4);
    redirectFd.writeUInt32LE(obj.programFd(BYPASS_OBJECT.redirectProgram));
    try {
      this.addon.mapUpdate(obj.mapFd(BYPASS_OBJECT.jumpMap), slot, redirectFd, 0);
    } catch (err) {
      throw fromNative(err, `putting ${BYPASS_OBJECT.redirectProgram} into ${BYPASS_OBJECT.jumpMap}`);
    }
    try {
      this.statsFd = obj.mapFd(BYPASS_OBJECT.statsMap);
      const policyFd = obj.mapFd(BYPASS_OBJECT.policyMap);
      for (const ep of target.endpoints) this.addon.mapUpdate(policyFd, policyKey(ep), policyValue(), 0);
    } catch (err) {
      throw fromNative(err, `filling the policy of ${target.objectName}`);
    }

    try {
      // The sk_msg verdict first: a socket added by sock_ops is redirected from its first send.
      this.links.push(obj.attachToMap(BYPASS_OBJECT.skmsgProgram, BYPASS_OBJECT.sockhashMap, 'sk_msg_verdict'));
      this.links.push(obj.attachCgroup(BYPASS_OBJECT.sockopsProgram, target.cgroup));
    } catch (err) {
      this.destroyLinks();
      throw fromNative(err, `attaching the bypass to ${target.cgroup}`);
    }
    const loaded = obj.programs();
    const idOf = (name: string): number => loaded.find((p) => p.name === name)?.id ?? 0;
    this.programs = [
      {
        id: idOf(BYPASS_OBJECT.skmsgProgram),
        name: BYPASS_OBJECT.skmsgProgram,
        type: 'sk_msg',
        linkId: this.links[0]?.id || null,
      },
      {
        id: idOf(BYPASS_OBJECT.sockopsProgram),
        name: BYPASS_OBJECT.sockopsProgram,
        type: 'sock_ops',
        linkId: this.links[1]?.id || null,
      },
      // Not attached: reached from the stub through bypass_jump.
      { id: idOf(BYPASS_OBJECT.redirectProgram), name: BYPASS_OBJECT.redirectProgram, type: 'sk_msg', linkId: null },
    ];
    this.adoptNow(log, opId);
    this.adoptTimer = setInterval(() => this.adoptNow(log), ADOPT_INTERVAL_MS);
    this.adoptTimer.unref();
  }

  /** Hand connections that predate the attach to the bypass (see adopt.ts). */
  private adoptNow(log: AgentLog, opId?: number): void {
    if (this.closed) return;
    try {
      const sockhashFd = this.obj.mapFd(BYPASS_OBJECT.sockhashMap);
      const r = adoptExisting(this.addon, sockhashFd, this.target.cgroup, this.target.endpoints, this.adopted);
      this.adoptedCount += r.added;
      this.remoteLeftCount += r.remote;
      if (r.added > 0 || r.busy > 0) {
        log.info(
          'bypass',
          `adopted ${r.added} existing connections${r.busy ? `, ${r.busy} busy (retrying)` : ''}`,
          opId,
        );
      }
    } catch (err) {
      log.warn('bypass', `adopting existing connections failed: ${(err as Error).message}`, opId);
    }
  }

  counters(): BypassCounters {
    return readCounters(this.addon, this.statsFd);
  }

  status(): BypassStatus {
    return {
      attached: !this.closed,
      owner: 'this-connection',
      objectName: this.target.objectName,
      mountpoint: this.target.mountpoint,
      cgroup: this.target.cgroup,
      endpoints: this.target.endpoints,
      programs: this.programs,
      counters: this.counters(),
      adoptedSockets: this.adoptedCount,
      remoteLeftAtAttach: this.remoteLeftCount,
      attachedAt: this.attachedAt,
    };
  }

  private destroyLinks(): void {
    // Reverse order: stop adding sockets before removing the redirect.
    for (const l of this.links.splice(0).reverse()) l.destroy();
  }

  /**
   * Pin the attachment in `dir` (bpffs) in PIN_ORDER so it outlives this process, then let go
   * of it: afterwards this session owns nothing and the pins are the only owner.
   */
  pinAndRelease(dir: string): BypassStatus {
    const [skmsg, sockops] = this.links;
    if (!skmsg || !sockops) throw new AgentError(ErrorCode.Internal, 'cannot pin a bypass that is not attached');
    const { addon, obj } = this;
    const pin = (fd: number, name: string): void => addon.pinFd(fd, join(dir, name));
    pin(obj.mapFd(BYPASS_OBJECT.sockhashMap), PIN_ORDER.sockhash); // also holds a legacy sk_msg attachment
    if (skmsg.id > 0) pin(skmsg.fd, PIN_ORDER.skmsgLink);
    pin(obj.mapFd(BYPASS_OBJECT.jumpMap), PIN_ORDER.jump); // else the kernel empties it when we close it
    pin(sockops.fd, PIN_ORDER.sockopsLink);
    pin(obj.mapFd(BYPASS_OBJECT.policyMap), PIN_ORDER.policy);
    pin(this.statsFd, PIN_ORDER.stats);
    const status: BypassStatus = { ...this.status(), owner: 'pinned' };
    clearInterval(this.adoptTimer);
    for (const l of this.links.splice(0)) {
      // A kernel link stays attached while its pin holds it: closing our fd is enough, and
      // disconnecting first would leave that fd open in this process (libbpf then skips the
      // close), keeping the link attached after `detach bypass` removed the pins. A legacy
      // attachment has no fd of its own; disconnected, destroy() does not detach it.
      if (l.id === 0) l.disconnect();
      l.destroy();
    }
    obj.close();
    this.closed = true;
    return status;
  }

  /** Detach and unload; returns the final counters. Idempotent. */
  detach(): BypassCounters {
    if (this.closed) return zeroCounters();
    clearInterval(this.adoptTimer);
    const last = this.counters();
    // The kernel would free the sockhash once our fds close (the stub structure), but emptying
    // it first stops every redirect before detach returns.
    clearSockhash(this.addon, this.obj.mapFd(BYPASS_OBJECT.sockhashMap));
    this.destroyLinks();
    this.obj.close();
    this.closed = true;
    return last;
  }
}
