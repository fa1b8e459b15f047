/**
 * The node explorer and the map inspector: what the kernel of a node holds (programs, maps,
 * links, with the kernel's run-time figures) and raw reads and writes of map entries. The
 * agent sends and takes raw bytes (base64) and the raw BTF of a map; core decodes and encodes
 * through BTF (core/src/btf), so one parser serves the CLI, the extension and the tests.
 * Entries are read in pages (a kernel batch cursor), never a whole large map at once.
 */

import { request } from './messages';

/** Map kinds whose values hold one slot per possible CPU, each rounded up to 8 bytes. */
export const PER_CPU_MAP_TYPES: readonly string[] = [
  'percpu_hash',
  'percpu_array',
  'lru_percpu_hash',
  'percpu_cgroup_storage',
];

/** Map kinds with no entries to list or write, and what they are instead (maps/describe). */
export const MAP_TYPES_WITHOUT_ENTRIES: Readonly<Record<string, string>> = {
  ringbuf: 'a ring buffer: records are consumed by a reader, not stored by key',
  user_ringbuf: 'a user ring buffer: user space produces, programs consume',
  perf_event_array: 'a perf event buffer: one perf ring per CPU, read through perf events',
  queue: 'a queue: values without keys',
  stack: 'a stack: values without keys',
  bloom_filter: 'a bloom filter: membership only, no entries',
};

/** A map as `maps list` shows it (DESIGN.md section 7: id, name, type, sizes, max_entries). */
export interface MapSummary {
  id: number;
  name: string;
  /** The kernel's name of the map type: "hash", "percpu_array", "sockhash", "ringbuf"... */
  type: string;
  key_size: number;
  value_size: number;
  max_entries: number;
  flags: number;
  /** 0: the map has no BTF (the inspector falls back to hex). */
  btf_id: number;
  btf_key_type_id: number;
  btf_value_type_id: number;
  /** Loaded by this product (the bypass's pins, a running profile of this agent). */
  ours: boolean;
  /** Programs that use it. */
  prog_ids: number[];
}

/** A process holding an fd of a program (or of a link to it). */
export interface FdOwner {
  pid: number;
  comm: string;
}

export interface ProgramSummary {
  id: number;
  name: string;
  /** The kernel's name of the program type: "sk_msg", "tracing", "sock_ops"... */
  type: string;
  tag: string;
  /** Cumulative, counted while the kernel's run-time statistics are on (see stats_on). */
  run_cnt: number;
  run_time_ns: number;
  recursion_misses: number;
  map_ids: number[];
  btf_id: number;
  /** Load time, ms since the Unix epoch. */
  loaded_at_ms: number;
  verified_insns: number;
  /** How it is attached, as far as the kernel says (from its links). */
  attach: string[];
  ours: boolean;
  owners: FdOwner[];
}

export interface LinkSummary {
  id: number;
  /** The kernel's name of the link type: "cgroup", "tracing", "sockmap"... */
  type: string;
  prog_id: number;
  /** The attach point in words: "cgroup 1234 sock_ops", "tp_btf sched_switch", "sockmap map 77". */
  attach: string;
  ours: boolean;
}

// ---------------------------------------------------------------------------------------------
// node/objects (client → agent): everything the node's kernel holds, ours first.

export interface NodeObjectsParams {
  /**
   * Keep the kernel's BPF run-time statistics on for this connection for holdStatsS seconds
   * (renewed by every call; off when the time passes or the connection closes). 0: leave them.
   */
  holdStatsS?: number;
}

export interface NodeObjects {
  programs: ProgramSummary[];
  maps: MapSummary[];
  links: LinkSummary[];
  /** Whether run-time statistics are on now (run_cnt/run_time_ns only move while they are). */
  stats_on: boolean;
  /** When the figures were read (agent clock, ms since the epoch), for rates. */
  at_ms: number;
  cpus: number;
}

export const NodeObjectsRequest = request<NodeObjectsParams, NodeObjects>('node/objects');

// ---------------------------------------------------------------------------------------------
// maps/list (client → agent)

export const MapsListRequest = request<Record<string, never>, { maps: MapSummary[] }>('maps/list');

// ---------------------------------------------------------------------------------------------
// maps/btf (client → agent): the map's BTF, for core to decode its keys and values.

export interface MapRef {
  id: number;
}

export interface MapBtf {
  map: MapSummary;
  /** The raw BTF blob (base64), null when the map has none. */
  btf: string | null;
  /** Possible CPUs: a per-CPU value holds this many slots of round_up(value_size, 8) bytes. */
  cpus: number;
}

export const MapBtfRequest = request<MapRef, MapBtf>('maps/btf');

// ---------------------------------------------------------------------------------------------
// maps/read (client → agent): one page of entries.

export interface MapReadParams {
  id: number;
  /** From a previous page; absent: from the start. */
  cursor?: string;
  /** Entries in this page (default MAP_PAGE_DEFAULT, at most MAP_PAGE_MAX). */
  max?: number;
}

export interface MapPage {
  /** count * key_size bytes, base64. */
  keys: string;
  /** count * (value size as read: per-CPU maps hold every CPU's slot), base64. */
  values: string;
  count: number;
  /** Bytes of one entry's value in `values`. */
  value_stride: number;
  /** For the next page; null: this was the last. */
  cursor: string | null;
  at_ms: number;
}

export const MAP_PAGE_DEFAULT = 4096;
export const MAP_PAGE_MAX = 65536;

export const MapReadRequest = request<MapReadParams, MapPage>('maps/read');

// ---------------------------------------------------------------------------------------------
// maps/update, maps/delete (client → agent): raw bytes, already checked against BTF by core.

export interface MapUpdateParams {
  id: number;
  key: string;
  /** base64; for a per-CPU map, every CPU's slot (value_stride * cpus bytes). */
  value: string;
  /** any (default): insert or replace; noexist: insert only; exist: replace only. */
  mode?: 'any' | 'noexist' | 'exist';
  /** Required to write a map that is not ours (the client asked its user). */
  confirmedNotOurs?: boolean;
}

export interface MapDeleteParams {
  id: number;
  key: string;
  confirmedNotOurs?: boolean;
}

export const MapUpdateRequest = request<MapUpdateParams, Record<string, never>>('maps/update');
/** A key that is not in the map is NotFound. */
export const MapDeleteRequest = request<MapDeleteParams, Record<string, never>>('maps/delete');

// ---------------------------------------------------------------------------------------------
// maps/describe (client → agent): maps whose contents are not entries.

export interface MapDescription {
  map: MapSummary;
  /** Ring buffers: data size and the consumer and producer positions (bytes, monotonic). */
  ringbuf?: { size: number; consumer: number; producer: number; pending: number };
}

export const MapDescribeRequest = request<MapRef, MapDescription>('maps/describe');

// ---------------------------------------------------------------------------------------------
// sockets/byCookie (client → agent): the TCP sockets behind sockmap/sockhash values.

export interface SocketInfo {
  /** Decimal string: cookies are 64-bit. */
  cookie: string;
  state: string;
  src: string;
  sport: number;
  dst: string;
  dport: number;
}

/** Cookies one sockets/byCookie request may carry. */
export const SOCKETS_BY_COOKIE_MAX = 65536;

export const SocketsByCookieRequest = request<{ cookies: string[] }, { sockets: SocketInfo[] }>('sockets/byCookie');

// ---------------------------------------------------------------------------------------------
// links/detach (client → agent): only links of ours.

export const LinkDetachRequest = request<{ id: number }, Record<string, never>>('links/detach');
