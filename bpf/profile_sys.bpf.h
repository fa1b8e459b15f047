/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The syscall half of profile.bpf.c (included at its end; not a shared ABI header): classic
 * syscall tracepoints, one enter and one exit program per syscall (a program knows its own
 * syscall, so no arch syscall numbers are needed). Needs tracefs, which the agent mounts.
 *
 * Processes on the mount (every tgid but the daemon's):
 * - fd-based calls count when the fd's file is on the mount's superblock (checked at enter;
 *   fstat-like calls with AT_EMPTY_PATH too). This includes calls served from the page cache
 *   or the attribute cache that never reach JuiceFS.
 * - path-based calls (openat, stat, unlink, mkdir, rename...) count when, during the call, the
 *   same thread sent a FUSE request on the mount's connection, or (open) the returned fd is on
 *   the mount. A path call answered entirely from the kernel's dentry/attribute caches, or one
 *   that fails before reaching the daemon, is therefore NOT counted.
 * The daemon (daemon_tgid):
 * - a read of /dev/fuse that returns a request stamps its dequeue time (queue/daemon split);
 * - a send on a socket whose peer is in prof_endpoints starts a round trip for that socket,
 *   the first read returning > 0 on it ends it (Go's EAGAIN reads and go-redis's MSG_PEEK
 *   health checks are skipped).
 */

#define MSG_PEEK 2

static __always_inline void daemon_enter(struct trace_event_raw_sys_enter *ctx, __u32 sys, __u32 tid)
{
	int send = sys == PROF_SYS_WRITE || sys == PROF_SYS_WRITEV || sys == PROF_SYS_SENDTO ||
		   sys == PROF_SYS_SENDMSG;
	int recv = sys == PROF_SYS_READ || sys == PROF_SYS_READV || sys == PROF_SYS_RECVFROM ||
		   sys == PROF_SYS_RECVMSG;
	if (!send && !recv)
		return;
	if (sys == PROF_SYS_RECVFROM && (ctx->args[3] & MSG_PEEK))
		return;
	struct file *f = fd_file((long)ctx->args[0]);
	if (!f)
		return;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	__u32 mode = BPF_CORE_READ(inode, i_mode) & S_IFMT;
	struct dcall d = {.ts = bpf_ktime_get_ns(), .sys = sys};
	if (mode == S_IFCHR) {
		if (sys != PROF_SYS_READ || BPF_CORE_READ(inode, i_rdev) != FUSE_RDEV)
			return; /* replies are seen at fuse_request_end, in the replying thread */
		d.kind = DCALL_FUSE;
		d.ptr = ctx->args[1];
	} else if (mode == S_IFSOCK) {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		struct sock *sk = BPF_CORE_READ(sock, sk);
		if (!sk)
			return;
		struct prof_endpoint ep = {};
		__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
		if (family == AF_INET) {
			ep.ip4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
			ep.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
			ep.family = PROF_AF_INET;
		} else if (family == AF_UNIX) {
			ep.family = PROF_AF_UNIX;
		} else {
			return;
		}
		__u32 *layer = bpf_map_lookup_elem(&prof_endpoints, &ep);
		if (!layer)
			return;
		__u64 key = (__u64)sk;
		if (send) {
			struct rtt r = {
				.ts = d.ts,
				.ip4 = ep.ip4,
				.port = ep.port,
				.family = (__u8)ep.family,
				.layer = (__u8)*layer,
			};
			/* The first send starts the round trip; a pipelined second one does not. */
			long err = bpf_map_update_elem(&prof_rtt, &key, &r, BPF_NOEXIST);
			if (err && err != -EEXIST)
				DROP(calls);
			return;
		}
		d.kind = DCALL_SOCK;
		d.ptr = key;
	} else {
		return;
	}
	if (bpf_map_update_elem(&prof_dcalls, &tid, &d, BPF_ANY))
		DROP(calls);
}

static __always_inline void daemon_exit(__u32 tid, long ret)
{
	struct dcall *d = bpf_map_lookup_elem(&prof_dcalls, &tid);
	if (!d)
		return;
	__u64 now = bpf_ktime_get_ns();
	if (d->kind == DCALL_FUSE && ret >= (long)sizeof(struct fuse_in_header)) {
		struct fuse_in_header h;
		if (bpf_probe_read_user(&h, sizeof(h), (void *)d->ptr) == 0) {
			struct inflight_key k = {.unique = h.unique, .dev = target_dev};
			struct inflight *r = bpf_map_lookup_elem(&prof_inflight, &k);
			if (r && r->opcode == h.opcode)
				r->dequeue_ns = now;
		}
	} else if (d->kind == DCALL_SOCK && ret > 0) {
		__u64 key = d->ptr;
		struct rtt *r = bpf_map_lookup_elem(&prof_rtt, &key);
		if (r) {
			hist_add(r->layer, 0, r->family, r->port, r->ip4, now - r->ts);
			bpf_map_delete_elem(&prof_rtt, &key);
		}
	}
	bpf_map_delete_elem(&prof_dcalls, &tid);
}

/* Enter of a call whose first argument is an fd. */
static __always_inline int fd_enter(struct trace_event_raw_sys_enter *ctx, __u32 sys)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	if ((id >> 32) == daemon_tgid) {
		daemon_enter(ctx, sys, tid);
		return 0;
	}
	if (sys >= PROF_SYS_SENDTO || !on_mount(fd_file((long)ctx->args[0])))
		return 0;
	struct call c = {.ts = bpf_ktime_get_ns(), .sys = sys, .flags = CALL_ON_MOUNT};
	if (bpf_map_update_elem(&prof_calls, &tid, &c, BPF_ANY))
		DROP(calls);
	return 0;
}

