/**
 * Pinned bypasses: the one way an attachment outlives the connection that made it, and only
 * when the client asked (`pin: true`, the CLI's default). Pins live in bpffs under
 * /sys/fs/bpf/dfs-ebpf/bypass-<cgroup inode>/ (links, or the sockhash when the kernel only
 * offers a legacy sk_msg attachment, plus the stats map), with a JSON description in
 * /run/dfs-ebpf/. Removing the pins releases everything in the kernel.
 */

import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
export const STATS_PIN = 'stats';
export const SOCKHASH_PIN = 'map_sockhash';

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

/** Create the pin directory for a cgroup (fails clearly without bpffs). */
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

/** The pinned bypass for a cgroup with live counters, or null. */
export function readPinned(addon: Addon, cgroup: string): BypassStatus | null {
  const dir = pinDir(cgroup);
  if (!existsSync(join(dir, STATS_PIN))) return null;
  let status: BypassStatus;
  try {
    status = JSON.parse(readFileSync(metaFile(cgroup), 'utf8')) as BypassStatus;
  } catch {
    throw new AgentError(
      ErrorCode.Internal,
      `pinned bypass at ${dir} has no description in ${BYPASS_META_ROOT}; remove ${dir} to release it`,
    );
  }
  return { ...status, attached: true, owner: 'pinned', counters: pinnedCounters(addon, dir) };
}

function pinnedCounters(addon: Addon, dir: string): BypassCounters {
  const fd = addon.openPinned(join(dir, STATS_PIN));
  try {
    return readCounters(addon, fd);
  } finally {
    addon.closeFd(fd);
  }
}

/** Remove the pins (which releases the bypass in the kernel); returns the last counters. */
export function removePinned(addon: Addon, cgroup: string): BypassCounters | null {
  const dir = pinDir(cgroup);
  if (!existsSync(dir)) return null;
  const last = existsSync(join(dir, STATS_PIN)) ? pinnedCounters(addon, dir) : null;
  if (existsSync(join(dir, SOCKHASH_PIN))) {
    const fd = addon.openPinned(join(dir, SOCKHASH_PIN));
    try {
      clearSockhash(addon, fd); // else its sockets keep the program alive after the pins go
    } finally {
      addon.closeFd(fd);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(metaFile(cgroup), { force: true });
  return last;
}
