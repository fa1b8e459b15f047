/**
 * The Symbolizer: names the frames of stacks that BPF captured (bpf_get_stackid), kernel
 * addresses through /proc/kallsyms and user addresses through the process's mappings and the
 * mapped files' own tables (Go pcln, else ELF symbols). It owns two caches: kallsyms, read once
 * on first use, and modules, read once per file identity (dev, inode, mtime, size) and kept for
 * the last MAX_MODULES files used. A process's maps are re-read when older than MAPS_TTL_MS or
 * when an address falls outside them.
 *
 * Contract: exactly one NamedFrame per input address, same order; never throws. What cannot be
 * named is `module+0xOFFSET` (OFFSET = file offset in the mapped file, so it survives ASLR and
 * PIE) or `[unknown]+0xADDR` outside every file mapping. Kernel names carry KERNEL_FRAME_SUFFIX.
 * Addresses are named as given: a caller that wants the call site of a return address passes
 * the return address minus one. Kernel module symbols are named without their module. A mapped
 * file is read only when it is the very inode the maps line names.
 */

import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { type FrameSource, KERNEL_FRAME_SUFFIX } from '@dfs/protocol';
import { fileSource } from './elf';
import { kernelSymbolAt, type KernelSymbols, parseKallsyms } from './kallsyms';
import { ModuleSymbols } from './module';
import { mappingAt, type Mapping, parseMaps } from './procMaps';

export interface NamedFrame {
  name: string;
  source?: FrameSource;
  /**
   * Go only, when the PC is in code the compiler inlined: `name` and `source` are the inlined
   * function's (the leaf, as Go's own tracebacks name it), and this lists the enclosing calls
   * outward, each at its call site, ending with the function the code physically belongs to.
   * A caller that wants every logical frame inserts these after this one (leaf first).
   */
  inlinedInto?: NamedFrame[];
}

const MAX_MODULES = 16;
const MAPS_TTL_MS = 1000;
const MAX_PIDS = 256;
/** Larger user addresses do not exist on x86-64/arm64 (47–52 bits); they are named [unknown]. */
const MAX_USER_ADDR = BigInt(Number.MAX_SAFE_INTEGER);

interface ProcessView {
  readAt: number;
  maps: Mapping[];
  modules: Map<Mapping, ModuleSymbols>;
}

export class Symbolizer {
  private readonly kallsymsPath: string;
  private readonly procRoot: string;
  private kallsyms: KernelSymbols | undefined;
  private readonly modules = new Map<string, ModuleSymbols>();
  private readonly processes = new Map<number, ProcessView>();

  /** kallsyms read once (lazily); user modules cached by (dev, inode, mtime) of the mapped file. */
  constructor(opts: { kallsymsPath?: string; procRoot?: string } = {}) {
    this.kallsymsPath = opts.kallsymsPath ?? '/proc/kallsyms';
    this.procRoot = opts.procRoot ?? '/proc';
  }

  /** Kernel addresses → 'name_[k]'; unknown → '[kernel]+0xADDR_[k]'. */
  kernel(addrs: readonly bigint[]): NamedFrame[] {
    const syms = this.kernelSymbols();
    return addrs.map((addr) => {
      const i = typeof addr === 'bigint' && addr >= 0n ? kernelSymbolAt(syms, addr) : -1;
      const name = i >= 0 ? syms.names[i]! : `[kernel]+0x${hex(addr)}`;
      return { name: name + KERNEL_FRAME_SUFFIX };
    });
  }

  /** User addresses of process `pid` → Go function names (with file:line), ELF symbols, or module+0xOFFSET. */
  user(pid: number, addrs: readonly bigint[]): NamedFrame[] {
    let view = this.processView(pid, false);
    let reread = false;
    return addrs.map((addr) => {
      try {
        const a = typeof addr === 'bigint' && addr >= 0n && addr <= MAX_USER_ADDR ? Number(addr) : -1;
        if (a < 0) return { name: `[unknown]+0x${hex(addr)}` };
        let m = view ? mappingAt(view.maps, a) : undefined;
        if (!m && view && !reread) {
          // The process may have mapped something since we read its maps: read them once more.
          reread = true;
          view = this.processView(pid, true);
          m = view ? mappingAt(view.maps, a) : undefined;
        }
        if (!view || !m || m.path === '') return { name: `[unknown]+0x${hex(addr)}` };
        return this.nameInMapping(pid, view, m, a);
      } catch {
        return { name: `[unknown]+0x${hex(addr)}` }; // never fatal: see the header
      }
    });
  }

