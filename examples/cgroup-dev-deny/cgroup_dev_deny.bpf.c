// SPDX-License-Identifier: GPL-2.0
// cgroup device filter: deny every access to one character device, allow all others.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define BPF_DEVCG_DEV_CHAR_ 2

/* The denied device, /dev/null (1:3) unless the user program sets another before load. */
const volatile __u32 deny_major = 1;
const volatile __u32 deny_minor = 3;

/* Accesses denied. */
__u64 denied = 0;

SEC("cgroup/dev")
int cgroup_dev_deny(struct bpf_cgroup_dev_ctx *ctx)
{
	__u32 type = ctx->access_type & 0xffff;

	if (type == BPF_DEVCG_DEV_CHAR_ && ctx->major == deny_major &&
	    ctx->minor == deny_minor) {
		__sync_fetch_and_add(&denied, 1);
		return 0;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
