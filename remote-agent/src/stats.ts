/**
 * Reading the bypass counters from a `bypass_stats` per-CPU array by fd: one slot, one
 * `struct bypass_stats` per possible CPU, summed. Shared by the agent's own session, pinned
 * bypasses and bypasses held by other connections.
 */

import { BYPASS_STATS_FIELDS, BYPASS_STATS_SIZE, type BypassCounters } from '@dfs/protocol';
import type { Addon } from './native';

export function zeroCounters(): BypassCounters {
  return Object.fromEntries(BYPASS_STATS_FIELDS.map((f) => [f, 0])) as BypassCounters;
}

export function readCounters(addon: Addon, statsFd: number): BypassCounters {
  const ncpu = addon.numPossibleCpus();
  const raw = addon.mapLookup(statsFd, Buffer.alloc(4), ncpu * BYPASS_STATS_SIZE);
  const sums = zeroCounters();
  if (!raw) return sums;
  for (let cpu = 0; cpu < ncpu; cpu++) {
    BYPASS_STATS_FIELDS.forEach((f, i) => {
      sums[f] += Number(raw.readBigUInt64LE(cpu * BYPASS_STATS_SIZE + i * 8));
    });
  }
  return sums;
}

/** Counters of a bypass attached by someone else, found through its program's maps. */
export function countersOfProgram(addon: Addon, progId: number, statsMapName: string): BypassCounters | null {
  for (const mapId of addon.progMapIds(progId) ?? []) {
    let fd: number;
    try {
      fd = addon.mapFdById(mapId);
    } catch {
      continue; // the map went away while we looked
    }
    try {
      if (addon.mapInfo(fd).name === statsMapName) return readCounters(addon, fd);
    } finally {
      addon.closeFd(fd);
    }
  }
  return null;
}
