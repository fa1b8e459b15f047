/**
 * What the node's kernel holds, for the node explorer and `maps list`: every program, map and
 * link by kernel id, with the processes that hold them (from /proc/<pid>/fdinfo, as bpftool
 * does with its pids iterator) and whether they are ours (pinned under our bpffs root, or held
 * by an agent of this product). Read-only: nothing here changes the kernel.
 *
 * One map is never opened by id: a program array used by a bypass stub that is not pinned
 * by us. On 6.18, opening a program array by id while the kernel clears it after its owner's
 * death leaks it forever (found with the bypass; see ARCHITECTURE.md), so such a map is
 * listed from what its programs say, not opened.
 */

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  BYPASS_OBJECT,
  BYPASS_PIN_ROOT,
  type FdOwner,
  type LinkSummary,
  type MapSummary,
  type ProgramSummary,
} from '@dfs/protocol';
import type { Addon, LinkDetails, MapDetails } from '../native';

/** Kernel object ids held by each process, and the processes that are agents of ours. */
interface FdScan {
  progs: Map<number, FdOwner[]>;
  maps: Map<number, FdOwner[]>;
  links: Map<number, FdOwner[]>;
  agents: Set<number>;
}

const MAX_PROCS = 100_000;

function add(m: Map<number, FdOwner[]>, id: number, owner: FdOwner): void {
  const list = m.get(id) ?? [];
  if (!list.some((o) => o.pid === owner.pid)) list.push(owner);
  m.set(id, list);
}

/** Our agent processes run the same script as this one (argv[1]). */
function isAgent(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[1] !== undefined && argv[1] === process.argv[1];
  } catch {
    return false;
  }
}

function scanFds(): FdScan {
  const scan: FdScan = { progs: new Map(), maps: new Map(), links: new Map(), agents: new Set() };
  let pids: string[];
  try {
    pids = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .slice(0, MAX_PROCS);
  } catch {
    return scan;
  }
  for (const p of pids) {
    const pid = Number(p);
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue; // gone, or a kernel thread
    }
    let comm: string | undefined;
    let holds = false;
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${p}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!target.startsWith('anon_inode:bpf')) continue;
      let info: string;
      try {
        info = readFileSync(`/proc/${p}/fdinfo/${fd}`, 'utf8');
      } catch {
        continue;
      }
      comm ??= (() => {
        try {
          return readFileSync(`/proc/${p}/comm`, 'utf8').trim();
        } catch {
          return '?';
        }
      })();
      const owner = { pid, comm };
      holds = true;
      const field = (name: string): number | undefined => {
        const m = new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(info);
        return m ? Number(m[1]) : undefined;
      };
      const linkId = field('link_id');
      if (linkId !== undefined) {
        add(scan.links, linkId, owner);
        const prog = field('prog_id');
        if (prog !== undefined) add(scan.progs, prog, owner);
      } else if (target === 'anon_inode:bpf-prog') {
        const prog = field('prog_id');
        if (prog !== undefined) add(scan.progs, prog, owner);
      } else if (target === 'anon_inode:bpf-map') {
        const map = field('map_id');
        if (map !== undefined) add(scan.maps, map, owner);
      }
    }
    if (holds && isAgent(pid)) scan.agents.add(pid);
  }
  return scan;
}

/** Ids pinned under our bpffs root (the bypass's pin sets). */
function pinnedIds(addon: Addon): { maps: Set<number>; progs: Set<number>; links: Set<number> } {
  const out = { maps: new Set<number>(), progs: new Set<number>(), links: new Set<number>() };
  const walk = (dir: string, depth: number): void => {
    if (depth > 3) return;
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      let fd: number;
      try {
        fd = addon.openPinned(path);
      } catch {
        walk(path, depth + 1); // a directory (or not a BPF object)
        continue;
      }
      try {
        const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
        const id = (n: string): number | undefined => {
          const m = new RegExp(`^${n}:\\s*(\\d+)`, 'm').exec(info);
          return m ? Number(m[1]) : undefined;
        };
        const link = id('link_id');
        const map = id('map_id');
        const prog = id('prog_id');
        if (link !== undefined) {
          out.links.add(link);
          if (prog !== undefined) out.progs.add(prog);
        } else if (map !== undefined) out.maps.add(map);
        else if (prog !== undefined) out.progs.add(prog);
      } finally {
        addon.closeFd(fd);
      }
    }
  };
  walk(BYPASS_PIN_ROOT, 0);
  return out;
}

function ownedByAgent(owners: FdOwner[] | undefined, agents: Set<number>): boolean {
  return (owners ?? []).some((o) => agents.has(o.pid));
}

