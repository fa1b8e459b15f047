/**
 * tracefs for the profiler's classic syscall tracepoints: libbpf finds a tracepoint's id under
 * /sys/kernel/tracing/events/, and our kernels do not mount tracefs at boot (DESIGN.md §2), so
 * the agent mounts it once when it is missing (and says so in the log). The mount stays: it
 * is the kernel's standard place, holds no state of ours and other tools expect it.
 */

import { existsSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { ErrorCode } from '@dfs/protocol';
import { AgentError } from '../errors';
import type { AgentLog } from '../log';

export const TRACEFS = '/sys/kernel/tracing';

function tracefsMounted(): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .some((l) => l.split(' ')[4] === TRACEFS && l.split(' - ')[1]?.startsWith('tracefs '));
  } catch {
    return false;
  }
}

/** Mount tracefs at /sys/kernel/tracing unless it is there. */
export function ensureTracefs(log: AgentLog, opId?: number): void {
  if (tracefsMounted()) return;
  try {
    // mount(8) with fixed arguments: the agent never runs a command for a client.
    execFileSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { stdio: 'pipe', timeout: 10_000 });
  } catch (err) {
    throw new AgentError(
      ErrorCode.KernelFeatureMissing,
      `tracefs is not mounted and mounting it at ${TRACEFS} failed: ${(err as Error).message}`,
    );
  }
  log.info('profile', `mounted tracefs at ${TRACEFS} (the syscall tracepoints need it)`, opId);
}

/** Whether the kernel has the classic tracepoint `category/name` (e.g. syscalls/sys_enter_open). */
export function hasTracepoint(category: string, name: string): boolean {
  return existsSync(`${TRACEFS}/events/${category}/${name}`);
}
