/**
 * Every name and path of a bare test node (see ../bare.ts), and its server-side record.
 *
 * Host side, root-only: /var/lib/dfs-ebpf/nodes/<name>/ is shared with local nodes on purpose
 * (its state.json holds the node index that picks 10.213.N.0/30, so state.ts allocates bare and
 * local nodes from one pool); `bare.json` there marks the node as bare and records its variants,
 * the PIDs of its services and its FUSE connection; `layer/` holds the overlay's upper and work
 * directories; `password` and `redis.password` are 0600. The mount namespace file lives in
 * /run/dfs-ebpf-mntns/<name>. Client side (the sudo caller's): $XDG_STATE_HOME/dfs-ebpf/bare/<name>/
 * (key, known_hosts, ssh_config), deliberately not nodes/<name>/, where readLocalNode would look.
 * Inside the node, paths are those of an ordinary Debian server (INSIDE).
 */

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '@dfs/protocol';
import { DfsError } from '../../errors';
import { clientStateRoot, MNTNS_DIR, nodePaths, type NodePaths, TOOLS } from '../paths';
import { isExecutable, writeIfChanged } from '../sys';

/** Paths and names inside the node: what a user's fresh Debian 12 server with JuiceFS would have. */
export const INSIDE = {
  user: 'jfsadmin',
  home: '/home/jfsadmin',
  mountpoint: '/mnt/jfs',
  juicefs: '/usr/local/bin/juicefs',
  uname: '/usr/local/bin/uname',
  installLib: '/usr/local/lib',
  btfDir: '/sys/kernel/btf',
  redisUser: 'redis',
  redisDir: '/var/lib/redis',
  /** The environment of every process we start inside (nothing of the host's leaks in). */
  env: {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    LANG: 'C.UTF-8',
  },
} as const;

/** Conditions the installer's failure tests need, each a documented fake (../bare.ts). */
export interface BareVariants {
  /** An empty tmpfs over /sys/kernel/btf: "a kernel without BTF". */
  maskBtf: boolean;
  /** `uname -m` prints this: "a node of another architecture". */
  arch: string | null;
  /** A tmpfs of this many MiB at /usr/local/lib: "a full disk" where the agent installs. */
  installLimitMb: number | null;
}

export function validateVariants(v: { maskBtf?: boolean; arch?: string; installLimitMb?: number }): BareVariants {
  if (v.arch !== undefined && !/^[a-z0-9_]{1,32}$/.test(v.arch)) {
    throw new DfsError(ErrorCode.BadRequest, `arch ${JSON.stringify(v.arch)} is not a machine name like aarch64`);
  }
  const mb = v.installLimitMb;
  if (mb !== undefined && !(Number.isInteger(mb) && mb >= 1 && mb <= 4096)) {
    throw new DfsError(ErrorCode.BadRequest, `installLimitMb must be a whole number of MiB in 1..4096, not ${mb}`);
  }
  return { maskBtf: v.maskBtf === true, arch: v.arch ?? null, installLimitMb: mb ?? null };
}

export type BareService = 'sshd' | 'redis-meta' | 'redis-object' | 'juicefs';

/** bare.json: what `up` made and `down` must find. */
export interface BareState {
  kind: 'bare';
  name: string;
  /** The rootfs cache the overlay's lower layer is (rootfs.ts key). */
  rootfsKey: string;
  variants: BareVariants;
  /** PIDs as the host sees them (the node shares the host's PID namespace). */
  pids: Partial<Record<BareService, number>>;
  /** The FUSE connection of /mnt/jfs, to abort it if its daemon hangs during down. */
  fuseConnection?: number;
  /** The user's /etc/shadow hash as last set, so a second up does not set it again. */
  shadowHash?: string;
}

