// SPDX-License-Identifier: GPL-2.0
/*
 * dfs_prog: counts the packets and bytes of a network interface per direction and protocol.
 *
 * Two tc classifiers, one per direction (a tc program cannot tell which hook it runs on):
 * dfs_prog_ingress for received packets, dfs_prog_egress for sent ones. Both add the packet to
 * dfs_prog_bytes under its direction, EtherType and, for IPv4, IP protocol, and let it go on
 * (TC_ACT_OK): they only watch.
 *
 * Use: load and pin the programs, then put them on the interface's clsact hooks, e.g.
 *   bpftool prog loadall dfs_prog.bpf.o /sys/fs/bpf/dfs_prog
 *   tc qdisc add dev eth0 clsact
 *   tc filter add dev eth0 ingress bpf direct-action \
 *           object-pinned /sys/fs/bpf/dfs_prog/dfs_prog_ingress
 *   tc filter add dev eth0 egress bpf direct-action \
 *           object-pinned /sys/fs/bpf/dfs_prog/dfs_prog_egress
 * (`tc qdisc del dev eth0 clsact` removes both); then read dfs_prog_bytes, e.g.
 * `bpftool map dump name dfs_prog_bytes`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dfs_prog.h"

/* Per CPU: each CPU counts its own packets, without atomics or cache-line bouncing. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct dfs_prog_key);
	__type(value, struct dfs_prog_count);
} dfs_prog_bytes SEC(".maps");

static __always_inline void count(struct __sk_buff *skb, __u32 direction)
{
	struct dfs_prog_key key = { .direction = direction };
	struct dfs_prog_count *c;

	/* skb->protocol is the EtherType, in network order. */
	key.eth_proto = bpf_ntohs(skb->protocol);
	if (key.eth_proto == ETH_P_IP) {
		/* At tc, offset 0 is the start of the Ethernet header (this assumes an Ethernet
		 * interface, as lo and veth are). bpf_skb_load_bytes copies from the packet with the
		 * bounds checked for us, wherever its bytes are; a short packet leaves ip_proto 0. */
		bpf_skb_load_bytes(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, protocol),
				   &key.ip_proto, sizeof(key.ip_proto));
	}

	c = bpf_map_lookup_elem(&dfs_prog_bytes, &key);
	if (!c) {
		struct dfs_prog_count zero = {};

		/* First packet of this kind: create the entry (another CPU may just have). */
		bpf_map_update_elem(&dfs_prog_bytes, &key, &zero, BPF_NOEXIST);
		c = bpf_map_lookup_elem(&dfs_prog_bytes, &key);
		if (!c)
			return; /* the map is full */
	}
	c->packets++;
	c->bytes += skb->len;
}

SEC("tc")
int dfs_prog_ingress(struct __sk_buff *skb)
{
	count(skb, DFS_PROG_INGRESS);
	return TC_ACT_OK;
}

SEC("tc")
int dfs_prog_egress(struct __sk_buff *skb)
{
	count(skb, DFS_PROG_EGRESS);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
