//! Names of the kernel's program and map types as bpftool and libbpf spell them.

/// `(enum bpf_prog_type number, name)`, in kernel order.
pub(crate) static PROG_TYPES: &[(u32, &str)] = &[
    (1, "socket_filter"),
    (2, "kprobe"),
    (3, "sched_cls"),
    (4, "sched_act"),
    (5, "tracepoint"),
    (6, "xdp"),
    (7, "perf_event"),
    (8, "cgroup_skb"),
    (9, "cgroup_sock"),
    (10, "lwt_in"),
    (11, "lwt_out"),
    (12, "lwt_xmit"),
    (13, "sock_ops"),
    (14, "sk_skb"),
    (15, "cgroup_device"),
    (16, "sk_msg"),
    (17, "raw_tracepoint"),
    (18, "cgroup_sock_addr"),
    (19, "lwt_seg6local"),
    (20, "lirc_mode2"),
    (21, "sk_reuseport"),
    (22, "flow_dissector"),
    (23, "cgroup_sysctl"),
    (24, "raw_tracepoint_writable"),
    (25, "cgroup_sockopt"),
    (26, "tracing"),
    (27, "struct_ops"),
    (28, "ext"),
    (29, "lsm"),
    (30, "sk_lookup"),
    (31, "syscall"),
    (32, "netfilter"),
];

/// `(enum bpf_map_type number, name)`, in kernel order.
pub(crate) static MAP_TYPES: &[(u32, &str)] = &[
    (1, "hash"),
    (2, "array"),
    (3, "prog_array"),
    (4, "perf_event_array"),
    (5, "percpu_hash"),
    (6, "percpu_array"),
    (7, "stack_trace"),
    (8, "cgroup_array"),
    (9, "lru_hash"),
    (10, "lru_percpu_hash"),
    (11, "lpm_trie"),
    (12, "array_of_maps"),
    (13, "hash_of_maps"),
    (14, "devmap"),
    (15, "sockmap"),
    (16, "cpumap"),
    (17, "xskmap"),
    (18, "sockhash"),
    (19, "cgroup_storage"),
    (20, "reuseport_sockarray"),
    (21, "percpu_cgroup_storage"),
    (22, "queue"),
    (23, "stack"),
    (24, "sk_storage"),
    (25, "devmap_hash"),
    (26, "struct_ops"),
    (27, "ringbuf"),
    (28, "inode_storage"),
    (29, "task_storage"),
    (30, "bloom_filter"),
    (31, "user_ringbuf"),
    (32, "cgrp_storage"),
    (33, "arena"),
];

/// Kernel configuration options bpftool reports, in its order.
pub(crate) static KERNEL_CONFIG: &[&str] = &[
    "CONFIG_BPF",
    "CONFIG_BPF_SYSCALL",
    "CONFIG_HAVE_EBPF_JIT",
    "CONFIG_BPF_JIT",
    "CONFIG_BPF_JIT_ALWAYS_ON",
    "CONFIG_DEBUG_INFO_BTF",
    "CONFIG_DEBUG_INFO_BTF_MODULES",
    "CONFIG_CGROUPS",
    "CONFIG_CGROUP_BPF",
    "CONFIG_CGROUP_NET_CLASSID",
    "CONFIG_SOCK_CGROUP_DATA",
    "CONFIG_BPF_EVENTS",
    "CONFIG_KPROBE_EVENTS",
    "CONFIG_UPROBE_EVENTS",
    "CONFIG_TRACING",
    "CONFIG_FTRACE_SYSCALLS",
    "CONFIG_FUNCTION_ERROR_INJECTION",
    "CONFIG_BPF_KPROBE_OVERRIDE",
    "CONFIG_NET",
    "CONFIG_XDP_SOCKETS",
    "CONFIG_LWTUNNEL_BPF",
    "CONFIG_NET_ACT_BPF",
    "CONFIG_NET_CLS_BPF",
    "CONFIG_NET_CLS_ACT",
    "CONFIG_NET_SCH_INGRESS",
    "CONFIG_XFRM",
    "CONFIG_IP_ROUTE_CLASSID",
    "CONFIG_IPV6_SEG6_BPF",
    "CONFIG_BPF_LIRC_MODE2",
    "CONFIG_BPF_STREAM_PARSER",
    "CONFIG_NETFILTER_XT_MATCH_BPF",
    "CONFIG_BPFILTER",
    "CONFIG_BPFILTER_UMH",
    "CONFIG_TEST_BPF",
    "CONFIG_HZ",
];

/// Helpers left out of the default helper scan because a probe load of them writes a warning
/// to the kernel log; `full` includes them.
pub(crate) static NOISY_HELPERS: &[&str] = &[
    "bpf_trace_printk",
    "bpf_probe_write_user",
    "bpf_trace_vprintk",
];

/// The name of program type `id`, if known.
pub fn prog_type_name(id: u32) -> Option<&'static str> {
    PROG_TYPES.iter().find(|(n, _)| *n == id).map(|(_, s)| *s)
}

/// The name of map type `id`, if known.
pub fn map_type_name(id: u32) -> Option<&'static str> {
    MAP_TYPES.iter().find(|(n, _)| *n == id).map(|(_, s)| *s)
}
