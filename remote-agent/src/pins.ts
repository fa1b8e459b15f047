/**
 * Pinned bypasses: the one way an attachment outlives the connection that made it, and only
 * when the client asked (`pin: true`, the CLI's default). Pins live in bpffs under
 * /sys/fs/bpf/dfs-ebpf/bypass-<cgroup inode>/, with a JSON description in /run/dfs-ebpf/.
 * Removing the pins releases everything in the kernel.
 *
 * A pin set is written in PIN_ORDER under the node lock (lock.ts), then its description. An
 * agent that dies on the way leaves a half-made set: no stats pin, or no description, or
 * pins whose programs are gone. inspectPinned() tells complete from dead, and removePinned()
 * releases a dead set as it does a complete one; the manager does that for attach, detach
 * and status alike, holding the node lock so that an attach still in progress is never
 * taken for a dead one.
 */

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BYPASS_META_ROOT,
  BYPASS_PIN_ROOT,
  bypassPinName,
  ErrorCode,
  type BypassCounters,
  type BypassStatus,
} from '@dfs/protocol';
import { AgentError } from './errors';
import type { Addon } from './native';
import { readCounters } from './stats';
import { clearSockhash } from './sweep';

const BPFFS = '/sys/fs/bpf';

/**
 * File names in a pin directory, in the order they are pinned. The sockhash goes first, so
 * that whoever finds a half-made set can always empty it; the stats map goes last, and with
 * the description after it marks the set complete.
 */
export const PIN_ORDER = {
  sockhash: 'map_sockhash',
  /** Absent when the kernel offers only a legacy sk_msg attachment (then the sockhash pin holds it). */
  skmsgLink: 'link_sk_msg',
  /** The program array: while it is pinned, the stub reaches the redirect program. */
  jump: 'map_jump',
  sockopsLink: 'link_sock_ops',
  policy: 'map_policy',
  stats: 'stats',
} as const;

function key(cgroup: string): string {
  return bypassPinName(statSync(cgroup).ino);
}

export function pinDir(cgroup: string): string {
  return join(BYPASS_PIN_ROOT, key(cgroup));
}

function metaFile(cgroup: string): string {
  return join(BYPASS_META_ROOT, `${key(cgroup)}.json`);
}

function bpffsMounted(): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => {
      const f = l.split(' ');
      return f[1] === BPFFS && f[2] === 'bpf';
    });
}

