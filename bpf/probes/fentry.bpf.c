// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Feature probe: can this kernel load trampoline programs (fentry)? Some vendor kernels
 * refuse them with EPERM before verification. bpf_fentry_test1 exists for exactly this kind
 * of test (net/bpf/test_run.c). Loaded, never attached, by remote-agent/src/kernel.ts. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("fentry/bpf_fentry_test1")
int probe_fentry(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
