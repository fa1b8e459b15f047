/**
 * Releasing what the kernel cannot free by itself. A socket in a sockhash holds a reference to
 * the sk_msg program attached to the map; if that program used the sockhash, closing every fd
 * (detach, agent exit) would not break the cycle, and the program would keep redirecting those
 * long-lived JuiceFS connections with nobody owning it. Our bypass object is built so that the
 * kernel breaks it by itself (bpf/bypass.bpf.c: the attached program is a stub that reaches
 * the redirect through a program array, emptied when its owner's last fd or pin goes), and
 * owners still empty the sockhash before letting go (clearSockhash) so redirects stop at once.
 *
 * sweepOrphans() is the fallback for bypasses without that structure (left by an older agent)
 * and for the redirect program of a half-made pin set: any bypass sockhash that a redirecting
 * program uses but no live sock_ops program does (every held or pinned bypass has one, loaded
 * with it and attached by a link) is orphaned and emptied, which lets the kernel free it. The
 * agent sweeps at every start, and its wrapper sweeps after an agent that died uncleanly.
 */

import { BYPASS_OBJECT } from '@dfs/protocol';
import type { AgentLog } from './log';
import type { Addon } from './native';

/** Delete every entry of a sockhash/sockmap by fd; returns how many were removed. */
export function clearSockhash(addon: Addon, fd: number): number {
  const { keySize } = addon.mapInfo(fd);
  let removed = 0;
  // Bounded: a map cannot hold more than max_entries, and each pass deletes the first key.
  for (let key = addon.mapNextKey(fd, null, keySize); key !== null; key = addon.mapNextKey(fd, null, keySize)) {
    if (addon.mapDelete(fd, key)) removed++;
    if (removed > 1 << 20) break;
  }
  return removed;
}

/**
 * The maps of a program that carry `name`, found by opening each by id. Never call it on a
 * stub (see isStub): opening a program array by id in the moment after its owner died makes
 * the kernel (6.18, kernel/bpf/arraymap.c prog_array_map_clear) schedule its clearing work a
 * second time while the first is pending, which leaks a reference: the emptied array then
 * stays forever.
 */
function mapsNamed(addon: Addon, progId: number, name: string): number[] {
  const out: number[] = [];
  for (const mapId of addon.progMapIds(progId) ?? []) {
    let fd: number;
    try {
      fd = addon.mapFdById(mapId);
    } catch {
      continue;
    }
    try {
      if (addon.mapInfo(fd).name === name) out.push(mapId);
    } finally {
      addon.closeFd(fd);
    }
  }
  return out;
}

/**
 * Is this attached sk_msg program a stub of the current structure? A stub's only map is its
 * program array (bypass.ts refuses stubs that use any other map), while the older attached
 * program used the sockhash and the stats map. A stub's map is never opened here.
 */
function isStub(addon: Addon, progId: number): boolean {
  return (addon.progMapIds(progId) ?? []).length === 1;
}

/** Empty the sockhash of every orphaned bypass; returns the number of sockets released. */
export function sweepOrphans(addon: Addon, log: AgentLog): number {
  const sockops: number[] = [];
  const redirecting: number[] = []; // the old attached program, and the tail-called one
  for (const id of addon.allProgIds()) {
    const name = addon.progNameById(id);
    if (name === BYPASS_OBJECT.sockopsProgram) sockops.push(id);
    else if (name === BYPASS_OBJECT.redirectProgram) redirecting.push(id);
    else if (name === BYPASS_OBJECT.skmsgProgram && !isStub(addon, id)) redirecting.push(id);
  }
  const live = new Set(sockops.flatMap((id) => mapsNamed(addon, id, BYPASS_OBJECT.sockhashMap)));
  let released = 0;
  for (const prog of redirecting) {
    for (const mapId of mapsNamed(addon, prog, BYPASS_OBJECT.sockhashMap)) {
      if (live.has(mapId)) continue;
      let fd: number;
      try {
        fd = addon.mapFdById(mapId);
      } catch {
        continue; // freed meanwhile
      }
      try {
        const n = clearSockhash(addon, fd);
        released += n;
        if (n > 0) {
          log.info('sweep', `released ${n} sockets of an orphaned bypass (sk_msg program ${prog}, sockhash ${mapId})`);
        }
      } finally {
        addon.closeFd(fd);
      }
    }
  }
  return released;
}
