/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ABI of the profiler, shared by profile.bpf.c and the agent (remote-agent/src/profile/abi.ts
 * mirrors it; test/unit/profile-abi.test.ts compiles this header and fails on drift).
 * Fixed-width types only, explicit padding, sizes asserted.
 */
#ifndef DFS_PROFILE_H
#define DFS_PROFILE_H

/* Log2 histogram: slot 0 holds latencies <= 1 us, slot k > 0 those in (2^(k-1), 2^k] us. */
#define PROF_HIST_SLOTS 32

/* prof_hist_key.layer */
#define PROF_LAYER_FUSE 0
#define PROF_LAYER_SYSCALL 1
#define PROF_LAYER_META 2
#define PROF_LAYER_OBJECT 3

/* prof_hist_key.phase (FUSE only; 0 elsewhere) */
#define PROF_PHASE_TOTAL 0
#define PROF_PHASE_QUEUE 1
#define PROF_PHASE_DAEMON 2

/* prof_stack_key.kind */
#define PROF_KIND_ONCPU 0
#define PROF_KIND_OFFCPU 1
#define PROF_KIND_SLOW 2

/* Socket families in prof_hist_key.family and prof_endpoint.family. */
#define PROF_AF_UNIX 1
#define PROF_AF_INET 2

/*
 * Syscalls measured on the mount, by our own index (not the arch's syscall number: each
 * tracepoint program knows which syscall it is). The agent names them (profile/abi.ts).
 */
enum prof_sys {
	PROF_SYS_READ = 0,
	PROF_SYS_WRITE,
	PROF_SYS_PREAD64,
	PROF_SYS_PWRITE64,
	PROF_SYS_READV,
	PROF_SYS_WRITEV,
	PROF_SYS_FSYNC,
	PROF_SYS_FDATASYNC,
	PROF_SYS_GETDENTS64,
	PROF_SYS_NEWFSTAT,
	PROF_SYS_CLOSE,
	PROF_SYS_FTRUNCATE,
	PROF_SYS_FALLOCATE,
	PROF_SYS_OPENAT,
	PROF_SYS_NEWFSTATAT,
	PROF_SYS_STATX,
	PROF_SYS_UNLINKAT,
	PROF_SYS_MKDIRAT,
	PROF_SYS_RENAMEAT2,
	PROF_SYS_OPEN,
	PROF_SYS_NEWSTAT,
	PROF_SYS_NEWLSTAT,
	PROF_SYS_UNLINK,
	PROF_SYS_MKDIR,
	PROF_SYS_RMDIR,
	PROF_SYS_RENAME,
	PROF_SYS_SENDTO,
	PROF_SYS_SENDMSG,
	PROF_SYS_RECVFROM,
	PROF_SYS_RECVMSG,
	PROF_SYS_COUNT,
};

/* Key of prof_hists. op: FUSE opcode, prof_sys index, or the peer's IPv4 address (network
 * order) for meta/object; port: the peer's port (host order) for meta/object, else 0. */
struct prof_hist_key {
	__u8 layer;
	__u8 phase;
	__u8 family;
	__u8 pad;
	__u16 port;
	__u16 pad2;
	__u32 op;
};

/* Value of prof_hists (per CPU; the agent sums the CPUs). */
struct prof_hist {
	__u64 count;
	__u64 sum_ns;
	__u64 slots[PROF_HIST_SLOTS];
};

/* Key of prof_endpoints (filled by the agent): ip4 in network order, port in host order.
 * A Unix-socket endpoint is {0, 0, PROF_AF_UNIX}. The value is PROF_LAYER_META or _OBJECT. */
struct prof_endpoint {
	__u32 ip4;
	__u16 port;
	__u16 family;
};

/* Key of prof_stacks: stack ids from prof_stackmap (negative: not captured). */
struct prof_stack_key {
	__s32 kstack;
	__s32 ustack;
	__u32 kind;
	__u32 pad;
};

struct prof_stack_val {
	__u64 total_ns;
	__u64 count;
};

/* The single slot of the per-CPU prof_drops array: what the kernel side could not record. */
struct prof_drops {
	__u64 events;   /* slow-request events lost to a full ring buffer */
	__u64 stacks;   /* stack ids that failed (full or colliding stack map, no user stack) */
	__u64 aggs;     /* stack aggregates that did not fit prof_stacks */
	__u64 inflight; /* FUSE requests whose start did not fit prof_inflight */
	__u64 calls;    /* syscalls or round trips whose start did not fit their map */
	__u64 hists;    /* latencies whose histogram did not fit prof_hists */
};

/* A slow FUSE request (ring buffer prof_events). */
struct prof_event {
	__u64 unique;
	__u64 total_ns;
	__u64 queue_ns;  /* 0 when the daemon's read of the request was not seen */
	__u64 daemon_ns; /* 0 likewise */
	__u32 opcode;
	__u32 requester_tgid;
	__u32 reply_tid;
	__s32 kstack;
	__s32 ustack;
	__u32 pad;
};

_Static_assert(sizeof(struct prof_hist_key) == 12, "prof_hist_key ABI");
_Static_assert(sizeof(struct prof_hist) == 16 + 8 * PROF_HIST_SLOTS, "prof_hist ABI");
_Static_assert(sizeof(struct prof_endpoint) == 8, "prof_endpoint ABI");
_Static_assert(sizeof(struct prof_stack_key) == 16, "prof_stack_key ABI");
_Static_assert(sizeof(struct prof_stack_val) == 16, "prof_stack_val ABI");
_Static_assert(sizeof(struct prof_drops) == 48, "prof_drops ABI");
_Static_assert(sizeof(struct prof_event) == 56, "prof_event ABI");

#endif /* DFS_PROFILE_H */
