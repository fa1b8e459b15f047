/**
 * Adoption of JuiceFS connections that already exist when the bypass is attached. sock_ops
 * only fires when a connection is established, and JuiceFS keeps its Redis connections open
 * for hours, so without this an attached bypass would redirect nothing until a remount. The
 * agent finds established TCP sockets in its network namespace whose one end is a policy
 * endpoint and whose both ends are local and owned by processes of the bypass cgroup, and adds
 * both sockets of each pair to the sockhash. A socket with queued bytes is skipped and retried
 * on the next scan (adding it could reorder that data with later redirected data).
 */

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { PolicyEndpoint } from '@dfs/protocol';
import type { Addon } from './native';

export interface TcpSocket {
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  inode: number;
}

/** /proc/net/tcp's hex "0100007F:18EB" (IPv4 as a host-order u32, port) → ["127.0.0.1", 6379]. */
function hexEndpoint(field: string): [string, number] {
  const [ip = '', port = ''] = field.split(':');
  const octets = [6, 4, 2, 0].map((i) => parseInt(ip.slice(i, i + 2), 16));
  return [octets.join('.'), parseInt(port, 16)];
}

/** Established IPv4 TCP sockets from /proc/net/tcp text. */
export function parseProcNetTcp(text: string): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '01') continue; // 01 = TCP_ESTABLISHED
    const [localIp, localPort] = hexEndpoint(f[1] ?? '');
    const [remoteIp, remotePort] = hexEndpoint(f[2] ?? '');
    out.push({ localIp, localPort, remoteIp, remotePort, inode: Number(f[9]) });
  }
  return out;
}

/** Every (pid, fd) of the processes in a cgroup (and its children) that holds a socket, by inode. */
function socketOwners(cgroup: string): Map<number, { pid: number; fd: number }> {
  const owners = new Map<number, { pid: number; fd: number }>();
  const visit = (dir: string): void => {
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return; // the cgroup went away
    }
    const pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    for (const pid of pids) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue; // exited meanwhile
      }
      for (const fd of fds) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          if (m && !owners.has(Number(m[1]))) owners.set(Number(m[1]), { pid, fd: Number(fd) });
        } catch {
          continue; // closed meanwhile
        }
      }
    }
    for (const child of entries) visit(join(dir, child));
  };
  visit(cgroup);
  return owners;
}

/** The sockhash key the BPF program uses for a socket (struct bypass_sock_key). */
export function sockKey(s: TcpSocket): Buffer {
  const key = Buffer.alloc(16);
  key.set(s.localIp.split('.').map(Number), 0);
  key.set(s.remoteIp.split('.').map(Number), 4);
  key.writeUInt16BE(s.localPort, 10); // network order in the upper half of a big-endian u32
  key.writeUInt16BE(s.remotePort, 14);
  return key;
}

function isLocalPair(s: TcpSocket): boolean {
  return s.remoteIp.startsWith('127.') || s.remoteIp === s.localIp;
}

function selected(policy: PolicyEndpoint[], ip: string, port: number): boolean {
  return policy.some((e) => e.port === port && (e.host === ip || e.host === '0.0.0.0'));
}

export interface AdoptResult {
  added: number;
  busy: number;
  /** Connections of the cgroup to a selected endpoint whose peer is on another host: left alone. */
  remote: number;
}

/**
 * Add every adoptable existing connection to the sockhash; `done` holds the inodes already
 * handled (added or found present) and is updated, so repeated scans are cheap.
 */
export function adoptExisting(
  addon: Addon,
  sockhashFd: number,
  cgroup: string,
  policy: PolicyEndpoint[],
  done: Set<number>,
): AdoptResult {
  const socks = parseProcNetTcp(readFileSync('/proc/net/tcp', 'utf8')).filter(
    (s) =>
      !done.has(s.inode) && (selected(policy, s.localIp, s.localPort) || selected(policy, s.remoteIp, s.remotePort)),
  );
  const result: AdoptResult = { added: 0, busy: 0, remote: 0 };
  if (socks.length === 0) return result;
  const owners = socketOwners(cgroup);
  // A remote peer can never be redirected to (as in bypass_sockops): counted once, never added.
  for (const s of socks.filter((x) => !isLocalPair(x) && owners.has(x.inode))) {
    result.remote++;
    done.add(s.inode);
  }
  const wanted = socks.filter(isLocalPair);
  for (const s of wanted) {
    const owner = owners.get(s.inode);
    if (!owner) continue; // not a socket of the bypass cgroup: sk_msg would never see its peer
    try {
      const r = addon.sockmapAdopt(sockhashFd, owner.pid, owner.fd, sockKey(s));
      if (r === 'busy') {
        result.busy++;
        continue;
      }
      if (r === 'added') result.added++;
      done.add(s.inode);
    } catch {
      continue; // the socket or its process went away between the scan and the adoption
    }
  }
  return result;
}
