// SPDX-License-Identifier: GPL-2.0
/*
 * dfs_prog: a log2 histogram of read(2) latency, in microseconds.
 *
 * dfs_prog_enter (tracepoint syscalls/sys_enter_read) notes when each thread enters read(2)
 * in dfs_prog_start; dfs_prog_exit (sys_exit_read) takes the time since then and counts it in
 * the histogram dfs_prog_hist (one slot: count, sum and log2 slots; the dfs-ebpf map inspector
 * draws it).
 *
 * Use: set target_tgid before the load to watch one process (0, the default, watches every
 * process), e.g. through a skeleton's rodata; then attach both programs (libbpf attaches a
 * tracepoint by its section name: bpf_program__attach, or a skeleton's __attach), and read
 * dfs_prog_hist, e.g. `bpftool map dump name dfs_prog_hist`.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "dfs_prog.h"

/* Set before the load. The verifier knows its value, so with 0 the filter costs nothing. */
const volatile __u32 target_tgid = 0;

/* Thread (pid_tgid) -> when it entered read(2), ns. Entries live from enter to exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64);
	__type(value, __u64);
} dfs_prog_start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dfs_prog_hist);
} dfs_prog_hist SEC(".maps");

/* Slot of a latency: 0 for <= 1 us, k for (2^(k-1), 2^k] us (k = bits of us - 1). */
static __always_inline __u32 log2_slot(__u64 us)
{
	__u32 slot = 0;

	if (us <= 1)
		return 0;
	for (us -= 1; us && slot < DFS_PROG_SLOTS - 1; us >>= 1)
		slot++;
	return slot;
}

SEC("tracepoint/syscalls/sys_enter_read")
int dfs_prog_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 id = bpf_get_current_pid_tgid(); /* tgid << 32 | thread id */
	__u64 now = bpf_ktime_get_ns();

	if (target_tgid && (id >> 32) != target_tgid)
		return 0;
	bpf_map_update_elem(&dfs_prog_start, &id, &now, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int dfs_prog_exit(struct trace_event_raw_sys_exit *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct dfs_prog_hist *hist;
	__u32 zero = 0;
	__u64 *start, us;

	start = bpf_map_lookup_elem(&dfs_prog_start, &id);
	if (!start)
		return 0; /* entered before the attach, or filtered out */
	us = (bpf_ktime_get_ns() - *start) / 1000;
	bpf_map_delete_elem(&dfs_prog_start, &id);

	hist = bpf_map_lookup_elem(&dfs_prog_hist, &zero);
	if (!hist)
		return 0;
	/* Threads on other CPUs add to the same slots: atomic adds. */
	__sync_fetch_and_add(&hist->count, 1);
	__sync_fetch_and_add(&hist->sum_us, us);
	__sync_fetch_and_add(&hist->slots[log2_slot(us)], 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
