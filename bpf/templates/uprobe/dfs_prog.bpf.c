// SPDX-License-Identifier: GPL-2.0
/*
 * dfs_prog: counts the malloc() calls of every process using the system's libc, with a log2
 * histogram of the sizes asked for, and the calls that returned NULL.
 *
 * dfs_prog_malloc is a uprobe on libc's malloc (its entry: the size is the first argument);
 * dfs_prog_malloc_ret a uretprobe on it (its return: the result is the return value). Both
 * add to the single slot of dfs_prog_stats (the dfs-ebpf map inspector draws its histogram).
 *
 * Use: libbpf attaches both from their section names (bpf_program__attach, or a skeleton's
 * __attach); then read dfs_prog_stats, e.g. `bpftool map dump name dfs_prog_stats`. To watch
 * another library or function, change the path and symbol after "uprobe/" (the binary's
 * absolute path, then its symbol). Every call pays for a trap into the kernel: keep uprobes
 * off functions called millions of times a second on production nodes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h> /* PT_REGS_PARM1, PT_REGS_RC (needs -D__TARGET_ARCH_x86) */
#include "dfs_prog.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dfs_prog_stats);
} dfs_prog_stats SEC(".maps");

static __always_inline struct dfs_prog_stats *stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&dfs_prog_stats, &zero);
}

/* Slot of a size: 0 for <= 1 byte, k for (2^(k-1), 2^k] bytes (k = bits of size - 1). */
static __always_inline __u32 log2_slot(__u64 size)
{
	__u32 slot = 0;

	if (size <= 1)
		return 0;
	for (size -= 1; size && slot < DFS_PROG_SLOTS - 1; size >>= 1)
		slot++;
	return slot;
}

SEC("uprobe//lib/x86_64-linux-gnu/libc.so.6:malloc")
int dfs_prog_malloc(struct pt_regs *ctx)
{
	__u64 size = PT_REGS_PARM1(ctx); /* void *malloc(size_t size) */
	struct dfs_prog_stats *st = stats();

	if (!st)
		return 0;
	/* Every process on the node shares the slot: atomic adds. */
	__sync_fetch_and_add(&st->calls, 1);
	__sync_fetch_and_add(&st->bytes, size);
	__sync_fetch_and_add(&st->slots[log2_slot(size)], 1);
	return 0;
}

SEC("uretprobe//lib/x86_64-linux-gnu/libc.so.6:malloc")
int dfs_prog_malloc_ret(struct pt_regs *ctx)
{
	struct dfs_prog_stats *st;

	if (PT_REGS_RC(ctx) != 0)
		return 0;
	st = stats();
	if (st)
		__sync_fetch_and_add(&st->null_returns, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