export interface BarePaths {
  name: string;
  /** The local-node paths this node shares: netns, veth, server dir, state.json (index). */
  node: NodePaths;
  stateFile: string;
  passwordFile: string;
  redisPasswordFile: string;
  upperDir: string;
  workDir: string;
  /** Where the overlay is mounted inside the new namespace before it becomes its root. */
  mergeDir: string;
  logsDir: string;
  mntnsFile: string;
  client: {
    dir: string;
    identityFile: string;
    identityPub: string;
    knownHosts: string;
    sshConfig: string;
  };
}

export function barePaths(name: string): BarePaths {
  const node = nodePaths(name);
  const layer = join(node.dir, 'layer');
  const client = join(clientStateRoot(), 'bare', name);
  return {
    name,
    node,
    stateFile: join(node.dir, 'bare.json'),
    passwordFile: join(node.dir, 'password'),
    redisPasswordFile: join(node.dir, 'redis.password'),
    upperDir: join(layer, 'upper'),
    workDir: join(layer, 'work'),
    mergeDir: join(layer, 'root'),
    logsDir: join(node.dir, 'logs'),
    mntnsFile: join(MNTNS_DIR, name),
    client: {
      dir: client,
      identityFile: join(client, 'id_ed25519'),
      identityPub: join(client, 'id_ed25519.pub'),
      knownHosts: join(client, 'known_hosts'),
      sshConfig: join(client, 'ssh_config'),
    },
  };
}

export function readBareState(bp: BarePaths): BareState | undefined {
  if (!existsSync(bp.stateFile)) return undefined;
  let parsed: Partial<BareState>;
  try {
    parsed = JSON.parse(readFileSync(bp.stateFile, 'utf8')) as Partial<BareState>;
  } catch (e) {
    throw new DfsError(
      ErrorCode.Internal,
      `${bp.stateFile} is not valid JSON (${e instanceof Error ? e.message : String(e)}); remove ${bp.node.dir} by hand`,
    );
  }
  if (parsed.kind !== 'bare' || parsed.name !== bp.name) return undefined;
  return {
    kind: 'bare',
    name: bp.name,
    rootfsKey: typeof parsed.rootfsKey === 'string' ? parsed.rootfsKey : '',
    variants: parsed.variants ?? { maskBtf: false, arch: null, installLimitMb: null },
    pids: parsed.pids ?? {},
    ...(typeof parsed.fuseConnection === 'number' ? { fuseConnection: parsed.fuseConnection } : {}),
    ...(typeof parsed.shadowHash === 'string' ? { shadowHash: parsed.shadowHash } : {}),
  };
}

export function writeBareState(bp: BarePaths, s: BareState): void {
  writeIfChanged(bp.stateFile, JSON.stringify(s, null, 2) + '\n', { mode: 0o600, uid: 0, gid: 0 });
}

/** A root-only secret file's content, or undefined when missing or readable by others. */
export function readSecret(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const st = statSync(file);
  if (st.uid !== 0 || (st.mode & 0o077) !== 0) return undefined;
  const v = readFileSync(file, 'utf8').trim();
  return /^[0-9a-f]{32,64}$/.test(v) ? v : undefined;
}

/** Host programs a bare node needs beyond a local node's (the Debian package in the message). */
export const BARE_TOOLS = {
  ip: TOOLS.ip,
  nsenter: TOOLS.nsenter,
  sh: TOOLS.sh,
  mount: TOOLS.mount,
  umount: TOOLS.umount,
  sshKeygen: TOOLS.sshKeygen,
  unshare: { path: '/usr/bin/unshare', pkg: 'util-linux' },
} as const;
/** Needed only to build the rootfs cache (rootfs.ts). */
export const MMDEBSTRAP = { path: '/usr/bin/mmdebstrap', pkg: 'mmdebstrap' } as const;

export function requireBareTools(): void {
  const missing = Object.values(BARE_TOOLS).filter((t) => !isExecutable(t.path));
  if (missing.length === 0) return;
  throw new DfsError(
    ErrorCode.ToolMissing,
    `a bare test node needs ${missing.map((t) => t.path).join(', ')}: install them with \`apt-get install ${[...new Set(missing.map((t) => t.pkg))].join(' ')}\``,
  );
}
