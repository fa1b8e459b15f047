/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types shared by dfs_prog.bpf.c and user space: the keys and values of its maps.
 * Fixed-width types only, explicit padding, sizes asserted.
 */
#ifndef DFS_PROG_H
#define DFS_PROG_H

/* The BPF side has the __u32/__u64 types from vmlinux.h; user space and an editor opening
 * this header alone take them from the UAPI header (the two cannot be mixed). */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Number of log2 slots: slot 0 counts latencies <= 1 us, slot k those in (2^(k-1), 2^k] us,
 * the last slot everything longer. */
#define DFS_PROG_SLOTS 32

/* Value of the single slot of dfs_prog_hist: the read(2) latencies seen so far. */
struct dfs_prog_hist {
	__u64 count;
	__u64 sum_us;
	__u64 slots[DFS_PROG_SLOTS];
};

_Static_assert(sizeof(struct dfs_prog_hist) == 16 + 8 * DFS_PROG_SLOTS, "dfs_prog_hist ABI");

#endif /* DFS_PROG_H */
