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

/* Key of dfs_prog_socks: one established TCP socket, as seen from its own side.
 * Addresses in network order; ports in network order in the upper 16 bits, which is how
 * bpf_sock_ops.remote_port and sk_msg_md.remote_port present them. */
struct dfs_prog_sock_key {
	__u32 sip;
	__u32 dip;
	__u32 sport;
	__u32 dport;
};

/* dfs_prog_ports is indexed by port (host order): value 1 bypasses that port. */
#define DFS_PROG_PORTS 65536

/* Value of the single slot of the per-CPU dfs_prog_stats array; sum it over the CPUs. */
struct dfs_prog_stats {
	__u64 sockets_added;    /* sockets inserted into dfs_prog_socks */
	__u64 sockets_failed;   /* inserts that failed (the map is full, ...) */
	__u64 redirected_msgs;  /* sends handed straight to the peer socket */
	__u64 redirected_bytes; /* bytes of those sends */
	__u64 passed_msgs;      /* sends whose peer was not in the map: normal TCP */
};

_Static_assert(sizeof(struct dfs_prog_sock_key) == 16, "dfs_prog_sock_key ABI");
_Static_assert(sizeof(struct dfs_prog_stats) == 40, "dfs_prog_stats ABI");

#endif /* DFS_PROG_H */