  private nameInMapping(pid: number, view: ProcessView, m: Mapping, addr: number): NamedFrame {
    const fileOffset = addr - m.start + m.offset;
    const fallback = (): NamedFrame => ({ name: `${basename(m.path)}+0x${fileOffset.toString(16)}` });
    if (!m.path.startsWith('/')) return fallback(); // [vdso], [heap], [stack]…
    let mod = view.modules.get(m);
    if (!mod) {
      mod = this.moduleFor(pid, m);
      view.modules.set(m, mod);
    }
    const vaddr = mod.vaddrOfOffset(fileOffset);
    const named = vaddr === undefined ? undefined : mod.nameAt(vaddr);
    if (!named) return fallback();
    const frame = toFrame(named);
    if (named.inlinedInto) frame.inlinedInto = named.inlinedInto.map(toFrame);
    return frame;
  }

  /** The module of a file mapping: through map_files (root; works across mount namespaces and for deleted files), else root/PATH. */
  private moduleFor(pid: number, m: Mapping): ModuleSymbols {
    const candidates = [`${this.procRoot}/${pid}/map_files/${m.start.toString(16)}-${m.end.toString(16)}`];
    // By path only while the mapped file is still there: a replaced binary (an upgrade) must not name the old one's frames.
    if (!m.deleted) candidates.push(`${this.procRoot}/${pid}/root${m.path}`);
    for (const path of candidates) {
      let key: string;
      try {
        const st = statSync(path);
        if (!st.isFile() || st.ino !== m.inode) continue;
        key = `${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}`;
      } catch {
        continue;
      }
      const cached = this.modules.get(key);
      if (cached) {
        this.modules.delete(key); // most recently used last
        this.modules.set(key, cached);
        return cached;
      }
      const source = fileSource(path);
      if (!source) continue;
      let mod: ModuleSymbols;
      try {
        mod = ModuleSymbols.read(source);
      } finally {
        source.close();
      }
      this.modules.set(key, mod);
      for (const old of this.modules.keys()) {
        if (this.modules.size <= MAX_MODULES) break;
        this.modules.delete(old);
      }
      return mod;
    }
    return ModuleSymbols.empty(`cannot open ${m.path} of pid ${pid}`);
  }

  private processView(pid: number, force: boolean): ProcessView | undefined {
    const now = Date.now();
    const cached = this.processes.get(pid);
    if (cached && !force && now - cached.readAt < MAPS_TTL_MS) return cached;
    let text: string;
    try {
      if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
      text = readFileSync(`${this.procRoot}/${pid}/maps`, 'utf8');
    } catch {
      this.processes.delete(pid);
      return undefined;
    }
    const view: ProcessView = { readAt: now, maps: parseMaps(text), modules: new Map() };
    this.processes.delete(pid);
    this.processes.set(pid, view);
    for (const old of this.processes.keys()) {
      if (this.processes.size <= MAX_PIDS) break;
      this.processes.delete(old);
    }
    return view;
  }

  private kernelSymbols(): KernelSymbols {
    if (!this.kallsyms) {
      let text = '';
      try {
        text = readFileSync(this.kallsymsPath, 'utf8');
      } catch {
        // Unreadable kallsyms: every kernel frame is '[kernel]+0x…', which says so.
      }
      this.kallsyms = parseKallsyms(text);
    }
    return this.kallsyms;
  }
}

function toFrame(n: { name: string; file?: string; line?: number }): NamedFrame {
  return n.file !== undefined && n.line !== undefined
    ? { name: n.name, source: { file: n.file, line: n.line } }
    : { name: n.name };
}

function hex(addr: unknown): string {
  return typeof addr === 'bigint' ? BigInt.asUintN(64, addr).toString(16) : String(addr);
}
