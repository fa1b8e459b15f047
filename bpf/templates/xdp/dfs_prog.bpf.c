// SPDX-License-Identifier: GPL-2.0
/*
 * dfs_prog: counts the IPv4 packets a network interface receives, per IP protocol.
 *
 * dfs_prog_xdp runs on every received frame before the kernel allocates anything for it,
 * parses the Ethernet and IPv4 headers, adds the frame to dfs_prog_counts at the index of its
 * protocol (6 TCP, 17 UDP, ...), and lets every frame through (XDP_PASS): it only watches.
 *
 * Use: attach to an interface, e.g. `ip link set dev eth0 xdp obj dfs_prog.bpf.o sec xdp`
 * (`ip link set dev eth0 xdp off` detaches), or `bpftool net attach xdp pinned PROG dev eth0`;
 * then read dfs_prog_counts, e.g. `bpftool map dump name dfs_prog_counts`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dfs_prog.h"

/* Per CPU: each CPU counts its own frames, without atomics or cache-line bouncing. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DFS_PROG_PROTOCOLS);
	__type(key, __u32); /* IP protocol */
	__type(value, struct dfs_prog_count);
} dfs_prog_counts SEC(".maps");

SEC("xdp")
int dfs_prog_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct dfs_prog_count *count;
	struct iphdr *ip;
	__u32 protocol;

	/* Every header is read only after checking that it lies inside the frame: the
	 * verifier refuses a load it cannot prove is below data_end. */
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS; /* IPv6, ARP, VLAN-tagged, ...: not counted */
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;

	protocol = ip->protocol;
	count = bpf_map_lookup_elem(&dfs_prog_counts, &protocol);
	if (count) {
		count->packets++;
		count->bytes += data_end - data;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
