/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ABI of the socket bypass, shared by bypass.bpf.c and the agent (protocol/src/bypass.ts
 * mirrors it; test/unit/bypass-abi.test.ts compiles this header and fails on drift).
 * Fixed-width types only, explicit padding, sizes asserted.
 */
#ifndef DFS_BYPASS_H
#define DFS_BYPASS_H

/* Key of bypass_sockhash: one established TCP socket, as seen from its own side.
 * Addresses in network order; ports in network order shifted into the upper half, which
 * is how bpf_sock_ops.remote_port and sk_msg_md.remote_port present them. */
struct bypass_sock_key {
	__u32 sip;
	__u32 dip;
	__u32 sport;
	__u32 dport;
};

/* Key of bypass_policy: an endpoint whose connections are accelerated.
 * ip4 in network order (0 = any local address), port in host order. */
struct bypass_endpoint {
	__u32 ip4;
	__u32 port;
};

#define BYPASS_POLICY_SELECTED 1u

/* Slot of bypass_jump (a program array) that the agent fills with bypass_redirect. */
#define BYPASS_JUMP_REDIRECT 0u

/* Value of bypass_policy. */
struct bypass_policy {
	__u32 flags;
	__u32 pad;
};

/* Value of the single slot of the per-CPU bypass_stats array; the agent sums the CPUs. */
struct bypass_stats {
	__u64 redirected_msgs;  /* sk_msg sends redirected to the peer's ingress */
	__u64 redirected_bytes; /* bytes of those sends */
	__u64 misses;           /* sends whose peer was not in the sockhash (normal TCP) */
	__u64 errors;           /* sockhash inserts that failed */
	__u64 sockets_added;    /* sockets inserted into the sockhash */
	__u64 sockets_skipped;  /* selected sockets left alone because the peer is not local */
};

_Static_assert(sizeof(struct bypass_sock_key) == 16, "bypass_sock_key ABI");
_Static_assert(sizeof(struct bypass_endpoint) == 8, "bypass_endpoint ABI");
_Static_assert(sizeof(struct bypass_policy) == 8, "bypass_policy ABI");
_Static_assert(sizeof(struct bypass_stats) == 48, "bypass_stats ABI");

#endif /* DFS_BYPASS_H */
