/**
 * Releasing what the kernel cannot free by itself. A socket in the bypass sockhash holds a
 * reference to the sk_msg program, which holds the sockhash, which holds the socket: closing
 * every fd (detach, agent exit) does not break that cycle, so the program would keep
 * redirecting those long-lived JuiceFS connections with nobody owning it. The owner therefore
 * empties the sockhash before letting go (clearSockhash), and when an owner dies without
 * doing so (SIGKILL), the agent's wrapper runs `--sweep`: any bypass whose sockhash is no
 * longer used by a live sock_ops program (every held or pinned bypass has one, attached by a
 * link) is orphaned, and its sockhash is emptied, which frees program and map.
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

/** Empty the sockhash of every orphaned bypass; returns the number of sockets released. */
export function sweepOrphans(addon: Addon, log: AgentLog): number {
  const byName = new Map<string, number[]>();
  for (const id of addon.allProgIds()) {
    const name = addon.progNameById(id);
    if (name === BYPASS_OBJECT.skmsgProgram || name === BYPASS_OBJECT.sockopsProgram) {
      byName.set(name, [...(byName.get(name) ?? []), id]);
    }
  }
  const live = new Set(
    (byName.get(BYPASS_OBJECT.sockopsProgram) ?? []).flatMap((id) => mapsNamed(addon, id, BYPASS_OBJECT.sockhashMap)),
  );
  let released = 0;
  for (const prog of byName.get(BYPASS_OBJECT.skmsgProgram) ?? []) {
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
        log.info('sweep', `released ${n} sockets of an orphaned bypass (sk_msg program ${prog}, sockhash ${mapId})`);
      } finally {
        addon.closeFd(fd);
      }
    }
  }
  return released;
}
