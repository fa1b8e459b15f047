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

/* Number of log2 slots: slot 0 counts sizes <= 1 byte, slot k those in (2^(k-1), 2^k] bytes,
 * the last slot everything larger. */
#define DFS_PROG_SLOTS 32

/* Value of the single slot of dfs_prog_stats. */
struct dfs_prog_stats {
	__u64 calls;        /* malloc() calls */
	__u64 bytes;        /* bytes asked for by those calls */
	__u64 null_returns; /* calls that returned NULL */
	__u64 slots[DFS_PROG_SLOTS]; /* log2 histogram of the sizes asked for */
};

_Static_assert(sizeof(struct dfs_prog_stats) == 24 + 8 * DFS_PROG_SLOTS, "dfs_prog_stats ABI");

#endif /* DFS_PROG_H */
