/**
 * PLACEHOLDER Symbolizer (helper/probe only, to compile and run the profiler): the real one,
 * with Go pcln and ELF names, is being written on its own branch and replaces this file at
 * merge. Same API and contract: one NamedFrame per address, same order, never throws. Kernel
 * addresses are named from /proc/kallsyms ('name_[k]'); user addresses only as
 * 'module+0xOFFSET' (file offset) from /proc/PID/maps.
 */

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { type FrameSource, KERNEL_FRAME_SUFFIX } from '@dfs/protocol';

export interface NamedFrame {
  name: string;
  source?: FrameSource;
}

interface Mapping {
  start: bigint;
  end: bigint;
  offset: bigint;
  path: string;
}

const hex = (v: bigint): string => v.toString(16);

export class Symbolizer {
  private kallsyms: { addrs: bigint[]; names: string[] } | undefined;
  private readonly maps = new Map<number, Mapping[]>();

  constructor(private readonly opts: { kallsymsPath?: string; procRoot?: string } = {}) {}

  kernel(addrs: readonly bigint[]): NamedFrame[] {
    const syms = this.kernelSymbols();
    return addrs.map((a) => {
      let lo = 0;
      let hi = syms.addrs.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if ((syms.addrs[mid] ?? 0n) <= a) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      const name = found >= 0 ? (syms.names[found] ?? '') : `[kernel]+0x${hex(a)}`;
      return { name: name + KERNEL_FRAME_SUFFIX };
    });
  }

  user(pid: number, addrs: readonly bigint[]): NamedFrame[] {
    const maps = this.processMaps(pid);
    return addrs.map((a) => {
      const m = maps.find((x) => a >= x.start && a < x.end);
      if (!m || m.path === '') return { name: `[unknown]+0x${hex(a)}` };
      return { name: `${basename(m.path)}+0x${hex(a - m.start + m.offset)}` };
    });
  }

  private kernelSymbols(): { addrs: bigint[]; names: string[] } {
    if (this.kallsyms) return this.kallsyms;
    const rows: [bigint, string][] = [];
    try {
      for (const line of readFileSync(this.opts.kallsymsPath ?? '/proc/kallsyms', 'utf8').split('\n')) {
        const [addr, type, name] = line.split(/\s+/);
        if (!addr || !name || !type || !/[tTwW]/.test(type)) continue;
        const v = BigInt(`0x${addr}`);
        if (v !== 0n) rows.push([v, name]);
      }
    } catch {
      // no kallsyms: every kernel frame is [kernel]+0xADDR
    }
    rows.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    this.kallsyms = { addrs: rows.map((r) => r[0]), names: rows.map((r) => r[1]) };
    return this.kallsyms;
  }

  private processMaps(pid: number): Mapping[] {
    const cached = this.maps.get(pid);
    if (cached) return cached;
    const out: Mapping[] = [];
    try {
      for (const line of readFileSync(`${this.opts.procRoot ?? '/proc'}/${pid}/maps`, 'utf8').split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+)\s+\S+\s+([0-9a-f]+)\s+\S+\s+\d+\s*(.*)$/.exec(line);
        if (!m) continue;
        out.push({
          start: BigInt(`0x${m[1]}`),
          end: BigInt(`0x${m[2]}`),
          offset: BigInt(`0x${m[3]}`),
          path: m[4] ?? '',
        });
      }
    } catch {
      // the process is gone: every frame is [unknown]
    }
    this.maps.set(pid, out);
    return out;
  }
}
