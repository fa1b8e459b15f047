// Test support: what the kernel holds (through bpftool, independently of our addon), and a
// bounded poll helper.
import { execFileSync } from 'node:child_process';

interface BpftoolProg {
  id: number;
  name?: string;
  type: string;
}
interface BpftoolLink {
  id: number;
  prog_id: number;
  type: string;
}

export function bpfPrograms(): BpftoolProg[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'prog', 'show'], { encoding: 'utf8' }) || '[]') as BpftoolProg[];
}

export function bpfProgramNames(): string[] {
  return bpfPrograms().map((p) => p.name ?? '');
}

export function bpfLinks(): BpftoolLink[] {
  return JSON.parse(execFileSync('bpftool', ['-j', 'link', 'show'], { encoding: 'utf8' }) || '[]') as BpftoolLink[];
}

/**
 * Poll `cond` every 50 ms until it holds or `ms` pass (then fail, naming `what`; a function is
 * called only then, so the message can say what was still wrong at the deadline).
 */
export async function waitFor(cond: () => boolean, ms: number, what: string | (() => string)): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (cond()) return Date.now() - t0;
    if (Date.now() - t0 > ms) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
