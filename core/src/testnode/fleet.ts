/**
 * A local JuiceFS fleet (DESIGN.md §4, "several local nodes sharing one metadata engine"):
 * nodes <prefix>0 … <prefix>N-1 that mount ONE volume. Node 0 is a normal local node whose
 * Redis pair holds the volume's metadata and objects; both instances also listen on node 0's
 * fleet address (redis.ts). Members (1 … N-1) are local nodes in every other respect (netns and
 * veth to the host, sshd, agent, sudo rule, cgroup, their mount at /mnt/dfs-ebpf/<name>) but run
 * no Redis: their JuiceFS reaches node 0's pair over the fleet network (fleetNetwork.ts).
 * The rules that need no system (names, conflicts, order) are fleetPlan.ts.
 *
 * Records: every fleet node's root-owned state.json says `fleet.node0` (state.ts); node.json
 * carries `fleet: {role, node0, address}` for clients. Only `node up --count` gives a node a
 * place in a fleet; a plain `node up --name X` repairs X as what its record says.
 *
 * Secrets: a member keeps a root-only copy of node 0's Redis password (fleet.password, 0600),
 * refreshed on every up; its JuiceFS gets it as META_PASSWORD, never in argv. The object
 * store's password is the one node 0's `juicefs format` stored in the volume's settings; a
 * member overrides only the object store's address, `juicefs mount --bucket
 * redis://<node 0's fleet address>:6380/0` (JuiceFS 1.4 applies --bucket on mount to the
 * loaded format, cmd/mount.go updateFormat, and keeps the stored key).
 *
 * Caches, i.e. what a node sees of a file another node wrote: JuiceFS's defaults, which a
 * member also states explicitly (MEMBER_CACHE_OPTIONS). --open-cache 0 gives close-to-open
 * consistency: close returns once the data is in the object store and the slices are in the
 * metadata engine (no --writeback), and every open re-reads the attributes from the metadata
 * engine and lets the kernel keep its page cache only when they did not change. No node keeps
 * a block cache (--cache-size 0). The kernel's entry and attribute caches stay at JuiceFS's 1 s
 * (negative lookups are not cached at all): a node that looked up the name, or read the
 * attributes, within the last second may see the old entry or length for up to that second.
 * 0 s would send every lookup and getattr to node 0's Redis and make the fleet behave unlike a
 * real JuiceFS cluster; a reader that must see another node's fresh write retries, bounded.
 *
 * Ownership: the volume root is node 0's user's with mode 0770, and each member's user is in
 * node 0's group, so every fleet node's SSH user can use the shared volume and nobody else
 * can; `userdel` at a member's down drops it from the group.
 *
 * Teardown: node 0 refuses to go down while any member is recorded, naming them (they would
 * be left with a dead mount); `--all` takes members first. The fleet netns goes with the last
 * node that records the fleet.
 */

import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import { cgroupPids } from './cgroup';
import type { LocalNodeFleet } from './clientState';
import { fleetLinkStatus, ensureFleetLink, removeFleetNetwork } from './fleetNetwork';
import { fleetMembers, type FleetRole, roleOf } from './fleetPlan';
import { recordFuseConnection } from './fuse';
import type { JuicefsBinary } from './juicefsBinary';
import type { ComponentCheck } from './netns';
import {
  BIN,
  fleetAddress,
  fleetBucketUrl,
  fleetMetaUrl,
  fuseRecordFile,
  logFile,
  nodePaths,
  type NodePaths,
  pidFile,
  REDIS_META_PORT,
  REDIS_OBJECT_PORT,
} from './paths';
import { inNetns, processName, startInNode, stopPids } from './procs';
import { answersOnFleet, readPasswordFile, readRedisPassword, redisCli, type RedisRole } from './redis';
import {
  juicefsEnv,
  juicefsMountArgs,
  juicefsStatus,
  type MountCheck,
  mountedFstype,
  unmountJuicefs,
} from './services';
import { passwdEntry } from './sshd';
import { localNodeRecords, readServerState, recordFleet, type ServerState } from './state';
import { ensureDir, isRoot, logTail, mkdirs, readIfExists, run, type NodeCtx, waitUntil, writeIfChanged } from './sys';

