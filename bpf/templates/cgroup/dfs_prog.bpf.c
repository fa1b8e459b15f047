// SPDX-License-Identifier: GPL-2.0
/*
 * dfs_prog: refuses IPv4 connections to the ports listed in a map, for the processes of a
 * cgroup.
 *
 * dfs_prog_connect4 runs in connect(2) of every IPv4 socket (TCP, and UDP connect) of the
 * cgroup it is attached to and of the cgroups below it. A destination port whose entry in
 * dfs_prog_denied is DFS_PROG_DENY makes connect() fail with EPERM; every other connect goes
 * on. dfs_prog_stats counts both.
 *
 * Use: attach to a cgroup, e.g.
 *   bpftool prog load dfs_prog.bpf.o /sys/fs/bpf/dfs_prog_connect4 pinmaps /sys/fs/bpf/dfs_prog
 *   bpftool cgroup attach /sys/fs/cgroup/GROUP connect4 pinned /sys/fs/bpf/dfs_prog_connect4
 * and deny a port, e.g. 6380 (0x18ec, keys and values in the host's byte order):
 *   bpftool map update pinned /sys/fs/bpf/dfs_prog/dfs_prog_denied \
 *           key 0xec 0x18 0 0 value 1 0 0 0
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dfs_prog.h"

#define CONNECT_DENY 0  /* connect() fails with EPERM */
#define CONNECT_ALLOW 1 /* connect() goes on */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* destination port, host order */
	__type(value, __u32); /* DFS_PROG_DENY */
} dfs_prog_denied SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dfs_prog_stats);
} dfs_prog_stats SEC(".maps");

SEC("cgroup/connect4")
int dfs_prog_connect4(struct bpf_sock_addr *ctx)
{
	/* user_port is the port connect() was given, in network order (16 bits). */
	__u32 port = bpf_ntohs(ctx->user_port);
	__u32 *deny = bpf_map_lookup_elem(&dfs_prog_denied, &port);
	struct dfs_prog_stats *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&dfs_prog_stats, &zero);
	if (deny && *deny == DFS_PROG_DENY) {
		if (st) /* processes on every CPU connect: atomic adds */
			__sync_fetch_and_add(&st->denied, 1);
		return CONNECT_DENY;
	}
	if (st)
		__sync_fetch_and_add(&st->allowed, 1);
	return CONNECT_ALLOW;
}

char LICENSE[] SEC("license") = "GPL";
