// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The map of `dfs-ebpf bench maps` (core/src/bench/maps.ts): a 100,000-entry hash with an
 * 8-byte key and a 16-byte struct value, with BTF, which the bench dumps through the agent and
 * through `bpftool map dump -j`. Never attached and never loaded by the agent: the bench loads
 * it with `bpftool prog loadall … pinmaps` on the machine of a local test node, fills it by
 * running maps_bench_fill once (BPF_PROG_TEST_RUN: every entry written in the kernel, in
 * milliseconds, instead of 100,000 map updates from user space), and removes the pins.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAPS_BENCH_ENTRIES 100000

/* Like a per-flow counter: what a user's map typically holds. */
struct maps_bench_counter {
	__u64 packets;
	__u64 bytes;
};

_Static_assert(sizeof(struct maps_bench_counter) == 16, "the bench's value is 16 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAPS_BENCH_ENTRIES);
	__type(key, __u64);
	__type(value, struct maps_bench_counter);
} maps_bench SEC(".maps");

/* Keys 1..MAPS_BENCH_ENTRIES; values that differ per entry. Counts the entries written. */
static long fill_one(__u64 i, void *written)
{
	__u64 key = i + 1;
	struct maps_bench_counter v = { .packets = key, .bytes = key * 1500 };

	if (bpf_map_update_elem(&maps_bench, &key, &v, BPF_ANY) == 0)
		(*(__u32 *)written)++;
	return 0;
}

/* Run once by the bench (bpftool prog run); returns how many entries it wrote. */
SEC("syscall")
int maps_bench_fill(void *ctx)
{
	__u32 written = 0;

	bpf_loop(MAPS_BENCH_ENTRIES, fill_one, &written, 0);
	return written;
}
