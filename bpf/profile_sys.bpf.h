/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The syscall half of profile.bpf.c (included at its end; not a shared ABI header): the raw
 * syscall tracepoints through BTF (tp_btf/sys_enter, tp_btf/sys_exit), two programs for every
 * syscall; prof_sysnr (filled by the agent for the node's architecture) maps a syscall number
 * to our prof_sys index, and every other syscall returns at once.
 * Why not one classic tracepoint per syscall (tracepoint/syscalls/sys_enter_*): ~60 perf-event
 * attachments, and the kernel waits for an RCU grace period as each one goes (measured on
 * 6.18: 4.4 s to detach them), so a dead owner's profile would outlive it far beyond the 2 s
 * we allow; they also need tracefs mounted. Two raw tracepoints detach at once.
 *
 * Processes on the mount (every tgid but the daemon's):
 * - fd-based calls count when the fd's file is on the mount's superblock (checked at enter;
 *   fstat-like calls with AT_EMPTY_PATH too). This includes calls served from the page cache
 *   or the attribute cache that never reach JuiceFS.
 * - path-based calls (openat, stat, unlink, mkdir, rename...) count when, during the call, the
 *   same thread sent a FUSE request on the mount's connection, or (open) the returned fd is on
 *   the mount. A path call answered entirely from the kernel's dentry/attribute caches, or one
 *   that fails before reaching the daemon, is therefore NOT counted.
 * The daemon (daemon_tgid; JuiceFS's go-fuse reads requests with read(2) and Go's net package
 * uses write/read on sockets, checked with strace):
 * - a read of /dev/fuse that returns a request stamps its dequeue time (queue/daemon split);
 * - a send on a socket whose peer is in prof_endpoints starts a round trip for that socket,
 *   the first read returning > 0 on it ends it (Go's EAGAIN reads and go-redis's MSG_PEEK
 *   health checks are skipped). Pipelined requests on one connection count as one trip.
 */

#define MSG_PEEK 2
#define SYSNR_MAX 512

/* Syscall number (the node's architecture) -> prof_sys index + 1; 0: not measured. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SYSNR_MAX);
	__type(key, __u32);
	__type(value, __u32);
} prof_sysnr SEC(".maps");

/* The prof_sys index of syscall `nr`, or -1 when it is not measured. */
static __always_inline int sys_of(long nr)
{
	if (nr < 0 || nr >= SYSNR_MAX)
		return -1;
	__u32 k = (__u32)nr;
	__u32 *v = bpf_map_lookup_elem(&prof_sysnr, &k);
	return v && *v ? (int)(*v - 1) : -1;
}

/* The first four arguments of a syscall (still in the saved user registers at its exit). */
struct sysargs {
	unsigned long a[4];
};

static __always_inline void read_args(struct pt_regs *regs, struct sysargs *args)
{
	args->a[0] = PT_REGS_PARM1_SYSCALL(regs);
	args->a[1] = PT_REGS_PARM2_SYSCALL(regs);
	args->a[2] = PT_REGS_PARM3_SYSCALL(regs);
	args->a[3] = PT_REGS_PARM4_SYSCALL(regs);
}

/* The peer of a daemon's socket fd classified by prof_endpoints, with its layer; 0 if none. */
static __always_inline struct sock *daemon_socket(struct file *f, struct prof_endpoint *ep, __u32 *layer)
{
	struct socket *sock = BPF_CORE_READ(f, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return NULL;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == AF_INET) {
		ep->ip4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		ep->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		ep->family = PROF_AF_INET;
	} else if (family == AF_UNIX) {
		ep->family = PROF_AF_UNIX;
	} else {
		return NULL;
	}
	__u32 *l = bpf_map_lookup_elem(&prof_endpoints, ep);
	if (!l)
		return NULL;
	*layer = *l;
	return sk;
}

/* A send by the daemon on a classified socket starts a round trip (the first send does). */
static __always_inline void daemon_enter(__u32 sys, const struct sysargs *args)
{
	if (sys != PROF_SYS_WRITE && sys != PROF_SYS_WRITEV && sys != PROF_SYS_SENDTO &&
	    sys != PROF_SYS_SENDMSG)
		return;
	struct file *f = fd_file((long)args->a[0]);
	if (!f || (BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return;
	struct prof_endpoint ep = {};
	__u32 layer = 0;
	struct sock *sk = daemon_socket(f, &ep, &layer);
	if (!sk)
		return;
	__u64 key = (__u64)sk;
	struct rtt r = {
		.ts = bpf_ktime_get_ns(),
		.ip4 = ep.ip4,
		.port = ep.port,
		.family = (__u8)ep.family,
		.layer = (__u8)layer,
	};
	/* A pipelined second send does not restart it. */
	long err = bpf_map_update_elem(&prof_rtt, &key, &r, BPF_NOEXIST);
	if (err && err != -EEXIST)
		DROP(calls);
}

/*
 * A read by the daemon that returned data, seen at its exit with the arguments still in the
 * saved registers (so a read that was already blocked when the profile attached counts too):
 * from /dev/fuse, a request was dequeued; from a classified socket, a round trip ended.
 */
static __always_inline void daemon_exit(__u32 sys, const struct sysargs *args, long ret)
{
	if (ret <= 0 || (sys != PROF_SYS_READ && sys != PROF_SYS_READV && sys != PROF_SYS_RECVFROM &&
			 sys != PROF_SYS_RECVMSG))
		return;
	if (sys == PROF_SYS_RECVFROM && (args->a[3] & MSG_PEEK))
		return; /* go-redis's connection health check */
	struct file *f = fd_file((long)args->a[0]);
	if (!f)
		return;
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	__u32 mode = BPF_CORE_READ(inode, i_mode) & S_IFMT;
	__u64 now = bpf_ktime_get_ns();
	if (mode == S_IFCHR) {
		if (sys != PROF_SYS_READ || ret < (long)sizeof(struct fuse_in_header) ||
		    BPF_CORE_READ(inode, i_rdev) != FUSE_RDEV)
			return;
		struct fuse_in_header h;
		if (bpf_probe_read_user(&h, sizeof(h), (void *)args->a[1]))
			return;
		struct inflight_key k = {.unique = h.unique, .dev = target_dev};
		struct inflight *r = bpf_map_lookup_elem(&prof_inflight, &k);
		if (r && r->opcode == h.opcode)
			r->dequeue_ns = now;
	} else if (mode == S_IFSOCK) {
		struct prof_endpoint ep = {};
		__u32 layer = 0;
		struct sock *sk = daemon_socket(f, &ep, &layer);
		if (!sk)
			return;
		__u64 key = (__u64)sk;
		struct rtt *r = bpf_map_lookup_elem(&prof_rtt, &key);
		if (r) {
			hist_add(r->layer, 0, r->family, r->port, r->ip4, now - r->ts);
			bpf_map_delete_elem(&prof_rtt, &key);
		}
	}
}

static __always_inline int path_call(__u32 sys)
{
	return sys >= PROF_SYS_OPENAT && sys <= PROF_SYS_RENAME;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(prof_sys_enter, struct pt_regs *regs, long nr)
{
	int s = sys_of(nr);
	if (s < 0)
		return 0;
	__u32 sys = (__u32)s;
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == daemon_tgid) {
		struct sysargs args;
		read_args(regs, &args);
		daemon_enter(sys, &args);
		return 0;
	}
	if (sys >= PROF_SYS_SENDTO)
		return 0; /* socket calls matter only for the daemon */
	/* Other processes: only the arguments needed, read as late as possible (hot path). */
	__u32 cflags = CALL_ACTIVE;
	unsigned long flags = 0;
	if (sys == PROF_SYS_NEWFSTATAT)
		flags = PT_REGS_PARM4_SYSCALL(regs); /* newfstatat(dfd, path, statbuf, flags) */
	else if (sys == PROF_SYS_STATX)
		flags = PT_REGS_PARM3_SYSCALL(regs); /* statx(dfd, path, flags, mask, buf) */
	if (!path_call(sys) || (flags & AT_EMPTY_PATH)) {
		/* fd-based, or fstat through newfstatat/statx(fd, "", AT_EMPTY_PATH) */
		if (!on_mount(fd_file((long)PT_REGS_PARM1_SYSCALL(regs))))
			return 0;
		cflags |= CALL_ON_MOUNT;
	}
	/* A path call is kept until its exit tells whether it reached the mount. */
	struct call *c = bpf_task_storage_get(&prof_calls, bpf_get_current_task_btf(), 0,
					      BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!c) {
		DROP(calls);
		return 0;
	}
	c->sys = sys;
	c->flags = cflags;
	c->ts = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(prof_sys_exit, struct pt_regs *regs, long ret)
{
#if defined(__TARGET_ARCH_x86)
	long nr = regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
	long nr = regs->syscallno;
#else
#error "profile.bpf.c: add this architecture's syscall number register"
#endif
	int s = sys_of(nr);
	if (s < 0)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == daemon_tgid) {
		struct sysargs args;
		read_args(regs, &args);
		daemon_exit((__u32)s, &args, ret);
		return 0;
	}
	struct call *c = bpf_task_storage_get(&prof_calls, bpf_get_current_task_btf(), 0, 0);
	if (!c || !(c->flags & CALL_ACTIVE) || c->sys != (__u32)s)
		return 0;
	__u64 ts = c->ts;
	__u32 sys = c->sys;
	int counted = c->flags & (CALL_ON_MOUNT | CALL_HIT);
	c->flags = 0;
	if (!counted && (sys == PROF_SYS_OPENAT || sys == PROF_SYS_OPEN) && ret >= 0)
		counted = on_mount(fd_file(ret));
	if (counted)
		hist_add(PROF_LAYER_SYSCALL, 0, 0, 0, sys, bpf_ktime_get_ns() - ts);
	return 0;
}