/* Enter of a call that takes a path; `flags_arg` >= 0: the argument holding AT_* flags. */
static __always_inline int path_enter(struct trace_event_raw_sys_enter *ctx, __u32 sys, int flags_arg)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	if ((id >> 32) == daemon_tgid)
		return 0;
	struct call c = {.ts = bpf_ktime_get_ns(), .sys = sys};
	/* Read through a switch: the verifier refuses a ctx access at a computed offset. */
	__u64 flags = 0;
	if (flags_arg == 2)
		flags = ctx->args[2];
	else if (flags_arg == 3)
		flags = ctx->args[3];
	if (flags & AT_EMPTY_PATH) {
		/* fstat through newfstatat/statx(fd, "", AT_EMPTY_PATH): an fd-based call. */
		if (!on_mount(fd_file((long)ctx->args[0])))
			return 0;
		c.flags = CALL_ON_MOUNT;
	}
	if (bpf_map_update_elem(&prof_calls, &tid, &c, BPF_ANY))
		DROP(calls);
	return 0;
}

static __always_inline int sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	long ret = ctx->ret;
	if ((id >> 32) == daemon_tgid) {
		daemon_exit(tid, ret);
		return 0;
	}
	struct call *c = bpf_map_lookup_elem(&prof_calls, &tid);
	if (!c)
		return 0;
	__u64 ts = c->ts;
	__u32 sys = c->sys;
	int counted = c->flags & (CALL_ON_MOUNT | CALL_HIT);
	bpf_map_delete_elem(&prof_calls, &tid);
	if (!counted && (sys == PROF_SYS_OPENAT || sys == PROF_SYS_OPEN) && ret >= 0)
		counted = on_mount(fd_file(ret));
	if (counted)
		hist_add(PROF_LAYER_SYSCALL, 0, 0, 0, sys, bpf_ktime_get_ns() - ts);
	return 0;
}

#define FD_SYSCALL(name, idx)                                                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                    \
	int in_##name(struct trace_event_raw_sys_enter *ctx) { return fd_enter(ctx, idx); } \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                     \
	int out_##name(struct trace_event_raw_sys_exit *ctx) { return sys_exit(ctx); }

#define PATH_SYSCALL(name, idx, flags_arg)                                             \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                    \
	int in_##name(struct trace_event_raw_sys_enter *ctx)                           \
	{                                                                              \
		return path_enter(ctx, idx, flags_arg);                                \
	}                                                                              \
	SEC("tracepoint/syscalls/sys_exit_" #name)                                     \
	int out_##name(struct trace_event_raw_sys_exit *ctx) { return sys_exit(ctx); }

FD_SYSCALL(read, PROF_SYS_READ)
FD_SYSCALL(write, PROF_SYS_WRITE)
FD_SYSCALL(pread64, PROF_SYS_PREAD64)
FD_SYSCALL(pwrite64, PROF_SYS_PWRITE64)
FD_SYSCALL(readv, PROF_SYS_READV)
FD_SYSCALL(writev, PROF_SYS_WRITEV)
FD_SYSCALL(fsync, PROF_SYS_FSYNC)
FD_SYSCALL(fdatasync, PROF_SYS_FDATASYNC)
FD_SYSCALL(getdents64, PROF_SYS_GETDENTS64)
FD_SYSCALL(newfstat, PROF_SYS_NEWFSTAT)
FD_SYSCALL(close, PROF_SYS_CLOSE)
FD_SYSCALL(ftruncate, PROF_SYS_FTRUNCATE)
FD_SYSCALL(fallocate, PROF_SYS_FALLOCATE)
FD_SYSCALL(sendto, PROF_SYS_SENDTO)
FD_SYSCALL(sendmsg, PROF_SYS_SENDMSG)
FD_SYSCALL(recvfrom, PROF_SYS_RECVFROM)
FD_SYSCALL(recvmsg, PROF_SYS_RECVMSG)
PATH_SYSCALL(openat, PROF_SYS_OPENAT, -1)
PATH_SYSCALL(newfstatat, PROF_SYS_NEWFSTATAT, 3)
PATH_SYSCALL(statx, PROF_SYS_STATX, 2)
PATH_SYSCALL(unlinkat, PROF_SYS_UNLINKAT, -1)
PATH_SYSCALL(mkdirat, PROF_SYS_MKDIRAT, -1)
PATH_SYSCALL(renameat2, PROF_SYS_RENAMEAT2, -1)
/* Older entry points (x86_64 still has them; the agent skips a tracepoint the kernel lacks). */
PATH_SYSCALL(open, PROF_SYS_OPEN, -1)
PATH_SYSCALL(newstat, PROF_SYS_NEWSTAT, -1)
PATH_SYSCALL(newlstat, PROF_SYS_NEWLSTAT, -1)
PATH_SYSCALL(unlink, PROF_SYS_UNLINK, -1)
PATH_SYSCALL(mkdir, PROF_SYS_MKDIR, -1)
PATH_SYSCALL(rmdir, PROF_SYS_RMDIR, -1)
PATH_SYSCALL(rename, PROF_SYS_RENAME, -1)
