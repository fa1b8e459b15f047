/** Bounds of the inspector's requests, shared by the parameter checks and the handlers. */

/** The largest key or value (all CPUs' slots of a per-CPU value) a write may carry: 1 MiB. */
export const MAX_INSPECT_BYTES = 1 << 20;

/** The longest a client may keep run-time statistics on without asking again (node/objects holdStatsS). */
export const MAX_STATS_HOLD_S = 60;
