// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The profiler of one JuiceFS mount: latency histograms kept in the kernel for the FUSE
 * requests of the mount's connection (total, and queue / daemon where the daemon's read of
 * the request was seen), for the syscalls of every process on the mount, and for the
 * daemon's round trips to its metadata engine and object store at the socket layer; plus
 * wall-clock (on + off CPU) stacks of the daemon's threads and the stacks of the daemon
 * threads that answered slow FUSE requests (also sent as ring-buffer events).
 *
 * Configuration (const volatile, set by the agent before load): the superblock device of the
 * mount (kernel dev_t encoding), the daemon's tgid, the slow-request threshold and whether
 * wall-clock stacks are captured. Every program filters by tgid or device first.
 * Attach points: tp_btf only (fuse_request_send/end, sched_switch, sys_enter/sys_exit in
 * profile_sys.bpf.h): no tracefs, no kprobes, no fentry (our kernels lack the last two,
 * DESIGN.md section 2). Programs are named prof_* so that a kernel listing shows whose they are.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "profile.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_dev = 0;   /* s_dev of the mount's superblock (MKDEV: major << 20 | minor) */
const volatile __u32 daemon_tgid = 0;  /* the JuiceFS daemon serving the mount */
const volatile __u64 slow_ns = 10000000ULL;
const volatile __u32 capture_stacks = 1;
/*
 * Take the daemon's stacks at one switch-out in `stack_sample_every` (chosen at random), and
 * weigh what is added for it (the on-CPU slice before it, the off-CPU wait after it) by that
 * factor: an unbiased estimate of time per stack at 1/N of the cost of a stack walk on every
 * context switch (the walks are most of the profiler's cost on a metadata-heavy load).
 */
const volatile __u32 stack_sample_every = 1;

#define FUSE_RDEV ((10u << 20) | 229u) /* /dev/fuse: MISC_MAJOR, FUSE_MINOR */
#define S_IFMT 0170000
#define S_IFCHR 0020000
#define S_IFSOCK 0140000
#define AF_UNIX 1
#define AF_INET 2
#define AT_EMPTY_PATH 0x1000
#define EEXIST 17
#define MAX_STACK_DEPTH 127
#define STACK_NOT_SAMPLED -2

struct inflight_key {
	__u64 unique;
	__u32 dev;
	__u32 pad;
};

struct inflight {
	__u64 send_ns;
	__u64 dequeue_ns; /* the daemon's read of the request from /dev/fuse returned */
	__u32 opcode;
	__u32 tgid;
};

/* A syscall of a process on the mount, from enter to exit (the thread's task storage). */
#define CALL_ACTIVE 1u   /* between a measured sys_enter and its sys_exit */
#define CALL_ON_MOUNT 2u /* the file is on the mount */
#define CALL_HIT 4u      /* the thread sent a FUSE request on the connection during the call */
struct call {
	__u64 ts;
	__u32 sys;
	__u32 flags;
};

/* A round trip in progress on one of the daemon's sockets: first send to first read > 0. */
struct rtt {
	__u64 ts;
	__u32 ip4;
	__u16 port;
	__u8 family;
	__u8 layer;
};

/* A daemon thread's last switch: out (with its stacks) or in (its task storage). */
struct thread {
	__u64 out_ns;
	__u64 in_ns;
	__s32 kstack;
	__s32 ustack;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct prof_hist_key);
	__type(value, struct prof_hist);
} prof_hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct inflight_key);
	__type(value, struct inflight);
} prof_inflight SEC(".maps");

/*
 * Per-thread state lives in task storage, not in hashes keyed by thread id: found through the
 * task in a few loads, written in place, freed with the task or the map; no hashing, no bucket
 * lock, no insert and delete per syscall or context switch (these two run on every syscall
 * and every switch of the node, so they are most of the profiler's cost).
 */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct call);
} prof_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct rtt);
} prof_rtt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, struct prof_endpoint);
	__type(value, __u32);
} prof_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread);
} prof_threads SEC(".maps");

/*
 * Stack ids hash into max_entries buckets and a taken bucket refuses another stack (-EEXIST,
 * counted as a stack drop; BPF_F_REUSE_STACKID would overwrite stacks prof_stacks still names):
 * 16,384 buckets (16 MiB) keep the collisions of a few thousand distinct stacks rare.
 */
struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 16384);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
} prof_stackmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct prof_stack_key);
	__type(value, struct prof_stack_val);
} prof_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct prof_drops);
} prof_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} prof_events SEC(".maps");

static const struct prof_hist zero_hist;

static __always_inline struct prof_drops *drops(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&prof_drops, &zero);
}

#define DROP(field)                                   \
	do {                                          \
		struct prof_drops *d__ = drops();     \
		if (d__)                              \
			d__->field++;                 \
	} while (0)

/* Slot of a latency: 0 for <= 1 us, k for (2^(k-1), 2^k] us. */
static __always_inline __u32 slot_of(__u64 ns)
{
	__u64 us = (ns + 999) / 1000;
	if (us <= 1)
		return 0;
	__u64 v = us - 1;
	__u32 r = 0, shift;
	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	r += 1;
	return r < PROF_HIST_SLOTS ? r : PROF_HIST_SLOTS - 1;
}

static __always_inline void hist_add(__u8 layer, __u8 phase, __u8 family, __u16 port, __u32 op,
				     __u64 ns)
{
	struct prof_hist_key k = {.layer = layer, .phase = phase, .family = family, .port = port, .op = op};
	struct prof_hist *h = bpf_map_lookup_elem(&prof_hists, &k);
	if (!h) {
		bpf_map_update_elem(&prof_hists, &k, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&prof_hists, &k);
		if (!h) {
			DROP(hists);
			return;
		}
	}
	__u32 s = slot_of(ns);
	h->count++;
	h->sum_ns += ns;
	if (s < PROF_HIST_SLOTS)
		h->slots[s]++;
}

static __always_inline void stack_add(__s32 kstack, __s32 ustack, __u32 kind, __u64 ns)
{
	struct prof_stack_key k = {
		.kstack = kstack < 0 ? -1 : kstack,
		.ustack = ustack < 0 ? -1 : ustack,
		.kind = kind,
	};
	struct prof_stack_val *v = bpf_map_lookup_elem(&prof_stacks, &k);
	if (!v) {
		struct prof_stack_val z = {};
		long err = bpf_map_update_elem(&prof_stacks, &k, &z, BPF_NOEXIST);
		if (err && err != -EEXIST) {
			DROP(aggs);
			return;
		}
		v = bpf_map_lookup_elem(&prof_stacks, &k);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->total_ns, ns);
	__sync_fetch_and_add(&v->count, 1);
}

/* Kernel and user stack ids of the current thread; a failure counts as a stack drop. */
static __always_inline void stacks_of(void *ctx, __s32 *kstack, __s32 *ustack)
{
	*kstack = bpf_get_stackid(ctx, &prof_stackmap, 0);
	*ustack = bpf_get_stackid(ctx, &prof_stackmap, BPF_F_USER_STACK);
	if (*kstack < 0 || *ustack < 0)
		DROP(stacks);
}

/*
 * The current task's open file `fd`, or NULL. Every caller is a tp_btf program, so the task,
 * its fd table and the file are walked with direct BTF loads (no helper call each), which is
 * what keeps the per-syscall filter cheap; only the fd array slot needs a probe read.
 */
static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (!fdt || fd < 0 || fd >= fdt->max_fds)
		return NULL;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
	return f ? bpf_core_cast(f, struct file) : NULL;
}

static __always_inline int on_mount(struct file *f)
{
	return f && f->f_inode->i_sb->s_dev == target_dev;
}

/* ------------------------------------------------------------------------------------ */
/* FUSE requests */

static __always_inline int req_key(const struct fuse_req *req, struct inflight_key *k)
{
	if (req->fm->sb->s_dev != target_dev)
		return 0;
	k->unique = req->in.h.unique;
	k->dev = target_dev;
	k->pad = 0;
	return 1;
}

