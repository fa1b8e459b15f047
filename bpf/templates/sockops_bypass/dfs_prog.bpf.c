// SPDX-License-Identifier: GPL-2.0
/*
 * dfs_prog: a socket bypass for TCP connections between two processes of this host.
 *
 * dfs_prog_sockops (sock_ops, attached to a cgroup) puts every established IPv4 TCP socket
 * whose local or remote port is enabled in dfs_prog_ports, and whose peer is on this host,
 * into the sockhash dfs_prog_socks. dfs_prog_msg (sk_msg, attached to dfs_prog_socks) then
 * moves every send on such a socket straight into the peer socket's receive queue, skipping
 * the TCP/IP stack. A send whose peer is not in the map takes normal TCP, never dropped.
 *
 * Use: enable a port with value 1 at its index in dfs_prog_ports (e.g. 6379 for Redis), then
 * attach, e.g. with bpftool:
 *   bpftool prog loadall dfs_prog.bpf.o /sys/fs/bpf/dfs_prog pinmaps /sys/fs/bpf/dfs_prog
 *   bpftool prog attach pinned /sys/fs/bpf/dfs_prog/dfs_prog_msg msg_verdict \
 *           pinned /sys/fs/bpf/dfs_prog/dfs_prog_socks
 *   bpftool cgroup attach /sys/fs/cgroup sock_ops pinned /sys/fs/bpf/dfs_prog/dfs_prog_sockops
 * Only connections established after the attach are bypassed. dfs_prog_stats counts it all.
 *
 * To unload, detach both programs and delete every entry of dfs_prog_socks: each socket in the
 * map holds the sk_msg program, which holds the map, so removing pins and fds alone leaves
 * them loaded until those connections close.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "dfs_prog.h"

#define AF_INET 2

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct dfs_prog_sock_key);
	__type(value, __u64); /* a lookup from user space answers the socket's cookie */
} dfs_prog_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DFS_PROG_PORTS);
	__type(key, __u32);   /* port, host order */
	__type(value, __u32); /* 1: bypass connections from or to this port */
} dfs_prog_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dfs_prog_stats);
} dfs_prog_stats SEC(".maps");

/* The counters of this CPU: plain increments are enough, no other CPU writes them. */
static __always_inline struct dfs_prog_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&dfs_prog_stats, &zero);
}

static __always_inline bool port_enabled(__u32 port)
{
	__u32 *on = bpf_map_lookup_elem(&dfs_prog_ports, &port);

	return on && *on == 1;
}

/* Both ends on this host: loopback (127.0.0.0/8), or a connection to our own address. */
static __always_inline bool peer_is_local(__u32 local_ip4, __u32 remote_ip4)
{
	return (bpf_ntohl(remote_ip4) >> 24) == 127 || remote_ip4 == local_ip4;
}

SEC("sockops")
int dfs_prog_sockops(struct bpf_sock_ops *skops)
{
	struct dfs_prog_sock_key key = {};
	struct dfs_prog_stats *st;

	/* Called for many events of a socket's life; only the two "established" ones matter. */
	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (skops->family != AF_INET || !peer_is_local(skops->local_ip4, skops->remote_ip4))
		return 1;
	/* local_port is in host order, remote_port in network order in the upper half. */
	if (!port_enabled(skops->local_port) && !port_enabled(bpf_ntohl(skops->remote_port)))
		return 1;

	key.sip = skops->local_ip4;
	key.dip = skops->remote_ip4;
	key.sport = bpf_htonl(skops->local_port);
	key.dport = skops->remote_port;
	st = stats();
	if (bpf_sock_hash_update(skops, &dfs_prog_socks, &key, BPF_NOEXIST) == 0) {
		if (st)
			st->sockets_added++;
	} else if (st) {
		st->sockets_failed++;
	}
	return 1;
}

SEC("sk_msg")
int dfs_prog_msg(struct sk_msg_md *msg)
{
	/* The peer's key: the same 4-tuple seen from the other end. */
	struct dfs_prog_sock_key peer = {
		.sip = msg->remote_ip4,
		.dip = msg->local_ip4,
		.sport = msg->remote_port,
		.dport = bpf_htonl(msg->local_port),
	};
	__u64 len = msg->size;
	long verdict = bpf_msg_redirect_hash(msg, &dfs_prog_socks, &peer, BPF_F_INGRESS);
	struct dfs_prog_stats *st = stats();

	if (st) {
		if (verdict == SK_PASS) {
			st->redirected_msgs++;
			st->redirected_bytes += len;
		} else {
			st->passed_msgs++;
		}
	}
	/* After a failed redirect, SK_PASS lets the send take the normal TCP path. */
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
