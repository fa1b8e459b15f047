/**
 * The only module that touches the libbpf addon (remote-agent/native/*.cc, built as dfs_bpf.node).
 * It loads `dfs_bpf.node` from beside the bundled agent and declares the addon's API.
 * Every addon call is synchronous; errors are thrown as `NativeError` (an Error with
 * `errno` and `op`), never as crashes. Handles own kernel fds: `close()`/`destroy()`
 * release them, and process exit releases them all (that is the agent's ownership model).
 */

import { join } from 'node:path';

/** Thrown by every failing addon call. */
export interface NativeError extends Error {
  /** Positive errno (EPERM = 1, EINVAL = 22, ...). */
  errno: number;
  /** The libbpf/syscall operation that failed, e.g. "bpf_object__open_mem". */
  op: string;
}

export interface ProgramInfo {
  name: string;
  /** ELF section, e.g. "sockops", "sk_msg", "tracepoint/syscalls/sys_enter_read". */
  section: string;
  /** libbpf's name for the program type, e.g. "sock_ops", "sk_msg", "tracing". */
  type: string;
  /** libbpf's name for the expected attach type, e.g. "cgroup_sock_ops", "trace_fentry", or "". */
  attachType: string;
  /** Instruction count in the ELF (before load). */
  insnCount: number;
  /** Kernel program id after a successful load, else 0. */
  id: number;
}

export interface MapInfo {
  name: string;
  /** libbpf's name for the map type, e.g. "sockhash", "percpu_array", "hash". */
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  /** Kernel map id after load (0 before). */
  id: number;
}

export interface LoadResult {
  /** 0 on success, else the positive errno of the failed load. */
  errno: number;
  /** Kernel verifier log (all programs, in load order), possibly empty. */
  log: string;
  /** True when the kernel reported that the log buffer was too small (ENOSPC). */
  logTruncated: boolean;
  /**
   * Each loaded program's own log, in load order. libbpf stops at the first failing program,
   * so programs after it have empty logs: verify one program per object (setAutoload).
   */
  programs: { name: string; log: string; truncated: boolean }[];
  /** libbpf's warnings when the load failed (the reason when the verifier never ran), else "". */
  messages: string;
}

/** An opened (and maybe loaded) BPF object; wraps `struct bpf_object *`. */
export interface BpfObject {
  programs(): ProgramInfo[];
  maps(): MapInfo[];
  /** Choose whether load() loads a program (default true); before load() only. */
  setAutoload(program: string, autoload: boolean): void;
  /** bpf_object__load with the log level and buffer size given at open. Call at most once. */
  load(): LoadResult;
  /** Attach a sock_ops (or other cgroup) program to a cgroup v2 directory as a bpf_link. */
  attachCgroup(program: string, cgroupPath: string): BpfLink;
  /**
   * Attach an sk_msg (or sk_skb) program to a sockmap/sockhash. Uses BPF_LINK_CREATE where the
   * kernel supports it (link.id > 0), else bpf_prog_attach (link.id = 0); destroy() detaches either way.
   */
  attachToMap(program: string, map: string, attachType: 'sk_msg_verdict'): BpfLink;
  /** Generic libbpf auto-attach (tracepoint, raw_tp, tp_btf, ...) by section name. */
  attachAuto(program: string): BpfLink;
  mapFd(map: string): number;
  programFd(program: string): number;
  /** The global variables of a data section map (".rodata", ".bss", ...) as BTF describes them. */
  variables(map: string): { name: string; offset: number; size: number }[];
  /**
   * Before load(): write `value` (exactly the variable's size) as the initial value of a global
   * of a data section, e.g. a `const volatile` setting in ".rodata". Throws EBUSY after load.
   */
  setVariable(map: string, name: string, value: Buffer): void;
  /** Destroys the object (and unloads its programs and maps unless links or pins hold them). Idempotent. */
  close(): void;
}

export interface BpfLink {
  /** Kernel link id, or 0 for a legacy (non-link) attachment. */
  readonly id: number;
  /** The link's fd (-1 for a legacy attachment or after destroy()). */
  readonly fd: number;
  /** Detach. Idempotent. */
  destroy(): void;
  /**
   * Give up ownership of the attachment (libbpf's bpf_link__disconnect): destroy() and the GC
   * then only close the fd and never detach. Used after the attachment was pinned.
   */
  disconnect(): void;
}

/**
 * A ring buffer read on the event loop (uv_poll on ring_buffer__epoll_fd, no thread): the
 * callback gets each wake-up's records (at most maxPerWake) as Buffers. Holds its own dup of
 * the map fd and the mmap, so it keeps working if the object closes first. Never keeps the
 * process alive.
 */
