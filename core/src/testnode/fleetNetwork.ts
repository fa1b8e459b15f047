/**
 * The network between the nodes of a fleet (fleet.ts): a netns `<node 0>-fleet` holding only a
 * Linux bridge (br0, no address), and per fleet node a veth pair `vf-<name>` (in the node's
 * netns, 10.214.0.<index + 1>/24) ⇄ `vb-<name>` (in the fleet netns, a port of br0). Frames go
 * node netns → bridge → node netns: nothing is routed, nothing lives in the host's netns, and
 * the host's forwarding settings are never touched. Owns creating it piece by piece (only what
 * is missing), reporting it, and deleting the fleet netns (a node's own pair goes with its
 * netns: deleting either end of a veth deletes both).
 */

import { existsSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { noProgress, nullLogger } from '../log';
import { hasAddr, type IpLink, isUp, links, type ComponentCheck } from './netns';
import { BIN, FLEET_BRIDGE, FLEET_PREFIX_LEN, fleetNetns, fleetNetnsFile, type NodePaths } from './paths';
import { isRoot, run, type NodeCtx, waitUntil } from './sys';

const silent: NodeCtx = { log: nullLogger, progress: noProgress };

export function fleetNetnsExists(node0: string): boolean {
  return existsSync(fleetNetnsFile(node0));
}

/** The fleet netns and its bridge, up. */
async function ensureBridge(ctx: NodeCtx, node0: string): Promise<void> {
  const ns = fleetNetns(node0);
  if (!fleetNetnsExists(node0)) {
    ctx.progress(`creating the fleet network ${ns}`);
    await run(ctx, BIN.ip, ['netns', 'add', ns]);
  }
  const br = (await links(ctx, ns, FLEET_BRIDGE))[0];
  if (!br) await run(ctx, BIN.ip, ['-n', ns, 'link', 'add', FLEET_BRIDGE, 'type', 'bridge']);
  if (!isUp(br)) await run(ctx, BIN.ip, ['-n', ns, 'link', 'set', FLEET_BRIDGE, 'up']);
}

/** The node's pair to the bridge, with its fleet address; the node's own netns must exist. */
export async function ensureFleetLink(ctx: NodeCtx, p: NodePaths, node0: string, address: string): Promise<void> {
  await ensureBridge(ctx, node0);
  const ns = fleetNetns(node0);
  let inNode = (await links(ctx, p.netns, p.vethFleet))[0];
  let port = (await links(ctx, ns, p.vethFleetPort))[0];
  if (!inNode || !port) {
    ctx.progress('connecting the node to the fleet network');
    // A half-made pair (one end left) is deleted whole; its other end can only be in these two netns.
    if (inNode) await run(ctx, BIN.ip, ['-n', p.netns, 'link', 'del', p.vethFleet]);
    if (port) await run(ctx, BIN.ip, ['-n', ns, 'link', 'del', p.vethFleetPort]);
    await run(ctx, BIN.ip, [
      '-n',
      p.netns,
      'link',
      'add',
      p.vethFleet,
      'type',
      'veth',
      'peer',
      'name',
      p.vethFleetPort,
      'netns',
      ns,
    ]);
    inNode = undefined;
    port = undefined;
  }
  if (port?.master !== FLEET_BRIDGE)
    await run(ctx, BIN.ip, ['-n', ns, 'link', 'set', p.vethFleetPort, 'master', FLEET_BRIDGE]);
  if (!isUp(port)) await run(ctx, BIN.ip, ['-n', ns, 'link', 'set', p.vethFleetPort, 'up']);
  if (!hasAddr(inNode, address, FLEET_PREFIX_LEN))
    await run(ctx, BIN.ip, ['-n', p.netns, 'addr', 'replace', `${address}/${FLEET_PREFIX_LEN}`, 'dev', p.vethFleet]);
  if (!isUp(inNode)) await run(ctx, BIN.ip, ['-n', p.netns, 'link', 'set', p.vethFleet, 'up']);
}

export async function fleetLinkStatus(p: NodePaths, node0: string, address: string): Promise<ComponentCheck> {
  const ns = fleetNetns(node0);
  if (!fleetNetnsExists(node0)) return { ok: false, detail: `fleet network namespace ${ns} does not exist` };
  if (!isRoot())
    return { ok: true, detail: `fleet netns ${ns}, ${address}/${FLEET_PREFIX_LEN} (its inside needs root)` };
  const problems: string[] = [];
  const bridge = (await links(silent, ns, FLEET_BRIDGE))[0];
  if (!isUp(bridge)) problems.push(`bridge ${FLEET_BRIDGE} ${bridge ? 'down' : 'missing'}`);
  const port: IpLink | undefined = (await links(silent, ns, p.vethFleetPort))[0];
  if (!port) problems.push(`${p.vethFleetPort} missing`);
  else if (!isUp(port) || port.master !== FLEET_BRIDGE) problems.push(`${p.vethFleetPort} not up in ${FLEET_BRIDGE}`);
  const inNode = (await links(silent, p.netns, p.vethFleet))[0];
  if (!inNode) problems.push(`${p.vethFleet} missing`);
  else if (!isUp(inNode) || !hasAddr(inNode, address, FLEET_PREFIX_LEN))
    problems.push(`${p.vethFleet} not up with ${address}/${FLEET_PREFIX_LEN}`);
  if (problems.length > 0) return { ok: false, detail: `fleet netns ${ns}: ${problems.join(', ')}` };
  return {
    ok: true,
    detail: `${p.vethFleet} ${address}/${FLEET_PREFIX_LEN} <-> ${p.vethFleetPort} in ${FLEET_BRIDGE} of netns ${ns}`,
  };
}

/** Deletes the fleet netns with its bridge and any port left in it (normally none by then). */
export async function removeFleetNetwork(ctx: NodeCtx, node0: string): Promise<void> {
  if (!fleetNetnsExists(node0)) return;
  const ns = fleetNetns(node0);
  ctx.progress(`deleting the fleet network ${ns}`);
  await run(ctx, BIN.ip, ['netns', 'del', ns]);
  // The kernel tears the namespace down asynchronously; its file goes at once.
  const gone = await waitUntil(5000, () => !fleetNetnsExists(node0), 100);
  if (!gone) {
    throw new DfsError(
      ErrorCode.Internal,
      `network namespace ${ns} is still present; remove it with \`ip netns del ${ns}\``,
    );
  }
}