/** Create the pin directory for a cgroup (fails clearly without bpffs). Call with the node lock held. */
export function preparePinDir(cgroup: string): string {
  if (!bpffsMounted()) {
    throw new AgentError(
      ErrorCode.KernelFeatureMissing,
      `bpffs is not mounted at ${BPFFS}, so the bypass cannot be pinned; mount it (mount -t bpf bpf ${BPFFS}) or attach without pinning`,
    );
  }
  const dir = pinDir(cgroup);
  if (existsSync(dir))
    throw new AgentError(ErrorCode.Conflict, `a pinned bypass already exists at ${dir}; detach it first`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function writePinnedStatus(cgroup: string, status: BypassStatus): void {
  mkdirSync(BYPASS_META_ROOT, { recursive: true, mode: 0o700 });
  writeFileSync(metaFile(cgroup), JSON.stringify({ ...status, counters: undefined }) + '\n', { mode: 0o600 });
}

export type PinState =
  | { kind: 'none' }
  | { kind: 'complete'; status: BypassStatus }
  /** Left by an attach that died on the way, or pins whose programs are gone. */
  | { kind: 'dead'; dir: string; why: string };

function readDescription(cgroup: string): BypassStatus | null {
  try {
    const parsed = JSON.parse(readFileSync(metaFile(cgroup), 'utf8')) as Partial<BypassStatus> | null;
    return parsed && Array.isArray(parsed.programs) ? (parsed as BypassStatus) : null;
  } catch {
    return null;
  }
}

/** Is every program of the description still in the kernel (and the sock_ops one attached)? */
function missingProgram(addon: Addon, cgroup: string, status: BypassStatus): string | null {
  const onCgroup = new Set(addon.cgroupProgIds(cgroup, 'cgroup_sock_ops'));
  for (const p of status.programs) {
    const alive = p.type === 'sock_ops' ? onCgroup.has(p.id) : addon.progNameById(p.id) === p.name;
    if (!alive) return `program ${p.name} (id ${p.id}) is gone`;
  }
  return status.programs.length === 0 ? 'its description lists no program' : null;
}

/** What the pins of a cgroup's bypass amount to. Cheap when there are none (two stats). */
export function inspectPinned(addon: Addon, cgroup: string): PinState {
  const dir = pinDir(cgroup);
  if (!existsSync(dir)) {
    return existsSync(metaFile(cgroup)) ? { kind: 'dead', dir, why: 'a description without pins' } : { kind: 'none' };
  }
  if (!existsSync(join(dir, PIN_ORDER.stats))) {
    return { kind: 'dead', dir, why: 'no stats pin: the attach that made it did not finish' };
  }
  const status = readDescription(cgroup);
  if (!status) return { kind: 'dead', dir, why: `no readable description in ${BYPASS_META_ROOT}` };
  const missing = missingProgram(addon, cgroup, status);
  if (missing) return { kind: 'dead', dir, why: missing };
  return {
    kind: 'complete',
    status: { ...status, attached: true, owner: 'pinned', counters: pinnedCounters(addon, dir) },
  };
}

/** The complete pinned bypass for a cgroup with live counters, or null (none, or a dead set). */
export function readPinned(addon: Addon, cgroup: string): BypassStatus | null {
  const state = inspectPinned(addon, cgroup);
  return state.kind === 'complete' ? state.status : null;
}

function pinnedCounters(addon: Addon, dir: string): BypassCounters {
  const fd = addon.openPinned(join(dir, PIN_ORDER.stats));
  try {
    return readCounters(addon, fd);
  } finally {
    addon.closeFd(fd);
  }
}

/** Ids of the maps pinned in a directory (through their pins). */
function pinnedMapIds(addon: Addon, dir: string): Set<number> {
  const ids = new Set<number>();
  for (const name of [PIN_ORDER.sockhash, PIN_ORDER.jump, PIN_ORDER.policy, PIN_ORDER.stats]) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    const fd = addon.openPinned(path);
    try {
      ids.add(addon.mapInfo(fd).id);
    } finally {
      addon.closeFd(fd);
    }
  }
  return ids;
}

export interface Removed {
  /** The last counters, when the stats pin was there. */
  last: BypassCounters | null;
  /** sock_ops programs on the cgroup that belonged to the pins (see detachedFromCgroup). */
  sockops: number[];
}

/**
 * Remove the pins and the description (which releases the bypass in the kernel), complete or
 * half-made.
 */
export function removePinned(addon: Addon, cgroup: string): Removed {
  const dir = pinDir(cgroup);
  const removed: Removed = { last: null, sockops: [] };
  if (existsSync(dir)) {
    if (existsSync(join(dir, PIN_ORDER.stats))) removed.last = pinnedCounters(addon, dir);
    const maps = pinnedMapIds(addon, dir);
    removed.sockops = addon
      .cgroupProgIds(cgroup, 'cgroup_sock_ops')
      .filter((id) => (addon.progMapIds(id) ?? []).some((m) => maps.has(m)));
    removePinDir(addon, dir);
  }
  rmSync(metaFile(cgroup), { force: true });
  return removed;
}

/**
 * Remove one pin directory. The kernel frees a sockhash by itself once the pins go (the stub
 * structure), but a pin set of an older agent may hold a sockhash used by the attached
 * program: empty it first.
 */
function removePinDir(addon: Addon, dir: string): void {
  if (existsSync(join(dir, PIN_ORDER.sockhash))) {
    const fd = addon.openPinned(join(dir, PIN_ORDER.sockhash));
    try {
      clearSockhash(addon, fd);
    } finally {
      addon.closeFd(fd);
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

/** Every pinned bypass of ours released, with its description (`node uninstall`); returns how many. */
export function removeAllPinned(addon: Addon): number {
  const dirs = existsSync(BYPASS_PIN_ROOT) ? readdirSync(BYPASS_PIN_ROOT) : [];
  for (const name of dirs) removePinDir(addon, join(BYPASS_PIN_ROOT, name));
  rmSync(BYPASS_PIN_ROOT, { recursive: true, force: true });
  rmSync(BYPASS_META_ROOT, { recursive: true, force: true });
  return dirs.length;
}

/**
 * The kernel drops a pinned link a moment after its pin is removed (the bpffs inode goes after
 * an RCU grace period), so a check right after removePinned could still see the sock_ops program
 * on the cgroup and take it for another connection's. Wait (bounded) until it is gone; false
 * if it is still there after `ms`.
 */
export async function detachedFromCgroup(addon: Addon, cgroup: string, sockops: number[], ms = 2000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const attached = new Set(addon.cgroupProgIds(cgroup, 'cgroup_sock_ops'));
    if (!sockops.some((id) => attached.has(id))) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
}
