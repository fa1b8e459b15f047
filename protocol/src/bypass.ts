/**
 * The bypass's ABI shared with bpf/bypass.h: the counter layout in the `bypass_stats`
 * per-CPU array and the policy map key. Offsets here must equal the C struct; the unit
 * test `bypass-abi.test.ts` compiles the header and fails when they drift.
 */

/** Order and size of the u64 fields of `struct bypass_stats` (bpf/bypass.h). */
export const BYPASS_STATS_FIELDS = [
  'redirected_msgs',
  'redirected_bytes',
  'misses',
  'errors',
  'sockets_added',
  'sockets_skipped',
] as const;
export type BypassStatsField = (typeof BYPASS_STATS_FIELDS)[number];
export const BYPASS_STATS_SIZE = BYPASS_STATS_FIELDS.length * 8;

/** `struct bypass_endpoint` = { __u32 ip4 (network order); __u32 port (host order) }. */
export const BYPASS_ENDPOINT_KEY_SIZE = 8;
/** `struct bypass_policy` = { __u32 flags; __u32 pad }. */
export const BYPASS_POLICY_VALUE_SIZE = 8;

/** Policy flags (value of the policy map). */
export const BYPASS_POLICY_SELECTED = 1;

/**
 * Where a pinned bypass lives (see remote-agent/src/pins.ts): a bpffs directory and a JSON
 * description, both named after the inode of the cgroup the bypass is attached to.
 */
export const BYPASS_PIN_ROOT = '/sys/fs/bpf/dfs-ebpf';
export const BYPASS_META_ROOT = '/run/dfs-ebpf';
export function bypassPinName(cgroupInode: number): string {
  return `bypass-${cgroupInode}`;
}

/**
 * Names of the programs and maps the agent looks up in a bypass object (ours in
 * bpf/bypass.bpf.c, or a workspace's own build of it). The structure is part of the
 * ownership model: the sk_msg program attached to the sockhash (`skmsgProgram`) must be a stub
 * that uses no sockhash and only tail-calls `redirectProgram` through the program array
 * `jumpMap`, so that the kernel frees everything when the owner dies (ARCHITECTURE.md, "the
 * sockmap cycle"). The agent refuses an object without them (BadObject).
 */
export const BYPASS_OBJECT = {
  sockopsProgram: 'bypass_sockops',
  /** The stub attached to the sockhash. */
  skmsgProgram: 'bypass_skmsg',
  /** The real redirect, reached only through `jumpMap`. */
  redirectProgram: 'bypass_redirect',
  /** BPF_MAP_TYPE_PROG_ARRAY; the agent puts `redirectProgram` in slot BYPASS_JUMP_REDIRECT. */
  jumpMap: 'bypass_jump',
  sockhashMap: 'bypass_sockhash',
  policyMap: 'bypass_policy',
  statsMap: 'bypass_stats',
} as const;

/** Slot of the program array `bypass_jump` that holds the redirect program (bpf/bypass.h). */
export const BYPASS_JUMP_REDIRECT = 0;
