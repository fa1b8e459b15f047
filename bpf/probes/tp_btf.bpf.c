// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Feature probe: can this kernel load a BTF-typed tracepoint (tp_btf) program?
 * The agent loads it (never attaches it) at start; see remote-agent/src/kernel.ts. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tp_btf/sched_switch")
int probe_tp_btf(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