/** A member's caches: JuiceFS's defaults, stated so a newer JuiceFS cannot change them (see the header). */
export const MEMBER_CACHE_OPTIONS = [
  '--open-cache',
  '0',
  '--attr-cache',
  '1',
  '--entry-cache',
  '1',
  '--dir-entry-cache',
  '1',
] as const;

/** A fleet node's place, as `node up` works with it. */
export interface FleetPlace extends LocalNodeFleet {
  /** Node 0's fleet address: where a member finds the Redis pair. */
  node0Address: string;
}

/** The fleet's node 0 as recorded for `name`, if it is in a fleet. */
export function recordedFleet(name: string): string | undefined {
  return readServerState(nodePaths(name))?.fleet?.node0;
}

/** Every local node with the fleet it records, for fleetPlan.ts. */
export function nodeRecords(): { name: string; fleetNode0?: string }[] {
  return localNodeRecords().map((r) => ({
    name: r.name,
    ...(r.state?.fleet ? { fleetNode0: r.state.fleet.node0 } : {}),
  }));
}

const notUp = (node0: string, name: string): DfsError =>
  new DfsError(
    ErrorCode.NodeNotUp,
    `node ${node0}, whose volume fleet member ${name} mounts, is not up; bring the fleet up with \`dfs-ebpf node up --count N --name ${node0.slice(0, -1)}\``,
  );

function node0State(node0: string, member: string): ServerState {
  const s = readServerState(nodePaths(node0));
  if (!s || s.fleet?.node0 !== node0) throw notUp(node0, member);
  return s;
}

/**
 * Records the node's fleet and connects it to the fleet network; node 0 must already be
 * recorded as such (a fleet comes up node 0 first). The node's own netns must exist.
 */
export async function placeInFleet(ctx: NodeCtx, p: NodePaths, index: number, node0: string): Promise<FleetPlace> {
  const role: FleetRole = roleOf(p.name, node0);
  const address = fleetAddress(index);
  const node0Address = role === 'node0' ? address : fleetAddress(node0State(node0, p.name).index);
  recordFleet(p, node0);
  await ensureFleetLink(ctx, p, node0, address);
  return { role, node0, address, node0Address };
}

// ---------------------------------------------------------------------------------------------
// A member's access to node 0's volume: the password, the group, the mount

/** A member's copy of node 0's password (root-only), refreshed from node 0's own file. */
export function ensureFleetPassword(p: NodePaths, node0: string): string {
  const pw = readRedisPassword(nodePaths(node0));
  if (!pw) throw notUp(node0, p.name);
  writeIfChanged(p.fleetPasswordFile, `${pw}\n`, { mode: 0o600, uid: 0, gid: 0 });
  return pw;
}

function groupMembers(group: string): string[] | undefined {
  for (const line of (readIfExists('/etc/group') ?? '').split('\n')) {
    const f = line.split(':');
    if (f[0] === group && f.length >= 4) return (f[3] ?? '').split(',').filter(Boolean);
  }
  return undefined;
}

/** The member's user joins node 0's group, which owns the volume root (see the header). */
export async function ensureFleetGroup(ctx: NodeCtx, p: NodePaths, node0: string): Promise<void> {
  const group = nodePaths(node0).user;
  const members = groupMembers(group);
  if (members === undefined || !passwdEntry(group)) throw notUp(node0, p.name);
  if (members.includes(p.user)) return;
  ctx.progress(`adding ${p.user} to group ${group}`);
  await run(ctx, BIN.usermod, ['--append', '--groups', group, p.user]);
}

interface Volume {
  name: string;
  uuid: string;
}

