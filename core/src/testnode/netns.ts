/**
 * The node's network: netns <name>, veth pair vh-<name> (host, 10.213.N.1/30) and vn-<name>
 * (in the netns, 10.213.N.2/30), lo up in the netns. Owns creating it piece by piece (only what
 * is missing), reporting it, and deleting it (deleting the netns removes the veth pair).
 */

import { existsSync } from 'node:fs';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { noProgress, nullLogger } from '../log';
import { BIN, type NodeAddresses, type NodePaths } from './paths';
import { isRoot, run, type NodeCtx, waitUntil } from './sys';

const IP_BIN = BIN.ip;

interface IpAddrInfo {
  family?: string;
  local?: string;
  prefixlen?: number;
}
export interface IpLink {
  ifname?: string;
  flags?: string[];
  /** The bridge a port is enslaved to. */
  master?: string;
  addr_info?: IpAddrInfo[];
}

const silent: NodeCtx = { log: nullLogger, progress: noProgress };

/** `ip -j [-n ns] addr show [dev X]`; [] when the device or namespace does not exist. */
export async function links(ctx: NodeCtx, netns: string | undefined, dev?: string): Promise<IpLink[]> {
  const args = ['-j', ...(netns ? ['-n', netns] : []), 'addr', 'show', ...(dev ? ['dev', dev] : [])];
  const res = await run(ctx, IP_BIN, args, { allowFailure: true, timeoutMs: 10_000 });
  if (res.code !== 0) return [];
  const parsed: unknown = JSON.parse(res.stdout.trim() || '[]');
  return Array.isArray(parsed) ? (parsed as IpLink[]) : [];
}

export const isUp = (l: IpLink | undefined): boolean => l?.flags?.includes('UP') ?? false;
export const hasAddr = (l: IpLink | undefined, addr: string, prefix: number): boolean =>
  l?.addr_info?.some((a) => a.family === 'inet' && a.local === addr && a.prefixlen === prefix) ?? false;

export function netnsExists(p: NodePaths): boolean {
  return existsSync(p.netnsFile);
}

/** Every IPv4 address on host interfaces, to keep a new node's /30 from colliding. */
export async function hostAddresses(ctx: NodeCtx): Promise<string[]> {
  return (await links(ctx, undefined)).flatMap((l) =>
    (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => a.local ?? ''),
  );
}

export async function ensureNetwork(ctx: NodeCtx, p: NodePaths, a: NodeAddresses): Promise<void> {
  if (!netnsExists(p)) {
    ctx.progress('creating network namespace');
    await run(ctx, IP_BIN, ['netns', 'add', p.netns]);
  }
  let host = (await links(ctx, undefined, p.vethHost))[0];
  let inNs = (await links(ctx, p.netns)).find((l) => l.ifname === p.vethNode);
  if (!host || !inNs) {
    ctx.progress('creating veth pair');
    if (host) await run(ctx, IP_BIN, ['link', 'del', p.vethHost]);
    if (inNs) await run(ctx, IP_BIN, ['-n', p.netns, 'link', 'del', p.vethNode]);
    // A half-made pair may have left the node end in the host namespace.
    if ((await links(ctx, undefined, p.vethNode)).length > 0) await run(ctx, IP_BIN, ['link', 'del', p.vethNode]);
    await run(ctx, IP_BIN, ['link', 'add', p.vethHost, 'type', 'veth', 'peer', 'name', p.vethNode, 'netns', p.netns]);
    host = undefined;
    inNs = undefined;
  }
  const cidr = (addr: string): string => `${addr}/${a.prefix}`;
  if (!hasAddr(host, a.hostAddr, a.prefix))
    await run(ctx, IP_BIN, ['addr', 'replace', cidr(a.hostAddr), 'dev', p.vethHost]);
  if (!isUp(host)) await run(ctx, IP_BIN, ['link', 'set', p.vethHost, 'up']);
  if (!hasAddr(inNs, a.nodeAddr, a.prefix)) {
    await run(ctx, IP_BIN, ['-n', p.netns, 'addr', 'replace', cidr(a.nodeAddr), 'dev', p.vethNode]);
  }
  if (!isUp(inNs)) await run(ctx, IP_BIN, ['-n', p.netns, 'link', 'set', p.vethNode, 'up']);
  const lo = (await links(ctx, p.netns, 'lo'))[0];
  if (!isUp(lo)) await run(ctx, IP_BIN, ['-n', p.netns, 'link', 'set', 'lo', 'up']);
}

export interface ComponentCheck {
  ok: boolean;
  detail: string;
}

export async function networkStatus(p: NodePaths, a: NodeAddresses | undefined): Promise<ComponentCheck> {
  if (!netnsExists(p)) return { ok: false, detail: `network namespace ${p.netns} does not exist` };
  if (!a) return { ok: false, detail: `network namespace ${p.netns} exists but the node has no recorded address` };
  const host = (await links(silent, undefined, p.vethHost))[0];
  if (!isRoot()) {
    const ok = isUp(host) && hasAddr(host, a.hostAddr, a.prefix);
    return {
      ok,
      detail: `netns ${p.netns}, ${p.vethHost} ${ok ? 'up' : 'down'} with ${a.hostAddr}/${a.prefix} (inside of the netns needs root)`,
    };
  }
  const nodeLinks = await links(silent, p.netns);
  const inNs = nodeLinks.find((l) => l.ifname === p.vethNode);
  const lo = nodeLinks.find((l) => l.ifname === 'lo');
  const problems: string[] = [];
  if (!host) problems.push(`${p.vethHost} missing`);
  else if (!isUp(host) || !hasAddr(host, a.hostAddr, a.prefix))
    problems.push(`${p.vethHost} not up with ${a.hostAddr}/${a.prefix}`);
  if (!inNs) problems.push(`${p.vethNode} missing`);
  else if (!isUp(inNs) || !hasAddr(inNs, a.nodeAddr, a.prefix))
    problems.push(`${p.vethNode} not up with ${a.nodeAddr}/${a.prefix}`);
  if (!isUp(lo)) problems.push('lo down');
  if (problems.length > 0) return { ok: false, detail: `netns ${p.netns}: ${problems.join(', ')}` };
  return {
    ok: true,
    detail: `netns ${p.netns}, ${p.vethHost} ${a.hostAddr}/${a.prefix} <-> ${p.vethNode} ${a.nodeAddr}/${a.prefix}`,
  };
}

export async function removeNetwork(ctx: NodeCtx, p: NodePaths): Promise<void> {
  if (netnsExists(p)) {
    ctx.progress('deleting network namespace');
    await run(ctx, IP_BIN, ['netns', 'del', p.netns]);
  }
  // The kernel tears the namespace (and with it the veth pair) down asynchronously.
  const gone = await waitUntil(5000, async () => (await links(ctx, undefined, p.vethHost)).length === 0, 200);
  if (!gone) await run(ctx, IP_BIN, ['link', 'del', p.vethHost]);
  for (const dev of [p.vethHost, p.vethNode]) {
    if ((await links(ctx, undefined, dev)).length > 0) {
      throw new DfsError(
        ErrorCode.Internal,
        `interface ${dev} is still present; remove it with \`ip link del ${dev}\``,
      );
    }
  }
}
