// Test support: what a process holds, read from /proc: its BPF objects (programs, maps, links
// by fd), its child processes (an agent's sandbox children), its command line and cgroup.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** BPF programs, maps and links the process holds by fd (anon inodes "bpf-prog", "bpf-map", "bpf_link"). */
export function bpfFdsOf(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir)
    .map((fd) => {
      try {
        return readlinkSync(join(dir, fd));
      } catch {
        return ''; // closed while we listed
      }
    })
    .filter((l) => /anon_inode:bpf/.test(l));
}

/** Child processes of `pid`. */
export function childrenOf(pid: number): number[] {
  return allPids().filter((p) => {
    // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
    const stat = procText(p, 'stat');
    return stat !== '' && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
  });
}

/** The pids of every process now. */
export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** A file under /proc/<pid>, "" when the process is gone (it may exit while we look). */
export function procText(pid: number, file: string): string {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return '';
  }
}

/** A process's command line, spaces for NULs; "" when it is gone. */
export function cmdlineOf(pid: number): string {
  return procText(pid, 'cmdline').split('\0').join(' ').trim();
}

/**
 * The agent's children that are not its one spare: after its requests are answered, an agent
 * may keep one fresh sandbox child waiting for the next verification (remote-agent/src/
 * sandbox.ts), and nothing else. Returns the offending children (empty when all is well).
 */
export function childrenBesidesSpare(agentPid: number): number[] {
  const children = childrenOf(agentPid);
  const spares = children.filter((pid) => /--check-object/.test(cmdlineOf(pid)));
  return spares.length <= 1 ? children.filter((pid) => !spares.includes(pid)) : children;
}
