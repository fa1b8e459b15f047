// Test support for the bypass's ownership tests: what the kernel holds of one bypass (its
// programs and every map they use, read with bpftool, independently of our addon; only the
// poll for leftover maps uses the addon's id walk, because `bpftool map show` opens every map
// by id, and doing that to a program array just after its owner died leaks it (kernel bug,
// see remote-agent/src/sweep.ts)), which
// sock_ops programs a cgroup has, sessions that keep the agent's log lines, and the agent's
// process group on the node (the SSH session shell, sudo, the wrapper and the agent).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BypassStatus, LogEntry } from '../../protocol/src';
import { connectNode } from '../../core/src/agent/connect';
import type { NodeSession } from '../../core/src/agent/session';
import { nullLogger } from '../../core/src/log';
import type { Addon } from '../../remote-agent/src/native';
import { agentBundle } from './node';

function bpftoolJson<T>(args: string[]): T | null {
  try {
    const out = execFileSync('bpftool', ['-j', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim() === '' ? null : (JSON.parse(out) as T);
  } catch {
    return null; // "No such file or directory": the id is gone
  }
}

/** Program ids and the ids of every map they use: the whole kernel footprint of a bypass. */
export interface Footprint {
  progs: number[];
  maps: number[];
}

export function footprintOf(status: BypassStatus): Footprint {
  return footprintOfPrograms(status.programs.map((p) => p.id));
}

export function footprintOfPrograms(progs: number[]): Footprint {
  const maps = new Set<number>();
  for (const id of progs) {
    for (const m of bpftoolJson<{ map_ids?: number[] }>(['prog', 'show', 'id', String(id)])?.map_ids ?? []) maps.add(m);
  }
  return { progs, maps: [...maps] };
}

/** What of a footprint is still in the kernel, e.g. ["prog 12", "map 7"]. */
export function stillLoaded(f: Footprint): string[] {
  const progs = new Set((bpftoolJson<{ id: number }[]>(['prog', 'show']) ?? []).map((p) => p.id));
  const maps = new Set(addon().allMapIds());
  return [
    ...f.progs.filter((id) => progs.has(id)).map((id) => `prog ${id}`),
    ...f.maps.filter((id) => maps.has(id)).map((id) => `map ${id}`),
  ];
}

let loaded: Addon | undefined;
function addon(): Addon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require(join(agentBundle(), 'dfs_bpf.node')) as Addon;
  return loaded;
}

/** What still holds each leftover of a footprint: its kind, name and the processes with an fd of it. */
export function describeLeft(f: Footprint): string {
  return stillLoaded(f)
    .map((what) => {
      const [kind, id] = what.split(' ');
      const info = bpftoolJson<{ name?: string; type?: string; pids?: { pid: number; comm: string }[] }>([
        kind === 'prog' ? 'prog' : 'map',
        'show',
        'id',
        id ?? '',
      ]);
      const holders = (info?.pids ?? []).map((p) => `${p.comm}[${p.pid}]`).join(' ') || 'no process';
      const users =
        kind === 'map'
          ? (bpftoolJson<{ id: number; name?: string; map_ids?: number[] }[]>(['prog', 'show']) ?? [])
              .filter((p) => p.map_ids?.includes(Number(id)))
              .map((p) => `prog ${p.id} ${p.name ?? '?'}`)
          : [];
      return `${what} (${info?.type ?? '?'} ${info?.name ?? '?'}, held by ${holders}${users.length ? `; used by ${users.join(', ')}` : ''})`;
    })
    .join(', ');
}

/** Names of the sock_ops programs attached to a cgroup (bpftool cgroup show). */
export function sockopsOnCgroup(cgroup: string): string[] {
  const attached = bpftoolJson<{ attach_type: string; name?: string }[]>(['cgroup', 'show', cgroup]) ?? [];
  return attached
    .filter((a) => a.attach_type === 'cgroup_sock_ops' || a.attach_type === 'sock_ops')
    .map((a) => a.name ?? '');
}

/** A session whose agent log lines (forwarded `agent/log`) land in `logs`. */
export async function openLoggedSession(name: string): Promise<{ session: NodeSession; logs: LogEntry[] }> {
  const logs: LogEntry[] = [];
  const session = await connectNode(
    `local:${name}`,
    {},
    { log: nullLogger, clientName: 'integration-test', bundleDir: agentBundle(), onAgentLog: (e) => logs.push(e) },
  );
  return { session, logs };
}

/** Process group of a pid (field 5 of /proc/PID/stat). */
export function pgidOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[2]);
}

export function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

export function commandOf(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
}