/** The fleet's volume as node 0's metadata engine describes it, read from inside the member's netns. */
async function fleetVolume(ctx: NodeCtx, p: NodePaths, bin: string, meta: string, password: string): Promise<Volume> {
  const [file, argv] = inNetns(p, [bin, 'status', meta]);
  const res = await run(ctx, file, argv, { allowFailure: true, timeoutMs: 60_000, env: juicefsEnv(password) });
  let setting: { Name?: unknown; UUID?: unknown } | undefined;
  try {
    setting = (JSON.parse(res.stdout) as { Setting?: { Name?: unknown; UUID?: unknown } }).Setting;
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  if (res.code !== 0 || typeof setting?.Name !== 'string' || typeof setting.UUID !== 'string') {
    const why = res.stderr.trim().split('\n').pop() ?? `exit ${res.code}`;
    throw new DfsError(
      ErrorCode.Internal,
      `fleet member ${p.name} cannot read the volume at ${meta} (${why}); check \`dfs-ebpf node status --all\``,
    );
  }
  return { name: setting.Name, uuid: setting.UUID };
}

/**
 * Mounts the fleet's volume unless a healthy mount of that very volume (same UUID: node 0 may
 * have re-created it since) is served from the member's cgroup. Returns the JuiceFS version.
 */
export async function ensureMemberJuicefs(
  ctx: NodeCtx,
  p: NodePaths,
  cgroupDir: string,
  bin: JuicefsBinary,
  place: FleetPlace,
  password: string,
): Promise<string> {
  const meta = fleetMetaUrl(place.node0Address);
  const volume = await fleetVolume(ctx, p, bin.path, meta, password);
  if (volume.name !== place.node0) {
    throw new DfsError(
      ErrorCode.Conflict,
      `${meta} holds volume ${volume.name}, not ${place.node0}'s; run \`dfs-ebpf node down --all\` and bring the fleet up again`,
    );
  }
  const before = await juicefsStatus(p, p.mountpoint, meta);
  if (before.ok && before.uuid === volume.uuid) {
    if (before.pid !== undefined)
      writeIfChanged(pidFile(p, 'juicefs'), `${before.pid}\n`, { mode: 0o644, uid: 0, gid: 0 });
    recordFuseConnection(fuseRecordFile(p, 'juicefs'), p.mountpoint);
    return before.version || bin.version;
  }
  const fstype = mountedFstype(p.mountpoint);
  if (fstype !== undefined && fstype !== 'fuse.juicefs') {
    throw new DfsError(ErrorCode.Conflict, `${p.mountpoint} already holds a ${fstype} mount; unmount it and retry`);
  }
  if (before.ok) ctx.log.warn(`node ${p.name}: node ${place.node0} re-created the volume; mounting it afresh`);
  await unmountJuicefs(ctx, p);
  await stopPids(
    ctx,
    cgroupPids(cgroupDir).filter((pid) => /^juicefs/.test(processName(pid))),
  );
  mkdirs(p.mountpoint, 0o755);
  ensureDir(p.cacheDir, 0o700);
  ctx.progress('mounting JuiceFS');
  const log = logFile(p, 'juicefs');
  const argv = juicefsMountArgs(bin.path, p.cacheDir, log, meta, p.mountpoint, [
    '--bucket',
    fleetBucketUrl(place.node0Address),
    ...MEMBER_CACHE_OPTIONS,
  ]);
  await startInNode(ctx, p, cgroupDir, 'juicefs mount', argv, log, { timeoutMs: 120_000, env: juicefsEnv(password) });
  let last: MountCheck = before;
  const ok = await waitUntil(30_000, async () => (last = await juicefsStatus(p, p.mountpoint, meta)).ok, 200);
  if (!ok)
    throw new DfsError(ErrorCode.Internal, `JuiceFS did not mount (${last.detail}): ${logTail(log)}; see ${log}`);
  if (last.pid !== undefined) writeIfChanged(pidFile(p, 'juicefs'), `${last.pid}\n`, { mode: 0o644, uid: 0, gid: 0 });
  recordFuseConnection(fuseRecordFile(p, 'juicefs'), p.mountpoint);
  return last.version || bin.version;
}

// ---------------------------------------------------------------------------------------------
// Status and teardown

/** node 0's address as a member sees it, from the records. */
function node0AddressOf(node0: string): string | undefined {
  const s = readServerState(nodePaths(node0));
  return s ? fleetAddress(s.index) : undefined;
}

const portOf = (role: RedisRole): number => (role === 'redis-meta' ? REDIS_META_PORT : REDIS_OBJECT_PORT);

/** A member's Redis "component": node 0's instance, reached over the fleet network with the fleet's password. */
async function memberRedisStatus(ctx: NodeCtx, p: NodePaths, node0: string, role: RedisRole): Promise<ComponentCheck> {
  const addr = node0AddressOf(node0);
  if (!addr) return { ok: false, detail: `node ${node0} (the fleet's node 0) has no state; it is not up` };
  const where = `${node0}'s ${role} at ${addr}:${portOf(role)}`;
  if (!isRoot()) return { ok: true, detail: `${where} (PING needs root)` };
  const pw = readPasswordFile(p.fleetPasswordFile);
  if (!pw) return { ok: false, detail: `${where}, but ${p.fleetPasswordFile} holds no root-only password` };
  const pong = await redisCli(ctx, p, portOf(role), pw, ['ping'], addr);
  return pong === 'PONG'
    ? { ok: true, detail: `${where} answers PING with the fleet's password over the fleet network` }
    : { ok: false, detail: `${where} does not answer PING over the fleet network` };
}

/**
 * The checks a fleet node adds or replaces in `node status`: `fleet` (its link, and for node 0
 * its Redis pair listening on it), a member's `redis-meta`/`redis-object` (node 0's, reached
 * from the member) and `juicefs` (the member's mount of the fleet's meta URL).
 */
export async function fleetChecks(
  ctx: NodeCtx,
  p: NodePaths,
  state: ServerState & { fleet: { node0: string } },
): Promise<{ fleet: ComponentCheck; redis?: [ComponentCheck, ComponentCheck]; juicefs?: ComponentCheck }> {
  const node0 = state.fleet.node0;
  const address = fleetAddress(state.index);
  let fleet = await fleetLinkStatus(p, node0, address);
  if (roleOf(p.name, node0) === 'node0') {
    const pw = isRoot() ? readRedisPassword(p) : undefined;
    if (fleet.ok && pw) {
      const deaf: string[] = [];
      for (const role of ['redis-meta', 'redis-object'] as const)
        if (!(await answersOnFleet(ctx, p, role, pw, address))) deaf.push(role);
      fleet = deaf.length
        ? { ok: false, detail: `${fleet.detail}; ${deaf.join(' and ')} not answering on ${address}` }
        : { ok: true, detail: `${fleet.detail}; node 0 of the fleet, Redis pair on ${address}` };
    }
    return { fleet };
  }
  const members = await Promise.all([
    memberRedisStatus(ctx, p, node0, 'redis-meta'),
    memberRedisStatus(ctx, p, node0, 'redis-object'),
  ]);
  const addr = node0AddressOf(node0);
  let juicefs: MountCheck = addr
    ? await juicefsStatus(p, p.mountpoint, fleetMetaUrl(addr))
    : { ok: false, detail: `the fleet's node 0 ${node0} is not up` };
  // Node 0 re-creates its volume when its Redis lost the data; a member's mount then serves the old one.
  const own = juicefs.ok && juicefs.uuid ? (await juicefsStatus(nodePaths(node0))).uuid : undefined;
  if (own && own !== juicefs.uuid) {
    juicefs = {
      ok: false,
      detail: `${p.mountpoint} serves volume ${juicefs.uuid ?? '?'}, but node ${node0} now holds ${own}; run \`dfs-ebpf node up --name ${p.name}\``,
    };
  }
  return { fleet: { ...fleet, detail: `${fleet.detail}; member of ${node0}'s fleet` }, redis: members, juicefs };
}

/** Refuses to take node 0 down under its members (see the header). */
export function refuseNode0WithMembers(name: string): void {
  const members = fleetMembers(name, nodeRecords());
  if (members.length === 0) return;
  const prefix = name.slice(0, -1);
  throw new DfsError(
    ErrorCode.Conflict,
    `node ${name} is node 0 of a fleet whose members ${members.join(', ')} mount its volume; take them down first (\`dfs-ebpf node down --name ${members[0] ?? ''}\` …) or take the whole fleet down with \`dfs-ebpf node down --all --name ${prefix}\``,
  );
}

/** After a fleet node's own state is gone: the fleet network goes when no node records the fleet any more. */
export async function leaveFleet(ctx: NodeCtx, node0: string): Promise<void> {
  if (nodeRecords().some((r) => r.fleetNode0 === node0)) return;
  await removeFleetNetwork(ctx, node0);
}