export interface RingBufferPoll {
  /** Stop and free; idempotent, safe inside the callback. */
  close(): void;
}

/** One program's run-time statistics (counted while enableRunTimeStats' fd is open). */
export interface ProgramStats {
  id: number;
  name: string;
  runTimeNs: number;
  runCnt: number;
  recursionMisses: number;
}

export interface OpenOptions {
  /** Object name used in libbpf messages (e.g. the file name). */
  name: string;
  /** Verifier log level for load(): 0 none, 1 normal, 2 verbose (| 4 stats). */
  logLevel: number;
  /** Log buffer size in bytes for load(). */
  logSize: number;
}

export interface MapFdInfo {
  id: number;
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export interface Addon {
  /** "v1.7": the libbpf linked into the addon (scripts/libbpf.mjs). */
  libbpfVersion(): string;
  /** Open a BPF ELF from memory (bpf_object__open_mem). Throws NativeError (EINVAL etc.) on a bad ELF. */
  openObject(elf: Buffer, opts: OpenOptions): BpfObject;
  /** libbpf_probe_bpf_prog_type by libbpf type name ("sock_ops", "sk_msg", ...): 1 yes, 0 no, <0 -errno. */
  probeProgType(type: string): number;
  /** libbpf_probe_bpf_map_type by libbpf map type name ("sockhash", "ringbuf", ...). */
  probeMapType(type: string): number;
  /** libbpf_num_possible_cpus(). */
  numPossibleCpus(): number;
  /** Map ops on any map fd; keys/values are raw bytes. lookup returns null when absent (ENOENT). */
  mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | null;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  /** Next key after `key` (null: first key); null at the end. */
  mapNextKey(fd: number, key: Buffer | null, keySize: number): Buffer | null;
  mapInfo(fd: number): MapFdInfo;
  /** Program ids attached to a cgroup for an attach type (bpf_prog_query), e.g. "cgroup_sock_ops". */
  cgroupProgIds(cgroupPath: string, attachType: string): number[];
  /** Name of the kernel program with this id (bpf_prog_get_fd_by_id + info), or null if gone. */
  progNameById(id: number): string | null;
  /** Ids of every program loaded in the kernel (bpf_prog_get_next_id). */
  allProgIds(): number[];
  /** Ids of every map in the kernel (bpf_map_get_next_id; opens nothing, takes no reference). */
  allMapIds(): number[];
  /** Ids of the maps a kernel program uses, or null if the program is gone. */
  progMapIds(id: number): number[] | null;
  /** An fd for the kernel map with this id (bpf_map_get_fd_by_id); the caller closes it. */
  mapFdById(id: number): number;
  /** Pin any BPF fd (link, map, program) at a bpffs path (bpf_obj_pin). */
  pinFd(fd: number, path: string): void;
  /** Open a pinned BPF object (bpf_obj_get); the caller closes the fd. */
  openPinned(path: string): number;
  /** close(2) an fd returned by mapFdById/openPinned. */
  closeFd(fd: number): void;
  /**
   * Add a live TCP socket, borrowed from process `pid`'s fd `fd` (pidfd_getfd), to a
   * sockmap/sockhash under `key` (BPF_NOEXIST). "busy": bytes are queued on it, left alone.
   */
  sockmapAdopt(mapFd: number, pid: number, fd: number, key: Buffer): 'added' | 'exists' | 'busy';
  /** Poll a BPF_MAP_TYPE_RINGBUF map (see RingBufferPoll); `error` set when the poll failed and stopped. */
  ringBufferPoll(
    mapFd: number,
    callback: (events: Buffer[], error?: string) => void,
    maxPerWake: number,
  ): RingBufferPoll;
  /** BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): run-time stats are counted while this fd is open (closeFd). */
  enableRunTimeStats(): number;
  /** run_cnt / run_time_ns of the program behind a program fd. */
  programStats(progFd: number): ProgramStats;
  /**
   * Every entry of a map (at most maxEntries) as raw bytes: batch lookup where the map kind has
   * it, else get_next_key + lookup. Per-CPU values hold every CPU's slot (value size rounded to 8).
   */
  mapDump(mapFd: number, maxEntries: number): { key: Buffer; value: Buffer }[];
}

let cached: Addon | undefined;

/** Load the addon that ships beside the agent bundle (dist/agent/dfs_bpf.node). */
export function loadAddon(dir: string = __dirname): Addon {
  if (!cached) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require(join(dir, 'dfs_bpf.node')) as Addon;
  }
  return cached;
}
