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

/** One page of a map's entries (mapReadPage). */
export interface MapPage {
  /** `count` keys of the map's key size, back to back. */
  keys: Buffer;
  /**
   * `count` values of the size the syscalls use, back to back: the value size, except per-CPU
   * maps (every possible CPU's slot, each rounded up to 8 bytes) and fd maps (a 4-byte id).
   */
  values: Buffer;
  count: number;
  /** Pass back for the next page; null when the map has no more entries. Opaque. */
  cursor: Buffer | null;
  /** True when the page came from BPF_MAP_LOOKUP_BATCH, false from get_next_key + lookup. */
  batched: boolean;
}

/** Every field of the kernel's bpf_map_info that the explorer shows (mapInfoById/mapInfoByFd). */
export interface MapDetails {
  id: number;
  /** libbpf's name for the map type, e.g. "hash", "percpu_array", "sockhash", "ringbuf". */
  type: string;
  name: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  mapFlags: number;
  /** Offloaded to this device, else 0. */
  ifindex: number;
  /** BTF object of the key/value types (0: none); read it with btfInfoById. */
  btfId: number;
  btfKeyTypeId: number;
  btfValueTypeId: number;
  /** struct_ops maps: the value type in kernel BTF (btfVmlinuxId), else 0. */
  btfVmlinuxValueTypeId: number;
  btfVmlinuxId: number;
  /** Kind-specific: a bloom filter's hash count, an arena's user address; else 0n. */
  mapExtra: bigint;
  /** BPF_MAP_FREEZE was applied (user space can no longer write), as the map's fdinfo says. */
  frozen: boolean;
}

/** A BTF object by id (btfInfoById). */
export interface BtfDetails {
  id: number;
  /** "vmlinux", a module's name for kernel BTF; "" for the BTF a program or map was loaded with. */
  name: string;
  /** True for the kernel's own BTF (vmlinux and modules), false for BTF loaded from user space. */
  kernel: boolean;
  /** The raw BTF (header, types, strings) exactly as the kernel holds it; starts with 0x9f 0xeb. */
  data: Buffer;
}

/** Every field of the kernel's bpf_prog_info that the explorer shows (progInfoById). */
export interface ProgDetails {
  id: number;
  /** libbpf's name for the program type, e.g. "tracing", "sock_ops", "sk_msg". */
  type: string;
  name: string;
  /** The kernel's 8-byte program tag, 16 lowercase hex digits (as bpftool prints it). */
  tag: string;
  gplCompatible: boolean;
  /** When it was loaded, in ns since boot (CLOCK_BOOTTIME). */
  loadTime: bigint;
  createdByUid: number;
  mapIds: number[];
  /** BTF object of the program's own types (0: none). */
  btfId: number;
  /** tracing/lsm/ext programs: the BTF object (1 is vmlinux) and type id they attach to, else 0. */
  attachBtfObjId: number;
  attachBtfId: number;
  /** Counted only while enableRunTimeStats' fd is open (or kernel.bpf_stats_enabled is 1). */
  runTimeNs: number;
  runCnt: number;
  recursionMisses: number;
  verifiedInsns: number;
  xlatedProgLen: number;
  /** 0 when the program is not JIT-compiled. */
  jitedProgLen: number;
}

/**
 * A BPF link by id (linkInfoById). `type` is libbpf's link type name ("raw_tracepoint",
 * "tracing", "cgroup", "iter", "netns", "xdp", "perf_event", "kprobe_multi", "struct_ops",
 * "netfilter", "tcx", "uprobe_multi", "netkit", "sockmap", or "unknown(N)" for a newer kind);
 * the optional fields are present exactly for the types listed beside them.
 */
export interface LinkDetails {
  id: number;
  type: string;
  progId: number;
  /** libbpf's attach type name: tracing, cgroup, netns, tcx, netkit, sockmap. */
  attachType?: string;
  /** raw_tracepoint; perf_event with perfEventType "tracepoint". */
  tpName?: string;
  /** raw_tracepoint, tracing, perf_event (except "unspec"). */
  cookie?: bigint;
  /** tracing: the BTF object (or, for freplace, the program) and the BTF type attached to. */
  targetObjId?: number;
  targetBtfId?: number;
  /** cgroup: the cgroup's id (its inode number in cgroupfs). */
  cgroupId?: bigint;
  /** iter: the iterator target, e.g. "bpf_map_elem". */
  targetName?: string;
  /** netns: the namespace's inode number. */
  netnsIno?: number;
  /** xdp, tcx, netkit. */
  ifindex?: number;
  /** struct_ops, sockmap (0 once a sockmap link is detached). */
  mapId?: number;
  /** netfilter. */
  pf?: number;
  hooknum?: number;
  priority?: number;
  /** netfilter, kprobe_multi, uprobe_multi. */
  flags?: number;
  /** kprobe_multi, uprobe_multi: number of probed addresses. */
  count?: number;
  /** kprobe_multi; perf_event kprobe/kretprobe. */
  missed?: bigint;
  /** uprobe_multi; perf_event uprobe/uretprobe: the probed file. */
  path?: string;
  /** uprobe_multi: the process it is limited to, else 0. */
  pid?: number;
  /** perf_event: which kind of perf event the program is attached through. */
  perfEventType?: 'uprobe' | 'uretprobe' | 'kprobe' | 'kretprobe' | 'tracepoint' | 'event' | 'unspec';
  /** perf_event kprobe/kretprobe. */
  funcName?: string;
  addr?: bigint;
  /** perf_event kprobe/kretprobe (from funcName) and uprobe/uretprobe (in path). */
  offset?: number;
  /** perf_event "event": perf_event_attr's config and type. */
  config?: bigint;
  eventType?: number;
}

