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
 * (from <linux/pkt_cls.h> and <linux/if_ether.h>), guarded so that user space may include both. */
#ifndef TC_ACT_OK
#define TC_ACT_OK 0 /* let the packet go on */
#endif
#ifndef ETH_P_IP
#define ETH_P_IP 0x0800
#endif

/* dfs_prog_key.direction */
#define DFS_PROG_INGRESS 0
#define DFS_PROG_EGRESS 1

/* Key of dfs_prog_bytes. */
struct dfs_prog_key {
	__u32 direction; /* DFS_PROG_INGRESS or DFS_PROG_EGRESS */
	__u16 eth_proto; /* EtherType, host order: 0x0800 IPv4, 0x86dd IPv6, 0x0806 ARP, ... */
	__u8 ip_proto;   /* for IPv4: the IP protocol (6 TCP, 17 UDP, ...); else 0 */
	__u8 pad;
};

/* Value of dfs_prog_bytes, per CPU: sum it over the CPUs. */
struct dfs_prog_count {
	__u64 packets;
	__u64 bytes;
};

_Static_assert(sizeof(struct dfs_prog_key) == 8, "dfs_prog_key ABI");
_Static_assert(sizeof(struct dfs_prog_count) == 16, "dfs_prog_count ABI");

#endif /* DFS_PROG_H */
