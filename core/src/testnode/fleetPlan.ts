/**
 * The pure rules of a local fleet (fleet.ts), kept apart so unit tests need no system: a
 * fleet's size and node names, which existing nodes stand in the way of bringing it up, and
 * the order in which `--all` takes nodes (members before their node 0, which refuses to go
 * down under them).
 */

import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { FLEET_PREFIX_RE, MAX_FLEET_SIZE } from './paths';

export type FleetRole = 'node0' | 'member';

/** What the planning needs to know about an existing local node. */
export interface NodeRecord {
  name: string;
  /** The node 0 of the fleet the node belongs to (its own name for a node 0); absent when standalone. */
  fleetNode0?: string;
}

export function validateFleetSize(count: number): number {
  if (!Number.isInteger(count) || count < 2 || count > MAX_FLEET_SIZE) {
    throw new DfsError(
      ErrorCode.BadRequest,
      `a fleet has 2 to ${MAX_FLEET_SIZE} nodes, not ${count}; for a single node use \`dfs-ebpf node up\` without --count`,
    );
  }
  return count;
}

export function validateFleetPrefix(prefix: string): string {
  if (!FLEET_PREFIX_RE.test(prefix)) {
    throw new DfsError(
      ErrorCode.BadRequest,
      `invalid fleet name prefix ${JSON.stringify(prefix)}: use 1-11 lowercase letters and digits, starting with a letter (nodes are PREFIX0, PREFIX1, …)`,
    );
  }
  return prefix;
}

/** `<prefix>0` … `<prefix><count-1>`, node 0 first. */
export function fleetNodeNames(prefix: string, count: number): string[] {
  validateFleetPrefix(prefix);
  validateFleetSize(count);
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

export const roleOf = (name: string, node0: string): FleetRole => (name === node0 ? 'node0' : 'member');

/**
 * Sentences naming every existing node that bringing up fleet `names` (node 0 first) would
 * take from somewhere else; empty when the fleet may come up. A standalone node may become
 * node 0 (it keeps its volume and gains members) but never a member: its own volume and
 * Redis would be orphaned.
 */
export function fleetConflicts(names: readonly string[], records: readonly NodeRecord[]): string[] {
  const node0 = names[0];
  if (node0 === undefined) return [];
  const out: string[] = [];
  for (const name of names) {
    const r = records.find((x) => x.name === name);
    if (!r) continue;
    if (r.fleetNode0 !== undefined && r.fleetNode0 !== node0) {
      out.push(`${name} belongs to the fleet of ${r.fleetNode0}`);
    } else if (r.fleetNode0 === undefined && name !== node0) {
      out.push(`${name} is a standalone node with a volume of its own`);
    }
  }
  return out;
}

/** The recorded members of node0's fleet (not node 0 itself), sorted. */
export function fleetMembers(node0: string, records: readonly NodeRecord[]): string[] {
  return records
    .filter((r) => r.fleetNode0 === node0 && r.name !== node0)
    .map((r) => r.name)
    .sort();
}

/**
 * The nodes `--all` takes: every local node, or with `prefix` only the fleet whose node 0 is
 * `<prefix>0`; fleet members first, then every other node, each group by name.
 */
export function selectAll(records: readonly NodeRecord[], prefix?: string): string[] {
  const node0 = prefix === undefined ? undefined : `${validateFleetPrefix(prefix)}0`;
  const picked = records.filter((r) => node0 === undefined || r.name === node0 || r.fleetNode0 === node0);
  const isMember = (r: NodeRecord): boolean => r.fleetNode0 !== undefined && r.fleetNode0 !== r.name;
  const byName = (a: NodeRecord, b: NodeRecord): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return [...picked.filter(isMember).sort(byName), ...picked.filter((r) => !isMember(r)).sort(byName)].map(
    (r) => r.name,
  );
}