/** A TCP socket of the agent's network namespace, found by its socket cookie (socketsByCookie). */
export interface SocketByCookie {
  cookie: bigint;
  family: 'inet' | 'inet6';
  /**
   * The kernel's TCP state, lowercased without TCP_: "established", "syn_sent", "syn_recv",
   * "fin_wait1", "fin_wait2", "time_wait", "close", "close_wait", "last_ack", "listen",
   * "closing", "new_syn_recv", "bound_inactive".
   */
  state: string;
  /** Local address and port ("::ffff:a.b.c.d" for a v4-mapped inet6 socket). */
  src: string;
  sport: number;
  dst: string;
  dport: number;
  /** The socket's inode (as in /proc/<pid>/fd links "socket:[inode]"); 0 for time-wait. */
  inode: number;
  uid: number;
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
  /**
   * libbpf_probe_bpf_helper for each helper id (1..4096, at most 4096 ids), in order: 1 the kernel
   * accepts the helper in a program of type `progType` (libbpf's name), 0 it does not, <0 -errno
   * when the probe cannot tell (-EOPNOTSUPP for tracing, ext, lsm, struct_ops). Loads a tiny
   * program per id, never attached. Throws RangeError for an unknown type or a bad id.
   */
  probeHelpers(progType: string, helperIds: number[]): number[];
  /**
   * Which kfuncs a program of type `progType` may call, by loading one that calls each (at most
   * 4096 names of 1..128 bytes), never attached: per name, in order, 1 it may, 0 the verifier
   * refuses the call for this type, -1 the node's vmlinux BTF has no function of that name, -2
   * the load failed before the verifier judged the call (`unclear`: the first such load's last
   * verifier line, e.g. "metadata kfuncs require device-bound program"). Throws RangeError for
   * an unknown type or a bad name, NativeError when vmlinux BTF cannot be read.
   */
  probeKfuncs(progType: string, names: string[]): { verdicts: number[]; unclear: string | null };
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

  /**
   * One page of a map's entries, at most maxEntries (1..65,536) and at most 64 MiB of keys and
   * values (fewer entries when they are large); memory and syscalls follow the page, never the
   * map's size. cursor null starts at the beginning; the returned cursor is null when there is
   * nothing more (the last page may be empty, and a page of a sparse sockmap or program array may
   * end short after skipping 65,536 empty slots). Uses BPF_MAP_LOOKUP_BATCH, whose cursor is the
   * kernel's token (a hash bucket, an array index), where the kind has it (hash, LRU, per-CPU
   * and array kinds), else get_next_key + lookup from the last key (sockhash, sockmap, program
   * arrays, LPM tries, ...): there an entry deleted meanwhile is skipped, and if the cursor's own
   * key was deleted a hash map starts over. One hash bucket is never split, so a page exceeds
   * maxEntries only when a single bucket holds more. A sockhash/sockmap value is the socket's
   * cookie (u64, see socketsByCookie). Throws NativeError EOPNOTSUPP (op "mapReadPage") for kinds
   * without listable entries: no keys (ringbuf, queue, stack, bloom filter, arena), fd arrays
   * (perf_event_array, cgroup_array), fd-keyed storage, sockmaps with 4-byte values.
   */
  mapReadPage(mapFd: number, cursor: Buffer | null, maxEntries: number): MapPage;
  /** mapInfo with every bpf_map_info field the explorer shows, and frozen. */
  mapInfoByFd(mapFd: number): MapDetails;
  /**
   * The map with this kernel id, or null when no such map exists. Opens the map for the call:
   * never use it on ids that may be a bypass stub's program array (see ARCHITECTURE.md).
   */
  mapInfoById(id: number): MapDetails | null;
  /** The BTF object with this id (BPF_BTF_GET_FD_BY_ID), at most 64 MiB (E2BIG), or null if gone. */
  btfInfoById(id: number): BtfDetails | null;
  /** The program with this kernel id, or null when no such program exists. */
  progInfoById(id: number): ProgDetails | null;
  /** Ids of every BPF link in the kernel (bpf_link_get_next_id; opens nothing). */
  allLinkIds(): number[];
  /** The link with this kernel id, or null when no such link exists. */
  linkInfoById(id: number): LinkDetails | null;
  /**
   * BPF_LINK_DETACH of the link with this id (whoever owns it): true when detached, false when no
   * such link exists. The link itself stays, defunct (a sockmap link then shows mapId 0), until
   * its owner closes it. Throws NativeError EOPNOTSUPP (op "bpf_link_detach") for kinds the kernel
   * cannot detach, e.g. raw_tracepoint (how libbpf attaches tp_btf programs) on 6.18.
   */
  linkDetachById(id: number): boolean;
  /**
   * The positions of a BPF_MAP_TYPE_RINGBUF (mapped read-only for the call): size is the data
   * area in bytes, producer - consumer the bytes written and not yet consumed. Throws
   * NativeError EINVAL for any other map, a user_ringbuf included.
   */
  ringBufferPositions(mapFd: number): { size: number; consumer: bigint; producer: bigint };
  /**
   * The TCP sockets (IPv4 and IPv6, every state) whose socket cookies are among `cookies` (at
   * most 2^20), by a NETLINK_SOCK_DIAG dump of the agent's own network namespace: sockets of
   * other namespaces are never found. Order is the kernel's; a cookie with no socket is simply
   * absent. Stops reading once all are found; throws NativeError E2BIG past 1,000,000 sockets.
   */
  socketsByCookie(cookies: bigint[]): SocketByCookie[];
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
