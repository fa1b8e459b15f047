// Test support: what a process holds, read from /proc: its BPF objects (programs, maps, links
// by fd) and its child processes (an agent's sandbox children).
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
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false; // exited while we looked
      }
    })
    .map(Number);
}

/** A process's command line, spaces for NULs; "" when it is gone. */
export function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
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
