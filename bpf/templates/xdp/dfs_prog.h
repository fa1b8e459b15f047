/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Types and constants shared by dfs_prog.bpf.c and user space.
 * Fixed-width types only, explicit padding, sizes asserted.
 */
#ifndef DFS_PROG_H
#define DFS_PROG_H

/* The BPF side has the __u32/__u64 types from vmlinux.h; user space and an editor opening
 * this header alone take them from the UAPI header (the two cannot be mixed). */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* vmlinux.h has the kernel's types but none of its #defines: the constants this program needs
 * from <linux/if_ether.h>, guarded so that user space may include both. */
#ifndef ETH_P_IP
#define ETH_P_IP 0x0800 /* IPv4, in EtherType (network order on the wire) */
#endif

/* dfs_prog_counts is indexed by the IPv4 header's protocol field (6 TCP, 17 UDP, 1 ICMP, ...). */
#define DFS_PROG_PROTOCOLS 256

/* Value of dfs_prog_counts, per CPU: sum it over the CPUs. */
struct dfs_prog_count {
	__u64 packets;
	__u64 bytes; /* whole frames, Ethernet header included */
};

_Static_assert(sizeof(struct dfs_prog_count) == 16, "dfs_prog_count ABI");

#endif /* DFS_PROG_H */
