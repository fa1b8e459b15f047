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

/* dfs_prog_denied: key the destination port (__u32, host order), value 1 to deny it. */
#define DFS_PROG_DENY 1

/* Value of the single slot of dfs_prog_stats. */
struct dfs_prog_stats {
	__u64 allowed; /* connect() calls let through */
	__u64 denied;  /* connect() calls refused (they fail with EPERM) */
};

_Static_assert(sizeof(struct dfs_prog_stats) == 16, "dfs_prog_stats ABI");

#endif /* DFS_PROG_H */