SEC("tp_btf/fuse_request_send")
int BPF_PROG(prof_fuse_send, const struct fuse_req *req)
{
	struct inflight_key k;
	if (!req_key(req, &k))
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	struct inflight v = {
		.send_ns = bpf_ktime_get_ns(),
		.opcode = req->in.h.opcode,
		.tgid = id >> 32,
	};
	if (bpf_map_update_elem(&prof_inflight, &k, &v, BPF_ANY))
		DROP(inflight);
	/* The calling thread's syscall (a stat, an open) reached the daemon: it is on the mount. */
	struct call *c = bpf_task_storage_get(&prof_calls, bpf_get_current_task_btf(), 0, 0);
	if (c)
		c->flags |= CALL_HIT;
	return 0;
}

SEC("tp_btf/fuse_request_end")
int BPF_PROG(prof_fuse_end, const struct fuse_req *req)
{
	struct inflight_key k;
	if (!req_key(req, &k))
		return 0;
	struct inflight *v = bpf_map_lookup_elem(&prof_inflight, &k);
	if (!v)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 send = v->send_ns, dequeue = v->dequeue_ns;
	__u32 opcode = v->opcode, tgid = v->tgid;
	bpf_map_delete_elem(&prof_inflight, &k);

	__u64 total = now - send, queue = 0, daemon = 0;
	hist_add(PROF_LAYER_FUSE, PROF_PHASE_TOTAL, 0, 0, opcode, total);
	if (dequeue >= send && dequeue <= now) {
		queue = dequeue - send;
		daemon = now - dequeue;
		hist_add(PROF_LAYER_FUSE, PROF_PHASE_QUEUE, 0, 0, opcode, queue);
		hist_add(PROF_LAYER_FUSE, PROF_PHASE_DAEMON, 0, 0, opcode, daemon);
	}
	if (total < slow_ns)
		return 0;

	/* A slow request: the stacks of the thread answering it (it runs fuse_request_end). */
	__s32 kstack, ustack;
	stacks_of(ctx, &kstack, &ustack);
	stack_add(kstack, ustack, PROF_KIND_SLOW, total);
	struct prof_event *e = bpf_ringbuf_reserve(&prof_events, sizeof(*e), 0);
	if (!e) {
		DROP(events);
		return 0;
	}
	e->unique = k.unique;
	e->total_ns = total;
	e->queue_ns = queue;
	e->daemon_ns = daemon;
	e->opcode = opcode;
	e->requester_tgid = tgid;
	e->reply_tid = (__u32)bpf_get_current_pid_tgid();
	e->kstack = kstack;
	e->ustack = ustack;
	e->pad = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Wall-clock stacks of the daemon's threads */

SEC("tp_btf/sched_switch")
int BPF_PROG(prof_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (!capture_stacks)
		return 0;
	__u32 out = prev->tgid == daemon_tgid, in = next->tgid == daemon_tgid;
	if (!out && !in)
		return 0;
	__u64 now = bpf_ktime_get_ns();
	__u64 weight = stack_sample_every > 1 ? stack_sample_every : 1;
	if (out) {
		/* Switch-out: this still runs on prev, so the stacks are prev's. */
		struct thread *t = bpf_task_storage_get(&prof_threads, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!t) {
			DROP(calls);
		} else {
			__s32 kstack = STACK_NOT_SAMPLED, ustack = STACK_NOT_SAMPLED;
			if (weight == 1 || bpf_get_prandom_u32() % weight == 0) {
				stacks_of(ctx, &kstack, &ustack);
				/* A fresh thread has no slice yet (in_ns 0): nothing on-CPU to add. */
				if (t->in_ns && now > t->in_ns)
					stack_add(kstack, ustack, PROF_KIND_ONCPU, (now - t->in_ns) * weight);
			}
			t->out_ns = now;
			t->in_ns = 0;
			t->kstack = kstack;
			t->ustack = ustack;
		}
	}
	if (in) {
		struct thread *t = bpf_task_storage_get(&prof_threads, next, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!t) {
			DROP(calls);
		} else {
			/* A fresh thread (out_ns 0) was switched out before the profile began. */
			if (t->out_ns && t->kstack != STACK_NOT_SAMPLED && now > t->out_ns)
				stack_add(t->kstack, t->ustack, PROF_KIND_OFFCPU, (now - t->out_ns) * weight);
			t->out_ns = 0;
			t->in_ns = now;
		}
	}
	return 0;
}

#include "profile_sys.bpf.h"
