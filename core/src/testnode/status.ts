/**
 * `node status`: one component check per part of a local node (netns, cgroup, sshd, both
 * Redis instances (each running as the node's Redis user and answering with the node's
 * password), the JuiceFS mount, the agent), each with a sentence a user can act on. A fleet
 * node (fleet.ts) also has `fleet`; a member's Redis checks are node 0's pair reached over it.
 * Read-only; works without root, with the checks that need root (Redis PING) marked as skipped.
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { agentStatus } from './agentInstall';
import { cgroupPids, nodeCgroupDir } from './cgroup';
import { type ComponentCheck, networkStatus } from './netns';
import { addressesFor, type NodeAddresses, type NodePaths } from './paths';
import { redisStatus } from './redis';
import { juicefsStatus } from './services';
import { sshdStatus } from './sshd';
import { fleetChecks } from './fleet';
import { readServerState } from './state';
import type { NodeCtx } from './sys';

export interface ComponentStatus {
  name: string;
  ok: boolean;
  detail: string;
}

function cgroupStatus(name: string): ComponentCheck {
  const dir = nodeCgroupDir(name);
  if (!dir) return { ok: false, detail: 'no cgroup2 filesystem is mounted' };
  if (!existsSync(join(dir, 'cgroup.procs'))) return { ok: false, detail: `${dir} does not exist` };
  return { ok: true, detail: `${dir} (${cgroupPids(dir).length} processes)` };
}

export async function componentStatuses(ctx: NodeCtx, p: NodePaths): Promise<ComponentStatus[]> {
  const state = readServerState(p);
  const a: NodeAddresses | undefined = state ? addressesFor(state.index) : undefined;
  const fleet = state?.fleet ? await fleetChecks(ctx, p, { ...state, fleet: state.fleet }) : undefined;
  const checks: [string, ComponentCheck][] = [
    ['netns', await networkStatus(p, a)],
    ...(fleet ? [['fleet', fleet.fleet] as [string, ComponentCheck]] : []),
    ['cgroup', cgroupStatus(p.name)],
    ['sshd', await sshdStatus(p, a)],
    ['redis-meta', fleet?.redis?.[0] ?? (await redisStatus(ctx, p, 'redis-meta'))],
    ['redis-object', fleet?.redis?.[1] ?? (await redisStatus(ctx, p, 'redis-object'))],
    ['juicefs', fleet?.juicefs ?? (await juicefsStatus(p))],
    ['agent', agentStatus(p)],
  ];
  return checks.map(([name, c]) => ({ name, ok: c.ok, detail: c.detail }));
}
