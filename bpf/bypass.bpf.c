// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket bypass for JuiceFS's local TCP traffic (metadata engine, object store).
 *
 * sock_ops (attached to the node's cgroup): when a TCP connection is established and one
 * of its ends is an endpoint selected by bypass_policy, and both ends are on this host,
 * the socket goes into bypass_sockhash.
 * sk_msg (attached to bypass_sockhash): every send on such a socket is redirected straight
 * into the peer socket's receive queue, skipping the TCP/IP stack. When the peer is not in
 * the map, the send falls back to normal TCP (SK_PASS), never dropped.
 * Redirected traffic is invisible to TCP counters, so this program counts it itself.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bypass.h"

#define AF_INET 2
#define LOOPBACK_NET 0x7f /* first octet of 127.0.0.0/8 */

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct bypass_sock_key);
	__type(value, __u32);
} bypass_sockhash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct bypass_endpoint);
	__type(value, struct bypass_policy);
} bypass_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bypass_stats);
} bypass_stats SEC(".maps");

static __always_inline struct bypass_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&bypass_stats, &zero);
}

/* Is ip4:port (ip4 network order, port host order) selected, exactly or on any address? */
static __always_inline bool selected(__u32 ip4, __u32 port)
{
	struct bypass_endpoint ep = { .ip4 = ip4, .port = port };
	struct bypass_policy *p = bpf_map_lookup_elem(&bypass_policy, &ep);

	if (!p) {
		ep.ip4 = 0;
		p = bpf_map_lookup_elem(&bypass_policy, &ep);
	}
	return p && (p->flags & BYPASS_POLICY_SELECTED);
}

/* Both ends on this host: loopback, or a connection to one of our own addresses. */
static __always_inline bool peer_is_local(__u32 local_ip4, __u32 remote_ip4)
{
	return (bpf_ntohl(remote_ip4) >> 24) == LOOPBACK_NET || remote_ip4 == local_ip4;
}

SEC("sockops")
int bypass_sockops(struct bpf_sock_ops *skops)
{
	struct bypass_sock_key key = {};
	struct bypass_stats *st;
	__u32 local_port, remote_port;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (skops->family != AF_INET)
		return 1;

	local_port = skops->local_port;		     /* host order */
	remote_port = bpf_ntohl(skops->remote_port); /* network order in the upper half */
	if (!selected(skops->local_ip4, local_port) && !selected(skops->remote_ip4, remote_port))
		return 1;

	st = stats();
	if (!st)
		return 1;
	if (!peer_is_local(skops->local_ip4, skops->remote_ip4)) {
		/* A remote peer can never be redirected to; adding the socket would only make
		 * every send pay for the sk_msg program. */
		__sync_fetch_and_add(&st->sockets_skipped, 1);
		return 1;
	}

	key.sip = skops->local_ip4;
	key.dip = skops->remote_ip4;
	key.sport = bpf_htonl(local_port);
	key.dport = skops->remote_port;
	if (bpf_sock_hash_update(skops, &bypass_sockhash, &key, BPF_NOEXIST) == 0)
		__sync_fetch_and_add(&st->sockets_added, 1);
	else
		__sync_fetch_and_add(&st->errors, 1);
	return 1;
}

SEC("sk_msg")
int bypass_skmsg(struct sk_msg_md *msg)
{
	struct bypass_sock_key peer = {
		.sip = msg->remote_ip4,
		.dip = msg->local_ip4,
		.sport = msg->remote_port,
		.dport = bpf_htonl(msg->local_port),
	};
	__u64 len = msg->size;
	struct bypass_stats *st = stats();

	if (bpf_msg_redirect_hash(msg, &bypass_sockhash, &peer, BPF_F_INGRESS) == SK_PASS) {
		if (st) {
			__sync_fetch_and_add(&st->redirected_msgs, 1);
			__sync_fetch_and_add(&st->redirected_bytes, len);
		}
	} else if (st) {
		__sync_fetch_and_add(&st->misses, 1);
	}
	/* SK_PASS after a failed redirect lets the send take the normal TCP path. */
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
