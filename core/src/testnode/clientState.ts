/**
 * Client-side state of a local node, under $XDG_STATE_HOME/dfs-ebpf/nodes/<name>/ of the user
 * who asked for it: the client key (id_ed25519, 0600), known_hosts with the node's host key,
 * and node.json (the LocalNode a client needs to connect; a fleet node's also says its place in
 * the fleet, see fleet.ts). Files belong to the sudo caller
 * when root runs us through sudo, so the user's own VS Code can read them.
 */

import { chownSync, existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';
import {
  BIN,
  type ClientOwner,
  clientOwner,
  clientStateRoot,
  DEFAULT_NODE_NAME,
  clientPaths,
  type ClientPaths,
  knownHostsName,
  NODE_NAME_RE,
  validateNodeName,
} from './paths';
import { mkdirs, type NodeCtx, removeEmptyDirs, removeTree, run, writeIfChanged } from './sys';

/** What a client needs to reach and use a local node; also the content of node.json. */
export interface LocalNode {
  name: string;
  user: string;
  host: string;
  port: number;
  identityFile: string;
  knownHostsFile: string;
  agentCommand: string;
  mountpoint: string;
  meta: string;
  bucket: string;
  volume: string;
  juicefsVersion: string;
  cgroup: string;
  agentVersion: string;
  /** Only for a node of a fleet (fleet.ts). */
  fleet?: LocalNodeFleet;
}

/** A fleet node's place: its role, the fleet's node 0 (whose volume it mounts), its fleet address. */
export interface LocalNodeFleet {
  role: 'node0' | 'member';
  node0: string;
  /** The node's address on the fleet network (10.214.0.0/24), reachable from the fleet's nodes only. */
  address: string;
}

const STRING_KEYS = [
  'name',
  'user',
  'host',
  'identityFile',
  'knownHostsFile',
  'agentCommand',
  'mountpoint',
  'meta',
  'bucket',
  'volume',
  'juicefsVersion',
  'cgroup',
  'agentVersion',
] as const;

/** Creates the client dir (owned by the client user) and the client key if missing; returns the public key line. */
export async function ensureClientKey(ctx: NodeCtx, name: string): Promise<string> {
  const cp = clientPaths(name);
  return ensureClientKeyIn(ctx, cp.dir, cp.identityFile, cp.identityPub, `dfs-ebpf-client-${name}`);
}

/**
 * A passphrase-less ed25519 client key in `dir` (0700), both files owned by the client user
 * (the sudo caller), made when either is missing; returns the public key line. Local and bare
 * nodes' client keys.
 */
export async function ensureClientKeyIn(
  ctx: NodeCtx,
  dir: string,
  identityFile: string,
  identityPub: string,
  comment: string,
): Promise<string> {
  const owner = clientOwner();
  mkdirs(dir, 0o700, owner);
  if (!existsSync(identityFile) || !existsSync(identityPub)) {
    ctx.progress('generating the client key');
    for (const f of [identityFile, identityPub]) if (existsSync(f)) unlinkSync(f);
    await run(ctx, BIN.sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', identityFile]);
    for (const f of [identityFile, identityPub]) chownSync(f, owner.uid, owner.gid);
  }
  return readFileSync(identityPub, 'utf8').trim();
}

/** known_hosts holding exactly the node's host key, in OpenSSH's own form. */
export function knownHostsLine(host: string, port: number, hostPub: string): string {
  const [type, key] = hostPub.trim().split(/\s+/);
  if (!type || !key)
    throw new DfsError(
      ErrorCode.Internal,
      `malformed host public key ${JSON.stringify(hostPub)}; run node down and up`,
    );
  return `${knownHostsName(host, port)} ${type} ${key}\n`;
}

export function writeKnownHosts(name: string, host: string, port: number, hostPub: string): void {
  const cp = clientPaths(name);
  writeIfChanged(cp.knownHosts, knownHostsLine(host, port, hostPub), ownedMode(0o644, clientOwner()));
}

export function writeNodeJson(node: LocalNode): void {
  const cp = clientPaths(node.name);
  writeIfChanged(cp.nodeJson, JSON.stringify(node, null, 2) + '\n', ownedMode(0o644, clientOwner()));
}

function ownedMode(mode: number, o: ClientOwner): { mode: number; uid: number; gid: number } {
  return { mode, uid: o.uid, gid: o.gid };
}

/** The client-side node.json of a local node, or null when that node was never brought up here. */
export function readLocalNode(name?: string): LocalNode | null {
  const cp = clientPaths(validateNodeName(name ?? DEFAULT_NODE_NAME));
  if (!existsSync(cp.nodeJson)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(cp.nodeJson, 'utf8'));
  } catch (e) {
    throw corrupt(cp, e instanceof Error ? e.message : String(e));
  }
  if (typeof parsed !== 'object' || parsed === null) throw corrupt(cp, 'not an object');
  const o = parsed as Record<string, unknown>;
  for (const k of STRING_KEYS) if (typeof o[k] !== 'string') throw corrupt(cp, `"${k}" is missing`);
  if (typeof o.port !== 'number') throw corrupt(cp, '"port" is missing');
  if (o.fleet !== undefined && !isFleet(o.fleet)) throw corrupt(cp, '"fleet" is not {role, node0, address}');
  return o as unknown as LocalNode;
}

function isFleet(v: unknown): v is LocalNodeFleet {
  if (typeof v !== 'object' || v === null) return false;
  const f = v as Record<string, unknown>;
  return (f.role === 'node0' || f.role === 'member') && typeof f.node0 === 'string' && typeof f.address === 'string';
}

function corrupt(cp: ClientPaths, why: string): DfsError {
  const name = cp.dir.split('/').pop() ?? '';
  return new DfsError(
    ErrorCode.Internal,
    `${cp.nodeJson} is unreadable (${why}); run \`dfs-ebpf node up --name ${name}\` to rewrite it`,
  );
}

/** Names of the nodes this user holds client state for (node directories under the state root). */
export function clientNodeNames(): string[] {
  const dir = join(clientStateRoot(), 'nodes');
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => NODE_NAME_RE.test(n));
}

export function removeClientState(ctx: NodeCtx, name: string): void {
  const cp = clientPaths(name);
  removeTree(ctx, cp.dir);
  // <state>/dfs-ebpf/nodes and <state>/dfs-ebpf, if no other node is left; never the XDG dir itself.
  const nodesDir = dirname(cp.dir);
  removeEmptyDirs(ctx, [nodesDir, dirname(nodesDir)]);
}
