// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Socket bypass for JuiceFS's local TCP traffic (metadata engine, object store).
 *
 * sock_ops (attached to the node's cgroup): when a TCP connection is established and one
 * of its ends is an endpoint selected by bypass_policy, and both ends are on this host,
 * the socket goes into bypass_sockhash.
 * sk_msg: every send on such a socket is redirected straight into the peer socket's receive
 * queue, skipping the TCP/IP stack. When the peer is not in the map, the send falls back to
 * normal TCP (SK_PASS), never dropped.
 * Redirected traffic is invisible to TCP counters, so this program counts it itself.
 *
 * Why two sk_msg programs (the ownership rule; see ARCHITECTURE.md, "the sockmap cycle"):
 * every socket in bypass_sockhash holds its own reference to the sk_msg program attached to
 * the map, so an attached program that used the sockhash would keep the sockhash, and with it
 * its sockets and itself, alive after every fd and pin of its owner is gone. The attached
 * program, bypass_skmsg, is therefore a stub that uses no map but bypass_jump: it tail-calls
 * bypass_redirect, which holds the sockhash. The kernel empties a program array when the last
 * fd or pin of it goes (map_release_uref), so when the owner dies bypass_redirect is freed,
 * the sockhash loses its last reference and is freed with its sockets, and the stub goes with
 * them. Until then a send whose tail call finds no program takes the normal TCP path.
 * The agent fills slot 0 of bypass_jump after the load (a static initialiser would make
 * libbpf refuse to load the stub alone, which is how verification loads each program).
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
	/* 8 bytes, not 4: the kernel answers a lookup from user space with the socket's cookie only
	 * into an 8-byte value, which is how the map inspector shows each socket's endpoints. */
	__type(value, __u64);
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

/* Slot BYPASS_JUMP_REDIRECT holds bypass_redirect while the bypass has an owner. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} bypass_jump SEC(".maps");

/* The counters of this CPU. Plain increments, no atomics: the slot is per CPU, and programs
 * that update the same field do not interleave on one CPU (sk_msg runs in process context
 * with migration disabled, sock_ops in softirq context; on a fully preemptible kernel a rare
 * increment could be lost, which is acceptable for statistics). */
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
	/* Once per connection, not per message. The side that is usually the endpoint goes
	 * first (the remote end of a connection we open, the local end of one we accept), so a
	 * selected connection mostly costs one or two lookups. */
	if (skops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		if (!selected(skops->remote_ip4, remote_port) && !selected(skops->local_ip4, local_port))
			return 1;
	} else if (!selected(skops->local_ip4, local_port) && !selected(skops->remote_ip4, remote_port)) {
		return 1;
	}

	st = stats();
	if (!st)
		return 1;
	if (!peer_is_local(skops->local_ip4, skops->remote_ip4)) {
		/* A remote peer can never be redirected to; adding the socket would only make
		 * every send pay for the sk_msg program. */
		st->sockets_skipped++;
		return 1;
	}

	key.sip = skops->local_ip4;
	key.dip = skops->remote_ip4;
	key.sport = bpf_htonl(local_port);
	key.dport = skops->remote_port;
	if (bpf_sock_hash_update(skops, &bypass_sockhash, &key, BPF_NOEXIST) == 0)
		st->sockets_added++;
	else
		st->errors++;
	return 1;
}

/* Tail-called from bypass_skmsg for every send on a socket of bypass_sockhash. Per message:
 * the key from four context fields, one sockhash lookup inside the redirect helper, one
 * (inlined) per-CPU array lookup and two or three plain adds. */
SEC("sk_msg")
int bypass_redirect(struct sk_msg_md *msg)
{
	struct bypass_sock_key peer = {
		.sip = msg->remote_ip4,
		.dip = msg->local_ip4,
		.sport = msg->remote_port,
		.dport = bpf_htonl(msg->local_port),
	};
	__u64 len = msg->size;
	long verdict = bpf_msg_redirect_hash(msg, &bypass_sockhash, &peer, BPF_F_INGRESS);
	struct bypass_stats *st = stats();

	if (st) {
		if (verdict == SK_PASS) {
			st->redirected_msgs++;
			st->redirected_bytes += len;
		} else {
			st->misses++;
		}
	}
	/* SK_PASS after a failed redirect lets the send take the normal TCP path. */
	return SK_PASS;
}

/* Attached to bypass_sockhash; uses no map but bypass_jump (see the top of this file). */
SEC("sk_msg")
int bypass_skmsg(struct sk_msg_md *msg)
{
	bpf_tail_call(msg, &bypass_jump, BYPASS_JUMP_REDIRECT);
	return SK_PASS; /* no owner any more: normal TCP */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
