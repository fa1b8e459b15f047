/**
 * Finds the JuiceFS mounts this agent serves and reads their configuration from the running
 * daemons themselves: the mount's `.config` virtual file (volume, version, bucket, daemon
 * PID), the daemon's command line (metadata URL) and its cgroup. Only mounts whose daemon
 * shares the agent's network namespace count: on a machine hosting several local test
 * nodes, each node's agent sees only its own JuiceFS.
 */

import { readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { JuiceFsMount } from '@dfs/protocol';
import { cgroup2Root } from './kernel';

/** Mountpoints of type fuse.juicefs from a mountinfo text (octal escapes decoded). */
export function parseJuiceFsMountpoints(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    if (post.split(' ')[0] !== 'fuse.juicefs') continue;
    const mp = pre.split(' ')[4];
    if (mp) out.push(mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}

/**
 * A mountpoint as the kernel writes it: normalized (`/mnt//jfs/./` → `/mnt/jfs`), no trailing
 * slash, so that a path typed with one still names the mount. Null for a relative path.
 */
export function normalizeMountpoint(path: string): string | null {
  if (!path.startsWith('/')) return null;
  const n = posix.normalize(path);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/**
 * Remove every password from a URL-ish string, for anything that leaves the agent (answers,
 * logs): the userinfo password (`redis://user:secret@host` → `redis://user:***@host`, also
 * `unix://:secret@/run/redis.sock`, `mysql://u:secret@(host:3306)/db`) and password query
 * parameters (`postgres://host/db?password=secret`). Over-redacting is fine; leaking is not.
 */
export function redactUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/is.exec(url);
  if (!m) return url;
  // Query parameters first: their values may hold '@', which would mislead the userinfo search.
  let rest = (m[2] ?? '').replace(
    /([?&;](?:password|passwd|pwd|secret[-_]?key|sentinel[-_]?password)=)[^&;#]*/gi,
    '$1***',
  );
  const at = rest.lastIndexOf('@'); // passwords may hold '@', hosts never do
  const colon = rest.slice(0, Math.max(at, 0)).indexOf(':');
  if (at >= 0 && colon >= 0) rest = `${rest.slice(0, colon)}:***${rest.slice(at)}`;
  return `${m[1]}${rest}`;
}

/**
 * The metadata URL of a `juicefs mount` command line: the first argument after `mount`
 * that looks like a URL. JuiceFS rewrites its own argv into one space-joined string (to mask
 * the password as `****`), so arguments are split on whitespace too; URLs never contain spaces.
 * The password may also not be in the URL at all (META_PASSWORD / REDIS_PASSWORD in the
 * daemon's environment, as on local test nodes): the URL still names the endpoint.
 */
export function metaUrlFromCmdline(argv: string[]): string | null {
  const words = argv.flatMap((a) => a.split(/\s+/)).filter(Boolean);
  const i = words.indexOf('mount');
  if (i < 0) return null;
  for (const a of words.slice(i + 1)) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(a)) return a;
  }
  return null;
}

interface JuiceFsConfigFile {
  Pid?: number;
  Version?: string;
  Format?: { Name?: string; Storage?: string; Bucket?: string };
}

function netnsInode(pid: number | 'self'): number {
  return statSync(`/proc/${pid}/ns/net`).ino;
}

function cgroupOf(pid: number): string {
  const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  if (!line) return '';
  const root = cgroup2Root();
  return root ? join(root, line.slice(3)) : '';
}

/**
 * Mounts served by daemons in our network namespace, with full (unredacted) URLs.
 * The agent needs the real host:port to build the policy; only redacted copies leave it.
 */
export interface DiscoveredMount extends JuiceFsMount {
  metaUrl: string;
  bucketUrl: string;
}

export function discoverJuiceFs(): DiscoveredMount[] {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  const ownNet = netnsInode('self');
  const found: DiscoveredMount[] = [];
  for (const mountpoint of parseJuiceFsMountpoints(mountinfo)) {
    let cfg: JuiceFsConfigFile;
    try {
      cfg = JSON.parse(readFileSync(join(mountpoint, '.config'), 'utf8')) as JuiceFsConfigFile;
    } catch {
      continue; // a stale or foreign mount without a readable .config is not ours to accelerate
    }
    const pid = cfg.Pid;
    if (typeof pid !== 'number') continue;
    try {
      if (netnsInode(pid) !== ownNet) continue;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const metaUrl = metaUrlFromCmdline(argv) ?? '';
      const bucketUrl = cfg.Format?.Bucket ?? '';
      found.push({
        mountpoint,
        volume: cfg.Format?.Name ?? '',
        version: cfg.Version ?? '',
        meta: redactUrl(metaUrl),
        storage: cfg.Format?.Storage ?? '',
        bucket: redactUrl(bucketUrl),
        pid,
        cgroup: cgroupOf(pid),
        metaUrl,
        bucketUrl,
      });
    } catch {
      continue; // the daemon exited between reading .config and /proc
    }
  }
  return found;
}

/** The public view of a discovered mount (no secrets). */
export function publicMount(m: DiscoveredMount): JuiceFsMount {
  return {
    mountpoint: m.mountpoint,
    volume: m.volume,
    version: m.version,
    meta: m.meta,
    storage: m.storage,
    bucket: m.bucket,
    pid: m.pid,
    cgroup: m.cgroup,
  };
}