function linkAttach(l: LinkDetails): string {
  switch (l.type) {
    case 'raw_tracepoint':
      return `raw_tp ${l.tpName ?? '?'}`;
    case 'tracing':
      return `${l.attachType ?? 'tracing'} btf ${l.targetObjId ?? 0}:${l.targetBtfId ?? 0}`;
    case 'cgroup':
      return `cgroup ${String(l.cgroupId ?? '?')} ${l.attachType ?? ''}`.trim();
    case 'sockmap':
      return `sockmap map ${l.mapId ?? 0} ${l.attachType ?? ''}`.trim();
    case 'netns':
      return `netns ${l.netnsIno ?? '?'} ${l.attachType ?? ''}`.trim();
    case 'xdp':
    case 'tcx':
    case 'netkit':
      return `${l.type} ifindex ${l.ifindex ?? '?'} ${l.attachType ?? ''}`.trim();
    case 'perf_event':
      return `perf_event ${l.perfEventType ?? ''} ${l.tpName ?? l.funcName ?? l.path ?? ''}`.trim();
    case 'iter':
      return `iter ${l.targetName ?? ''}`.trim();
    default:
      return l.type;
  }
}

/** A MapSummary from the kernel's details. */
export function mapSummary(d: MapDetails, ours: boolean, progIds: number[]): MapSummary {
  return {
    id: d.id,
    name: d.name,
    type: d.type,
    key_size: d.keySize,
    value_size: d.valueSize,
    max_entries: d.maxEntries,
    flags: d.mapFlags,
    btf_id: d.btfId,
    btf_key_type_id: d.btfKeyTypeId,
    btf_value_type_id: d.btfValueTypeId,
    ours,
    prog_ids: progIds,
  };
}

export interface KernelObjects {
  programs: ProgramSummary[];
  maps: MapSummary[];
  links: LinkSummary[];
}

/** Monotonic boot time → Unix epoch, for a program's load time (ns since boot). */
function bootEpochMs(): number {
  const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Date.now() - uptimeS * 1000;
}

const byOursThenId = <T extends { ours: boolean; id: number }>(a: T, b: T): number =>
  Number(b.ours) - Number(a.ours) || a.id - b.id;

/** Everything the kernel holds, ours first; objects that vanish while we look are left out. */
export function kernelObjects(addon: Addon): KernelObjects {
  const scan = scanFds();
  const pinned = pinnedIds(addon);
  const boot = bootEpochMs();

  const links: LinkSummary[] = [];
  const attachOf = new Map<number, string[]>();
  for (const id of addon.allLinkIds()) {
    const l = addon.linkInfoById(id);
    if (!l) continue;
    const ours = pinned.links.has(id) || ownedByAgent(scan.links.get(id), scan.agents);
    const attach = linkAttach(l);
    links.push({ id, type: l.type, prog_id: l.progId, attach, ours });
    attachOf.set(l.progId, [...(attachOf.get(l.progId) ?? []), attach]);
  }

  const programs: ProgramSummary[] = [];
  const mapUsers = new Map<number, number[]>();
  const stubMaps = new Set<number>();
  for (const id of addon.allProgIds()) {
    const p = addon.progInfoById(id);
    if (!p) continue;
    const owners = scan.progs.get(id) ?? [];
    const ours =
      pinned.progs.has(id) || ownedByAgent(owners, scan.agents) || links.some((l) => l.ours && l.prog_id === id);
    for (const m of p.mapIds) mapUsers.set(m, [...(mapUsers.get(m) ?? []), id]);
    if (p.name === BYPASS_OBJECT.skmsgProgram) for (const m of p.mapIds) stubMaps.add(m);
    programs.push({
      id,
      name: p.name,
      type: p.type,
      tag: p.tag,
      run_cnt: p.runCnt,
      run_time_ns: p.runTimeNs,
      recursion_misses: p.recursionMisses,
      map_ids: p.mapIds,
      btf_id: p.btfId,
      loaded_at_ms: Math.round(boot + Number(p.loadTime) / 1e6),
      verified_insns: p.verifiedInsns,
      attach: attachOf.get(id) ?? [],
      ours,
      owners,
    });
  }

  const maps: MapSummary[] = [];
  for (const id of addon.allMapIds()) {
    const users = mapUsers.get(id) ?? [];
    const ours =
      pinned.maps.has(id) ||
      ownedByAgent(scan.maps.get(id), scan.agents) ||
      users.some((u) => programs.find((p) => p.id === u)?.ours);
    if (stubMaps.has(id) && !pinned.maps.has(id)) {
      // Not opened (see the top of this file): described from its programs.
      maps.push({
        id,
        name: '(bypass stub program array, not opened)',
        type: 'prog_array',
        key_size: 4,
        value_size: 4,
        max_entries: 0,
        flags: 0,
        btf_id: 0,
        btf_key_type_id: 0,
        btf_value_type_id: 0,
        ours,
        prog_ids: users,
      });
      continue;
    }
    const d = addon.mapInfoById(id);
    if (!d) continue;
    maps.push(mapSummary(d, ours, users));
  }
  return {
    programs: programs.sort(byOursThenId),
    maps: maps.sort(byOursThenId),
    links: links.sort(byOursThenId),
  };
}
