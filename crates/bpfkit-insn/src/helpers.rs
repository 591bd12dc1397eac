//! The helper function table of the kernel uapi: id, name, C prototype, and a coarse grouping
//! of which program types may call each helper.
//!
//! The ids and names are the kernel's `enum bpf_func_id` (up to `bpf_cgrp_storage_delete` = 211);
//! the prototypes are those of the uapi header's helper documentation.
//! The grouping is approximate: the kernel decides per program type (and per attach type,
//! sleepability and privilege), so the authoritative answer for a running kernel comes from
//! feature probes, not from this table. It was checked on Linux 6.18 by loading a call of every
//! helper into each program type that loads without an attach target (socket_filter, kprobe,
//! sched_cls, tracepoint, xdp, perf_event, cgroup_skb/sock/device/sysctl, lwt_in, sock_ops,
//! sk_skb, sk_msg, raw_tracepoint, sk_reuseport, flow_dissector): since 6.x many former
//! tracing helpers (`bpf_get_current_pid_tgid`, `bpf_get_current_comm`, `bpf_send_signal` …)
//! are available to every program type, so they are [`HelperGroup::Base`] here.

/// A coarse class of program types allowed to call a helper. Approximate by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HelperGroup {
    /// Id 0, not a callable helper.
    Unspec,
    /// Generic helpers offered to (nearly) every program type, some only with CAP_BPF/CAP_PERFMON.
    Base,
    /// Tracing programs: kprobe, tracepoint, perf_event, raw_tracepoint, tracing (fentry/iter), LSM.
    Tracing,
    /// Networking programs: socket filters, tc, XDP, lwt, sock_ops, sk_skb/sk_msg, sk_lookup …
    Networking,
    /// Cgroup programs: cgroup_skb/sock/sock_addr/sysctl/sockopt/device.
    Cgroup,
    /// LSM programs (some also from sleepable tracing programs).
    Lsm,
    /// `BPF_PROG_TYPE_SYSCALL` programs.
    Syscall,
    /// `BPF_PROG_TYPE_LIRC_MODE2` (infrared decoders).
    LircMode2,
}

impl HelperGroup {
    /// Approximate: may a program of type `prog_type` (kernel `enum bpf_prog_type` number) call a
    /// helper of this group? Feature probes give the real answer.
    pub fn approx_allowed(self, prog_type: u32) -> bool {
        const TRACING: &[u32] = &[2, 5, 7, 17, 24, 26, 29];
        const NETWORKING: &[u32] = &[
            1, 3, 4, 6, 8, 9, 10, 11, 12, 13, 14, 16, 18, 19, 21, 22, 30, 32,
        ];
        const CGROUP: &[u32] = &[8, 9, 15, 18, 23, 25];
        match self {
            HelperGroup::Unspec => false,
            HelperGroup::Base => prog_type != 0,
            HelperGroup::Tracing => TRACING.contains(&prog_type),
            HelperGroup::Networking => NETWORKING.contains(&prog_type),
            HelperGroup::Cgroup => CGROUP.contains(&prog_type),
            HelperGroup::Lsm => prog_type == 29 || prog_type == 26,
            HelperGroup::Syscall => prog_type == 31,
            HelperGroup::LircMode2 => prog_type == 20,
        }
    }
}

/// One helper function of the kernel uapi.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HelperInfo {
    /// `BPF_FUNC_*` number, the `imm` of a helper call.
    pub id: u32,
    /// C name with the `bpf_` prefix, as bpftool prints it.
    pub name: &'static str,
    /// Which program types may call it (approximate, see [`HelperGroup`]).
    pub group: HelperGroup,
    /// The C prototype of the uapi documentation, e.g.
    /// `void *bpf_map_lookup_elem(struct bpf_map *map, const void *key)`.
    pub proto: &'static str,
}

impl HelperInfo {
    /// The name without the `bpf_` prefix (the `BPF_FUNC_` suffix).
    pub fn short_name(&self) -> &'static str {
        self.name.strip_prefix("bpf_").unwrap_or(self.name)
    }

    /// The C return type of the prototype (`void *`, `long`, `u64` …).
    pub fn return_type(&self) -> &'static str {
        match self.proto.find(self.name) {
            Some(at) => self.proto[..at].trim_end(),
            None => "",
        }
    }

    /// The declared parameters, e.g. `["struct bpf_map *map", "const void *key"]`; empty
    /// for `(void)`. A variadic helper ends with `"..."`.
    pub fn params(&self) -> Vec<&'static str> {
        let inner = self
            .proto
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(')'))
            .map_or("", |(args, _)| args.trim());
        if inner.is_empty() || inner == "void" {
            return Vec::new();
        }
        inner.split(',').map(str::trim).collect()
    }
}

const fn h(id: u32, name: &'static str, group: HelperGroup, proto: &'static str) -> HelperInfo {
    HelperInfo {
        id,
        name,
        group,
        proto,
    }
}

/// Every helper, indexed by `id - 1`.
pub static HELPERS: &[HelperInfo] = &[
    h(
        1,
        "bpf_map_lookup_elem",
        HelperGroup::Base,
        "void *bpf_map_lookup_elem(struct bpf_map *map, const void *key)",
    ),
    h(
        2,
        "bpf_map_update_elem",
        HelperGroup::Base,
        "long bpf_map_update_elem(struct bpf_map *map, const void *key, const void *value, u64 flags)",
    ),
    h(
        3,
        "bpf_map_delete_elem",
        HelperGroup::Base,
        "long bpf_map_delete_elem(struct bpf_map *map, const void *key)",
    ),
    h(
        4,
        "bpf_probe_read",
        HelperGroup::Tracing,
        "long bpf_probe_read(void *dst, u32 size, const void *unsafe_ptr)",
    ),
    h(
        5,
        "bpf_ktime_get_ns",
        HelperGroup::Base,
        "u64 bpf_ktime_get_ns(void)",
    ),
    h(
        6,
        "bpf_trace_printk",
        HelperGroup::Base,
        "long bpf_trace_printk(const char *fmt, u32 fmt_size, ...)",
    ),
    h(
        7,
        "bpf_get_prandom_u32",
        HelperGroup::Base,
        "u32 bpf_get_prandom_u32(void)",
    ),
    h(
        8,
        "bpf_get_smp_processor_id",
        HelperGroup::Base,
        "u32 bpf_get_smp_processor_id(void)",
    ),
    h(
        9,
        "bpf_skb_store_bytes",
        HelperGroup::Networking,
        "long bpf_skb_store_bytes(struct sk_buff *skb, u32 offset, const void *from, u32 len, u64 flags)",
    ),
    h(
        10,
        "bpf_l3_csum_replace",
        HelperGroup::Networking,
        "long bpf_l3_csum_replace(struct sk_buff *skb, u32 offset, u64 from, u64 to, u64 size)",
    ),
    h(
        11,
        "bpf_l4_csum_replace",
        HelperGroup::Networking,
        "long bpf_l4_csum_replace(struct sk_buff *skb, u32 offset, u64 from, u64 to, u64 flags)",
    ),
    h(
        12,
        "bpf_tail_call",
        HelperGroup::Base,
        "long bpf_tail_call(void *ctx, struct bpf_map *prog_array_map, u32 index)",
    ),
    h(
        13,
        "bpf_clone_redirect",
        HelperGroup::Networking,
        "long bpf_clone_redirect(struct sk_buff *skb, u32 ifindex, u64 flags)",
    ),
    h(
        14,
        "bpf_get_current_pid_tgid",
        HelperGroup::Base,
        "u64 bpf_get_current_pid_tgid(void)",
    ),
    h(
        15,
        "bpf_get_current_uid_gid",
        HelperGroup::Base,
        "u64 bpf_get_current_uid_gid(void)",
    ),
    h(
        16,
        "bpf_get_current_comm",
        HelperGroup::Base,
        "long bpf_get_current_comm(void *buf, u32 size_of_buf)",
    ),
    h(
        17,
        "bpf_get_cgroup_classid",
        HelperGroup::Base,
        "u32 bpf_get_cgroup_classid(struct sk_buff *skb)",
    ),
    h(
        18,
        "bpf_skb_vlan_push",
        HelperGroup::Networking,
        "long bpf_skb_vlan_push(struct sk_buff *skb, __be16 vlan_proto, u16 vlan_tci)",
    ),
    h(
        19,
        "bpf_skb_vlan_pop",
        HelperGroup::Networking,
        "long bpf_skb_vlan_pop(struct sk_buff *skb)",
    ),
    h(
        20,
        "bpf_skb_get_tunnel_key",
        HelperGroup::Networking,
        "long bpf_skb_get_tunnel_key(struct sk_buff *skb, struct bpf_tunnel_key *key, u32 size, u64 flags)",
    ),
    h(
        21,
        "bpf_skb_set_tunnel_key",
        HelperGroup::Networking,
        "long bpf_skb_set_tunnel_key(struct sk_buff *skb, struct bpf_tunnel_key *key, u32 size, u64 flags)",
    ),
    h(
        22,
        "bpf_perf_event_read",
        HelperGroup::Base,
        "u64 bpf_perf_event_read(struct bpf_map *map, u64 flags)",
    ),
    h(
        23,
        "bpf_redirect",
        HelperGroup::Networking,
        "long bpf_redirect(u32 ifindex, u64 flags)",
    ),
    h(
        24,
        "bpf_get_route_realm",
        HelperGroup::Networking,
        "u32 bpf_get_route_realm(struct sk_buff *skb)",
    ),
    h(
        25,
        "bpf_perf_event_output",
        HelperGroup::Base,
        "long bpf_perf_event_output(void *ctx, struct bpf_map *map, u64 flags, void *data, u64 size)",
    ),
    h(
        26,
        "bpf_skb_load_bytes",
        HelperGroup::Networking,
        "long bpf_skb_load_bytes(const void *skb, u32 offset, void *to, u32 len)",
    ),
    h(
        27,
        "bpf_get_stackid",
        HelperGroup::Tracing,
        "long bpf_get_stackid(void *ctx, struct bpf_map *map, u64 flags)",
    ),
    h(
        28,
        "bpf_csum_diff",
        HelperGroup::Networking,
        "s64 bpf_csum_diff(__be32 *from, u32 from_size, __be32 *to, u32 to_size, __wsum seed)",
    ),
    h(
        29,
        "bpf_skb_get_tunnel_opt",
        HelperGroup::Networking,
        "long bpf_skb_get_tunnel_opt(struct sk_buff *skb, void *opt, u32 size)",
    ),
    h(
        30,
        "bpf_skb_set_tunnel_opt",
        HelperGroup::Networking,
        "long bpf_skb_set_tunnel_opt(struct sk_buff *skb, void *opt, u32 size)",
    ),
    h(
        31,
        "bpf_skb_change_proto",
        HelperGroup::Networking,
        "long bpf_skb_change_proto(struct sk_buff *skb, __be16 proto, u64 flags)",
    ),
    h(
        32,
        "bpf_skb_change_type",
        HelperGroup::Networking,
        "long bpf_skb_change_type(struct sk_buff *skb, u32 type)",
    ),
    h(
        33,
        "bpf_skb_under_cgroup",
        HelperGroup::Networking,
        "long bpf_skb_under_cgroup(struct sk_buff *skb, struct bpf_map *map, u32 index)",
    ),
    h(
        34,
        "bpf_get_hash_recalc",
        HelperGroup::Networking,
        "u32 bpf_get_hash_recalc(struct sk_buff *skb)",
    ),
    h(
        35,
        "bpf_get_current_task",
        HelperGroup::Base,
        "u64 bpf_get_current_task(void)",
    ),
    h(
        36,
        "bpf_probe_write_user",
        HelperGroup::Tracing,
        "long bpf_probe_write_user(void *dst, const void *src, u32 len)",
    ),
    h(
        37,
        "bpf_current_task_under_cgroup",
        HelperGroup::Base,
        "long bpf_current_task_under_cgroup(struct bpf_map *map, u32 index)",
    ),
    h(
        38,
        "bpf_skb_change_tail",
        HelperGroup::Networking,
        "long bpf_skb_change_tail(struct sk_buff *skb, u32 len, u64 flags)",
    ),
    h(
        39,
        "bpf_skb_pull_data",
        HelperGroup::Networking,
        "long bpf_skb_pull_data(struct sk_buff *skb, u32 len)",
    ),
    h(
        40,
        "bpf_csum_update",
        HelperGroup::Networking,
        "s64 bpf_csum_update(struct sk_buff *skb, __wsum csum)",
    ),
    h(
        41,
        "bpf_set_hash_invalid",
        HelperGroup::Networking,
        "void bpf_set_hash_invalid(struct sk_buff *skb)",
    ),
    h(
        42,
        "bpf_get_numa_node_id",
        HelperGroup::Base,
        "long bpf_get_numa_node_id(void)",
    ),
    h(
        43,
        "bpf_skb_change_head",
        HelperGroup::Networking,
        "long bpf_skb_change_head(struct sk_buff *skb, u32 len, u64 flags)",
    ),
    h(
        44,
        "bpf_xdp_adjust_head",
        HelperGroup::Networking,
        "long bpf_xdp_adjust_head(struct xdp_buff *xdp_md, int delta)",
    ),
    h(
        45,
        "bpf_probe_read_str",
        HelperGroup::Tracing,
        "long bpf_probe_read_str(void *dst, u32 size, const void *unsafe_ptr)",
    ),
    h(
        46,
        "bpf_get_socket_cookie",
        HelperGroup::Networking,
        "u64 bpf_get_socket_cookie(struct sock *sk)",
    ),
    h(
        47,
        "bpf_get_socket_uid",
        HelperGroup::Networking,
        "u32 bpf_get_socket_uid(struct sk_buff *skb)",
    ),
    h(
        48,
        "bpf_set_hash",
        HelperGroup::Networking,
        "long bpf_set_hash(struct sk_buff *skb, u32 hash)",
    ),
    h(
        49,
        "bpf_setsockopt",
        HelperGroup::Networking,
        "long bpf_setsockopt(void *bpf_socket, int level, int optname, void *optval, int optlen)",
    ),
    h(
        50,
        "bpf_skb_adjust_room",
        HelperGroup::Networking,
        "long bpf_skb_adjust_room(struct sk_buff *skb, s32 len_diff, u32 mode, u64 flags)",
    ),
    h(
        51,
        "bpf_redirect_map",
        HelperGroup::Networking,
        "long bpf_redirect_map(struct bpf_map *map, u32 key, u64 flags)",
    ),
    h(
        52,
        "bpf_sk_redirect_map",
        HelperGroup::Networking,
        "long bpf_sk_redirect_map(struct sk_buff *skb, struct bpf_map *map, u32 key, u64 flags)",
    ),
    h(
        53,
        "bpf_sock_map_update",
        HelperGroup::Networking,
        "long bpf_sock_map_update(struct bpf_sock_ops *skops, struct bpf_map *map, void *key, u64 flags)",
    ),
    h(
        54,
        "bpf_xdp_adjust_meta",
        HelperGroup::Networking,
        "long bpf_xdp_adjust_meta(struct xdp_buff *xdp_md, int delta)",
    ),
    h(
        55,
        "bpf_perf_event_read_value",
        HelperGroup::Base,
        "long bpf_perf_event_read_value(struct bpf_map *map, u64 flags, struct bpf_perf_event_value *buf, u32 buf_size)",
    ),
    h(
        56,
        "bpf_perf_prog_read_value",
        HelperGroup::Tracing,
        "long bpf_perf_prog_read_value(struct bpf_perf_event_data *ctx, struct bpf_perf_event_value *buf, u32 buf_size)",
    ),
    h(
        57,
        "bpf_getsockopt",
        HelperGroup::Networking,
        "long bpf_getsockopt(void *bpf_socket, int level, int optname, void *optval, int optlen)",
    ),
    h(
        58,
        "bpf_override_return",
        HelperGroup::Tracing,
        "long bpf_override_return(struct pt_regs *regs, u64 rc)",
    ),
    h(
        59,
        "bpf_sock_ops_cb_flags_set",
        HelperGroup::Networking,
        "long bpf_sock_ops_cb_flags_set(struct bpf_sock_ops *bpf_sock, int argval)",
    ),
    h(
        60,
        "bpf_msg_redirect_map",
        HelperGroup::Networking,
        "long bpf_msg_redirect_map(struct sk_msg_buff *msg, struct bpf_map *map, u32 key, u64 flags)",
    ),
    h(
        61,
        "bpf_msg_apply_bytes",
        HelperGroup::Networking,
        "long bpf_msg_apply_bytes(struct sk_msg_buff *msg, u32 bytes)",
    ),
    h(
        62,
        "bpf_msg_cork_bytes",
        HelperGroup::Networking,
        "long bpf_msg_cork_bytes(struct sk_msg_buff *msg, u32 bytes)",
    ),
    h(
        63,
        "bpf_msg_pull_data",
        HelperGroup::Networking,
        "long bpf_msg_pull_data(struct sk_msg_buff *msg, u32 start, u32 end, u64 flags)",
    ),
    h(
        64,
        "bpf_bind",
        HelperGroup::Networking,
        "long bpf_bind(struct bpf_sock_addr *ctx, struct sockaddr *addr, int addr_len)",
    ),
    h(
        65,
        "bpf_xdp_adjust_tail",
        HelperGroup::Networking,
        "long bpf_xdp_adjust_tail(struct xdp_buff *xdp_md, int delta)",
    ),
    h(
        66,
        "bpf_skb_get_xfrm_state",
        HelperGroup::Networking,
        "long bpf_skb_get_xfrm_state(struct sk_buff *skb, u32 index, struct bpf_xfrm_state *xfrm_state, u32 size, u64 flags)",
    ),
    h(
        67,
        "bpf_get_stack",
        HelperGroup::Tracing,
        "long bpf_get_stack(void *ctx, void *buf, u32 size, u64 flags)",
    ),
    h(
        68,
        "bpf_skb_load_bytes_relative",
        HelperGroup::Networking,
        "long bpf_skb_load_bytes_relative(const void *skb, u32 offset, void *to, u32 len, u32 start_header)",
    ),
    h(
        69,
        "bpf_fib_lookup",
        HelperGroup::Networking,
        "long bpf_fib_lookup(void *ctx, struct bpf_fib_lookup *params, int plen, u32 flags)",
    ),
    h(
        70,
        "bpf_sock_hash_update",
        HelperGroup::Networking,
        "long bpf_sock_hash_update(struct bpf_sock_ops *skops, struct bpf_map *map, void *key, u64 flags)",
    ),
    h(
        71,
        "bpf_msg_redirect_hash",
        HelperGroup::Networking,
        "long bpf_msg_redirect_hash(struct sk_msg_buff *msg, struct bpf_map *map, void *key, u64 flags)",
    ),
    h(
        72,
        "bpf_sk_redirect_hash",
        HelperGroup::Networking,
        "long bpf_sk_redirect_hash(struct sk_buff *skb, struct bpf_map *map, void *key, u64 flags)",
    ),
    h(
        73,
        "bpf_lwt_push_encap",
        HelperGroup::Networking,
        "long bpf_lwt_push_encap(struct sk_buff *skb, u32 type, void *hdr, u32 len)",
    ),
    h(
        74,
        "bpf_lwt_seg6_store_bytes",
        HelperGroup::Networking,
        "long bpf_lwt_seg6_store_bytes(struct sk_buff *skb, u32 offset, const void *from, u32 len)",
    ),
    h(
        75,
        "bpf_lwt_seg6_adjust_srh",
        HelperGroup::Networking,
        "long bpf_lwt_seg6_adjust_srh(struct sk_buff *skb, u32 offset, s32 delta)",
    ),
    h(
        76,
        "bpf_lwt_seg6_action",
        HelperGroup::Networking,
        "long bpf_lwt_seg6_action(struct sk_buff *skb, u32 action, void *param, u32 param_len)",
    ),
    h(
        77,
        "bpf_rc_repeat",
        HelperGroup::LircMode2,
        "long bpf_rc_repeat(void *ctx)",
    ),
    h(
        78,
        "bpf_rc_keydown",
        HelperGroup::LircMode2,
        "long bpf_rc_keydown(void *ctx, u32 protocol, u64 scancode, u32 toggle)",
    ),
    h(
        79,
        "bpf_skb_cgroup_id",
        HelperGroup::Networking,
        "u64 bpf_skb_cgroup_id(struct sk_buff *skb)",
    ),
    h(
        80,
        "bpf_get_current_cgroup_id",
        HelperGroup::Base,
        "u64 bpf_get_current_cgroup_id(void)",
    ),
    h(
        81,
        "bpf_get_local_storage",
        HelperGroup::Cgroup,
        "void *bpf_get_local_storage(void *map, u64 flags)",
    ),
    h(
        82,
        "bpf_sk_select_reuseport",
        HelperGroup::Networking,
        "long bpf_sk_select_reuseport(struct sk_reuseport_md *reuse, struct bpf_map *map, void *key, u64 flags)",
    ),
    h(
        83,
        "bpf_skb_ancestor_cgroup_id",
        HelperGroup::Networking,
        "u64 bpf_skb_ancestor_cgroup_id(struct sk_buff *skb, int ancestor_level)",
    ),
    h(
        84,
        "bpf_sk_lookup_tcp",
        HelperGroup::Networking,
        "struct bpf_sock *bpf_sk_lookup_tcp(void *ctx, struct bpf_sock_tuple *tuple, u32 tuple_size, u64 netns, u64 flags)",
    ),
    h(
        85,
        "bpf_sk_lookup_udp",
        HelperGroup::Networking,
        "struct bpf_sock *bpf_sk_lookup_udp(void *ctx, struct bpf_sock_tuple *tuple, u32 tuple_size, u64 netns, u64 flags)",
    ),
    h(
        86,
        "bpf_sk_release",
        HelperGroup::Networking,
        "long bpf_sk_release(void *sock)",
    ),
    h(
        87,
        "bpf_map_push_elem",
        HelperGroup::Base,
        "long bpf_map_push_elem(struct bpf_map *map, const void *value, u64 flags)",
    ),
    h(
        88,
        "bpf_map_pop_elem",
        HelperGroup::Base,
        "long bpf_map_pop_elem(struct bpf_map *map, void *value)",
    ),
    h(
        89,
        "bpf_map_peek_elem",
        HelperGroup::Base,
        "long bpf_map_peek_elem(struct bpf_map *map, void *value)",
    ),
    h(
        90,
        "bpf_msg_push_data",
        HelperGroup::Networking,
        "long bpf_msg_push_data(struct sk_msg_buff *msg, u32 start, u32 len, u64 flags)",
    ),
    h(
        91,
        "bpf_msg_pop_data",
        HelperGroup::Networking,
        "long bpf_msg_pop_data(struct sk_msg_buff *msg, u32 start, u32 len, u64 flags)",
    ),
    h(
        92,
        "bpf_rc_pointer_rel",
        HelperGroup::LircMode2,
        "long bpf_rc_pointer_rel(void *ctx, s32 rel_x, s32 rel_y)",
    ),
    h(
        93,
        "bpf_spin_lock",
        HelperGroup::Base,
        "long bpf_spin_lock(struct bpf_spin_lock *lock)",
    ),
    h(
        94,
        "bpf_spin_unlock",
        HelperGroup::Base,
        "long bpf_spin_unlock(struct bpf_spin_lock *lock)",
    ),
    h(
        95,
        "bpf_sk_fullsock",
        HelperGroup::Networking,
        "struct bpf_sock *bpf_sk_fullsock(struct bpf_sock *sk)",
    ),
    h(
        96,
        "bpf_tcp_sock",
        HelperGroup::Networking,
        "struct bpf_tcp_sock *bpf_tcp_sock(struct bpf_sock *sk)",
    ),
    h(
        97,
        "bpf_skb_ecn_set_ce",
        HelperGroup::Networking,
        "long bpf_skb_ecn_set_ce(struct sk_buff *skb)",
    ),
    h(
        98,
        "bpf_get_listener_sock",
        HelperGroup::Networking,
        "struct bpf_sock *bpf_get_listener_sock(struct bpf_sock *sk)",
    ),
    h(
        99,
        "bpf_skc_lookup_tcp",
        HelperGroup::Networking,
        "struct bpf_sock *bpf_skc_lookup_tcp(void *ctx, struct bpf_sock_tuple *tuple, u32 tuple_size, u64 netns, u64 flags)",
    ),
    h(
        100,
        "bpf_tcp_check_syncookie",
        HelperGroup::Networking,
        "long bpf_tcp_check_syncookie(void *sk, void *iph, u32 iph_len, struct tcphdr *th, u32 th_len)",
    ),
    h(
        101,
        "bpf_sysctl_get_name",
        HelperGroup::Cgroup,
        "long bpf_sysctl_get_name(struct bpf_sysctl *ctx, char *buf, size_t buf_len, u64 flags)",
    ),
    h(
        102,
        "bpf_sysctl_get_current_value",
        HelperGroup::Cgroup,
        "long bpf_sysctl_get_current_value(struct bpf_sysctl *ctx, char *buf, size_t buf_len)",
    ),
    h(
        103,
        "bpf_sysctl_get_new_value",
        HelperGroup::Cgroup,
        "long bpf_sysctl_get_new_value(struct bpf_sysctl *ctx, char *buf, size_t buf_len)",
    ),
    h(
        104,
        "bpf_sysctl_set_new_value",
        HelperGroup::Cgroup,
        "long bpf_sysctl_set_new_value(struct bpf_sysctl *ctx, const char *buf, size_t buf_len)",
    ),
    h(
        105,
        "bpf_strtol",
        HelperGroup::Base,
        "long bpf_strtol(const char *buf, size_t buf_len, u64 flags, long *res)",
    ),
    h(
        106,
        "bpf_strtoul",
        HelperGroup::Base,
        "long bpf_strtoul(const char *buf, size_t buf_len, u64 flags, unsigned long *res)",
    ),
    h(
        107,
        "bpf_sk_storage_get",
        HelperGroup::Networking,
        "void *bpf_sk_storage_get(struct bpf_map *map, void *sk, void *value, u64 flags)",
    ),
    h(
        108,
        "bpf_sk_storage_delete",
        HelperGroup::Networking,
        "long bpf_sk_storage_delete(struct bpf_map *map, void *sk)",
    ),
    h(
        109,
        "bpf_send_signal",
        HelperGroup::Base,
        "long bpf_send_signal(u32 sig)",
    ),
    h(
        110,
        "bpf_tcp_gen_syncookie",
        HelperGroup::Networking,
        "s64 bpf_tcp_gen_syncookie(void *sk, void *iph, u32 iph_len, struct tcphdr *th, u32 th_len)",
    ),
    h(
        111,
        "bpf_skb_output",
        HelperGroup::Networking,
        "long bpf_skb_output(void *ctx, struct bpf_map *map, u64 flags, void *data, u64 size)",
    ),
    h(
        112,
        "bpf_probe_read_user",
        HelperGroup::Base,
        "long bpf_probe_read_user(void *dst, u32 size, const void *unsafe_ptr)",
    ),
    h(
        113,
        "bpf_probe_read_kernel",
        HelperGroup::Base,
        "long bpf_probe_read_kernel(void *dst, u32 size, const void *unsafe_ptr)",
    ),
    h(
        114,
        "bpf_probe_read_user_str",
        HelperGroup::Base,
        "long bpf_probe_read_user_str(void *dst, u32 size, const void *unsafe_ptr)",
    ),
    h(
        115,
        "bpf_probe_read_kernel_str",
        HelperGroup::Base,
        "long bpf_probe_read_kernel_str(void *dst, u32 size, const void *unsafe_ptr)",
    ),
    h(
        116,
        "bpf_tcp_send_ack",
        HelperGroup::Networking,
        "long bpf_tcp_send_ack(void *tp, u32 rcv_nxt)",
    ),
    h(
        117,
        "bpf_send_signal_thread",
        HelperGroup::Base,
        "long bpf_send_signal_thread(u32 sig)",
    ),
    h(
        118,
        "bpf_jiffies64",
        HelperGroup::Base,
        "u64 bpf_jiffies64(void)",
    ),
    h(
        119,
        "bpf_read_branch_records",
        HelperGroup::Tracing,
        "long bpf_read_branch_records(struct bpf_perf_event_data *ctx, void *buf, u32 size, u64 flags)",
    ),
    h(
        120,
        "bpf_get_ns_current_pid_tgid",
        HelperGroup::Base,
        "long bpf_get_ns_current_pid_tgid(u64 dev, u64 ino, struct bpf_pidns_info *nsdata, u32 size)",
    ),
    h(
        121,
        "bpf_xdp_output",
        HelperGroup::Networking,
        "long bpf_xdp_output(void *ctx, struct bpf_map *map, u64 flags, void *data, u64 size)",
    ),
    h(
        122,
        "bpf_get_netns_cookie",
        HelperGroup::Networking,
        "u64 bpf_get_netns_cookie(void *ctx)",
    ),
    h(
        123,
        "bpf_get_current_ancestor_cgroup_id",
        HelperGroup::Base,
        "u64 bpf_get_current_ancestor_cgroup_id(int ancestor_level)",
    ),
    h(
        124,
        "bpf_sk_assign",
        HelperGroup::Networking,
        "long bpf_sk_assign(struct bpf_sk_lookup *ctx, struct bpf_sock *sk, u64 flags)",
    ),
    h(
        125,
        "bpf_ktime_get_boot_ns",
        HelperGroup::Base,
        "u64 bpf_ktime_get_boot_ns(void)",
    ),
    h(
        126,
        "bpf_seq_printf",
        HelperGroup::Tracing,
        "long bpf_seq_printf(struct seq_file *m, const char *fmt, u32 fmt_size, const void *data, u32 data_len)",
    ),
    h(
        127,
        "bpf_seq_write",
        HelperGroup::Tracing,
        "long bpf_seq_write(struct seq_file *m, const void *data, u32 len)",
    ),
    h(
        128,
        "bpf_sk_cgroup_id",
        HelperGroup::Cgroup,
        "u64 bpf_sk_cgroup_id(void *sk)",
    ),
    h(
        129,
        "bpf_sk_ancestor_cgroup_id",
        HelperGroup::Cgroup,
        "u64 bpf_sk_ancestor_cgroup_id(void *sk, int ancestor_level)",
    ),
    h(
        130,
        "bpf_ringbuf_output",
        HelperGroup::Base,
        "long bpf_ringbuf_output(void *ringbuf, void *data, u64 size, u64 flags)",
    ),
    h(
        131,
        "bpf_ringbuf_reserve",
        HelperGroup::Base,
        "void *bpf_ringbuf_reserve(void *ringbuf, u64 size, u64 flags)",
    ),
    h(
        132,
        "bpf_ringbuf_submit",
        HelperGroup::Base,
        "void bpf_ringbuf_submit(void *data, u64 flags)",
    ),
    h(
        133,
        "bpf_ringbuf_discard",
        HelperGroup::Base,
        "void bpf_ringbuf_discard(void *data, u64 flags)",
    ),
    h(
        134,
        "bpf_ringbuf_query",
        HelperGroup::Base,
        "u64 bpf_ringbuf_query(void *ringbuf, u64 flags)",
    ),
    h(
        135,
        "bpf_csum_level",
        HelperGroup::Networking,
        "long bpf_csum_level(struct sk_buff *skb, u64 level)",
    ),
    h(
        136,
        "bpf_skc_to_tcp6_sock",
        HelperGroup::Networking,
        "struct tcp6_sock *bpf_skc_to_tcp6_sock(void *sk)",
    ),
    h(
        137,
        "bpf_skc_to_tcp_sock",
        HelperGroup::Networking,
        "struct tcp_sock *bpf_skc_to_tcp_sock(void *sk)",
    ),
    h(
        138,
        "bpf_skc_to_tcp_timewait_sock",
        HelperGroup::Networking,
        "struct tcp_timewait_sock *bpf_skc_to_tcp_timewait_sock(void *sk)",
    ),
    h(
        139,
        "bpf_skc_to_tcp_request_sock",
        HelperGroup::Networking,
        "struct tcp_request_sock *bpf_skc_to_tcp_request_sock(void *sk)",
    ),
    h(
        140,
        "bpf_skc_to_udp6_sock",
        HelperGroup::Networking,
        "struct udp6_sock *bpf_skc_to_udp6_sock(void *sk)",
    ),
    h(
        141,
        "bpf_get_task_stack",
        HelperGroup::Base,
        "long bpf_get_task_stack(struct task_struct *task, void *buf, u32 size, u64 flags)",
    ),
    h(
        142,
        "bpf_load_hdr_opt",
        HelperGroup::Networking,
        "long bpf_load_hdr_opt(struct bpf_sock_ops *skops, void *searchby_res, u32 len, u64 flags)",
    ),
    h(
        143,
        "bpf_store_hdr_opt",
        HelperGroup::Networking,
        "long bpf_store_hdr_opt(struct bpf_sock_ops *skops, const void *from, u32 len, u64 flags)",
    ),
    h(
        144,
        "bpf_reserve_hdr_opt",
        HelperGroup::Networking,
        "long bpf_reserve_hdr_opt(struct bpf_sock_ops *skops, u32 len, u64 flags)",
    ),
    h(
        145,
        "bpf_inode_storage_get",
        HelperGroup::Lsm,
        "void *bpf_inode_storage_get(struct bpf_map *map, void *inode, void *value, u64 flags)",
    ),
    h(
        146,
        "bpf_inode_storage_delete",
        HelperGroup::Lsm,
        "int bpf_inode_storage_delete(struct bpf_map *map, void *inode)",
    ),
    h(
        147,
        "bpf_d_path",
        HelperGroup::Tracing,
        "long bpf_d_path(struct path *path, char *buf, u32 sz)",
    ),
    h(
        148,
        "bpf_copy_from_user",
        HelperGroup::Tracing,
        "long bpf_copy_from_user(void *dst, u32 size, const void *user_ptr)",
    ),
    h(
        149,
        "bpf_snprintf_btf",
        HelperGroup::Base,
        "long bpf_snprintf_btf(char *str, u32 str_size, struct btf_ptr *ptr, u32 btf_ptr_size, u64 flags)",
    ),
    h(
        150,
        "bpf_seq_printf_btf",
        HelperGroup::Tracing,
        "long bpf_seq_printf_btf(struct seq_file *m, struct btf_ptr *ptr, u32 ptr_size, u64 flags)",
    ),
    h(
        151,
        "bpf_skb_cgroup_classid",
        HelperGroup::Networking,
        "u64 bpf_skb_cgroup_classid(struct sk_buff *skb)",
    ),
    h(
        152,
        "bpf_redirect_neigh",
        HelperGroup::Networking,
        "long bpf_redirect_neigh(u32 ifindex, struct bpf_redir_neigh *params, int plen, u64 flags)",
    ),
    h(
        153,
        "bpf_per_cpu_ptr",
        HelperGroup::Base,
        "void *bpf_per_cpu_ptr(const void *percpu_ptr, u32 cpu)",
    ),
    h(
        154,
        "bpf_this_cpu_ptr",
        HelperGroup::Base,
        "void *bpf_this_cpu_ptr(const void *percpu_ptr)",
    ),
    h(
        155,
        "bpf_redirect_peer",
        HelperGroup::Networking,
        "long bpf_redirect_peer(u32 ifindex, u64 flags)",
    ),
    h(
        156,
        "bpf_task_storage_get",
        HelperGroup::Base,
        "void *bpf_task_storage_get(struct bpf_map *map, struct task_struct *task, void *value, u64 flags)",
    ),
    h(
        157,
        "bpf_task_storage_delete",
        HelperGroup::Base,
        "long bpf_task_storage_delete(struct bpf_map *map, struct task_struct *task)",
    ),
    h(
        158,
        "bpf_get_current_task_btf",
        HelperGroup::Base,
        "struct task_struct *bpf_get_current_task_btf(void)",
    ),
    h(
        159,
        "bpf_bprm_opts_set",
        HelperGroup::Lsm,
        "long bpf_bprm_opts_set(struct linux_binprm *bprm, u64 flags)",
    ),
    h(
        160,
        "bpf_ktime_get_coarse_ns",
        HelperGroup::Networking,
        "u64 bpf_ktime_get_coarse_ns(void)",
    ),
    h(
        161,
        "bpf_ima_inode_hash",
        HelperGroup::Lsm,
        "long bpf_ima_inode_hash(struct inode *inode, void *dst, u32 size)",
    ),
    h(
        162,
        "bpf_sock_from_file",
        HelperGroup::Networking,
        "struct socket *bpf_sock_from_file(struct file *file)",
    ),
    h(
        163,
        "bpf_check_mtu",
        HelperGroup::Networking,
        "long bpf_check_mtu(void *ctx, u32 ifindex, u32 *mtu_len, s32 len_diff, u64 flags)",
    ),
    h(
        164,
        "bpf_for_each_map_elem",
        HelperGroup::Base,
        "long bpf_for_each_map_elem(struct bpf_map *map, void *callback_fn, void *callback_ctx, u64 flags)",
    ),
    h(
        165,
        "bpf_snprintf",
        HelperGroup::Base,
        "long bpf_snprintf(char *str, u32 str_size, const char *fmt, u64 *data, u32 data_len)",
    ),
    h(
        166,
        "bpf_sys_bpf",
        HelperGroup::Syscall,
        "long bpf_sys_bpf(u32 cmd, void *attr, u32 attr_size)",
    ),
    h(
        167,
        "bpf_btf_find_by_name_kind",
        HelperGroup::Syscall,
        "long bpf_btf_find_by_name_kind(char *name, int name_sz, u32 kind, int flags)",
    ),
    h(
        168,
        "bpf_sys_close",
        HelperGroup::Syscall,
        "long bpf_sys_close(u32 fd)",
    ),
    h(
        169,
        "bpf_timer_init",
        HelperGroup::Base,
        "long bpf_timer_init(struct bpf_timer *timer, struct bpf_map *map, u64 flags)",
    ),
    h(
        170,
        "bpf_timer_set_callback",
        HelperGroup::Base,
        "long bpf_timer_set_callback(struct bpf_timer *timer, void *callback_fn)",
    ),
    h(
        171,
        "bpf_timer_start",
        HelperGroup::Base,
        "long bpf_timer_start(struct bpf_timer *timer, u64 nsecs, u64 flags)",
    ),
    h(
        172,
        "bpf_timer_cancel",
        HelperGroup::Base,
        "long bpf_timer_cancel(struct bpf_timer *timer)",
    ),
    h(
        173,
        "bpf_get_func_ip",
        HelperGroup::Tracing,
        "u64 bpf_get_func_ip(void *ctx)",
    ),
    h(
        174,
        "bpf_get_attach_cookie",
        HelperGroup::Tracing,
        "u64 bpf_get_attach_cookie(void *ctx)",
    ),
    h(
        175,
        "bpf_task_pt_regs",
        HelperGroup::Base,
        "long bpf_task_pt_regs(struct task_struct *task)",
    ),
    h(
        176,
        "bpf_get_branch_snapshot",
        HelperGroup::Base,
        "long bpf_get_branch_snapshot(void *entries, u32 size, u64 flags)",
    ),
    h(
        177,
        "bpf_trace_vprintk",
        HelperGroup::Base,
        "long bpf_trace_vprintk(const char *fmt, u32 fmt_size, const void *data, u32 data_len)",
    ),
    h(
        178,
        "bpf_skc_to_unix_sock",
        HelperGroup::Networking,
        "struct unix_sock *bpf_skc_to_unix_sock(void *sk)",
    ),
    h(
        179,
        "bpf_kallsyms_lookup_name",
        HelperGroup::Syscall,
        "long bpf_kallsyms_lookup_name(const char *name, int name_sz, int flags, u64 *res)",
    ),
    h(
        180,
        "bpf_find_vma",
        HelperGroup::Base,
        "long bpf_find_vma(struct task_struct *task, u64 addr, void *callback_fn, void *callback_ctx, u64 flags)",
    ),
    h(
        181,
        "bpf_loop",
        HelperGroup::Base,
        "long bpf_loop(u32 nr_loops, void *callback_fn, void *callback_ctx, u64 flags)",
    ),
    h(
        182,
        "bpf_strncmp",
        HelperGroup::Base,
        "long bpf_strncmp(const char *s1, u32 s1_sz, const char *s2)",
    ),
    h(
        183,
        "bpf_get_func_arg",
        HelperGroup::Tracing,
        "long bpf_get_func_arg(void *ctx, u32 n, u64 *value)",
    ),
    h(
        184,
        "bpf_get_func_ret",
        HelperGroup::Tracing,
        "long bpf_get_func_ret(void *ctx, u64 *value)",
    ),
    h(
        185,
        "bpf_get_func_arg_cnt",
        HelperGroup::Tracing,
        "long bpf_get_func_arg_cnt(void *ctx)",
    ),
    h(
        186,
        "bpf_get_retval",
        HelperGroup::Cgroup,
        "int bpf_get_retval(void)",
    ),
    h(
        187,
        "bpf_set_retval",
        HelperGroup::Cgroup,
        "int bpf_set_retval(int retval)",
    ),
    h(
        188,
        "bpf_xdp_get_buff_len",
        HelperGroup::Networking,
        "u64 bpf_xdp_get_buff_len(struct xdp_buff *xdp_md)",
    ),
    h(
        189,
        "bpf_xdp_load_bytes",
        HelperGroup::Networking,
        "long bpf_xdp_load_bytes(struct xdp_buff *xdp_md, u32 offset, void *buf, u32 len)",
    ),
    h(
        190,
        "bpf_xdp_store_bytes",
        HelperGroup::Networking,
        "long bpf_xdp_store_bytes(struct xdp_buff *xdp_md, u32 offset, void *buf, u32 len)",
    ),
    h(
        191,
        "bpf_copy_from_user_task",
        HelperGroup::Tracing,
        "long bpf_copy_from_user_task(void *dst, u32 size, const void *user_ptr, struct task_struct *tsk, u64 flags)",
    ),
    h(
        192,
        "bpf_skb_set_tstamp",
        HelperGroup::Networking,
        "long bpf_skb_set_tstamp(struct sk_buff *skb, u64 tstamp, u32 tstamp_type)",
    ),
    h(
        193,
        "bpf_ima_file_hash",
        HelperGroup::Lsm,
        "long bpf_ima_file_hash(struct file *file, void *dst, u32 size)",
    ),
    h(
        194,
        "bpf_kptr_xchg",
        HelperGroup::Base,
        "void *bpf_kptr_xchg(void *map_value, void *ptr)",
    ),
    h(
        195,
        "bpf_map_lookup_percpu_elem",
        HelperGroup::Base,
        "void *bpf_map_lookup_percpu_elem(struct bpf_map *map, const void *key, u32 cpu)",
    ),
    h(
        196,
        "bpf_skc_to_mptcp_sock",
        HelperGroup::Networking,
        "struct mptcp_sock *bpf_skc_to_mptcp_sock(void *sk)",
    ),
    h(
        197,
        "bpf_dynptr_from_mem",
        HelperGroup::Base,
        "long bpf_dynptr_from_mem(void *data, u32 size, u64 flags, struct bpf_dynptr *ptr)",
    ),
    h(
        198,
        "bpf_ringbuf_reserve_dynptr",
        HelperGroup::Base,
        "long bpf_ringbuf_reserve_dynptr(void *ringbuf, u32 size, u64 flags, struct bpf_dynptr *ptr)",
    ),
    h(
        199,
        "bpf_ringbuf_submit_dynptr",
        HelperGroup::Base,
        "void bpf_ringbuf_submit_dynptr(struct bpf_dynptr *ptr, u64 flags)",
    ),
    h(
        200,
        "bpf_ringbuf_discard_dynptr",
        HelperGroup::Base,
        "void bpf_ringbuf_discard_dynptr(struct bpf_dynptr *ptr, u64 flags)",
    ),
    h(
        201,
        "bpf_dynptr_read",
        HelperGroup::Base,
        "long bpf_dynptr_read(void *dst, u32 len, struct bpf_dynptr *src, u32 offset, u64 flags)",
    ),
    h(
        202,
        "bpf_dynptr_write",
        HelperGroup::Base,
        "long bpf_dynptr_write(struct bpf_dynptr *dst, u32 offset, void *src, u32 len, u64 flags)",
    ),
    h(
        203,
        "bpf_dynptr_data",
        HelperGroup::Base,
        "void *bpf_dynptr_data(struct bpf_dynptr *ptr, u32 offset, u32 len)",
    ),
    h(
        204,
        "bpf_tcp_raw_gen_syncookie_ipv4",
        HelperGroup::Networking,
        "s64 bpf_tcp_raw_gen_syncookie_ipv4(struct iphdr *iph, struct tcphdr *th, u32 th_len)",
    ),
    h(
        205,
        "bpf_tcp_raw_gen_syncookie_ipv6",
        HelperGroup::Networking,
        "s64 bpf_tcp_raw_gen_syncookie_ipv6(struct ipv6hdr *iph, struct tcphdr *th, u32 th_len)",
    ),
    h(
        206,
        "bpf_tcp_raw_check_syncookie_ipv4",
        HelperGroup::Networking,
        "long bpf_tcp_raw_check_syncookie_ipv4(struct iphdr *iph, struct tcphdr *th)",
    ),
    h(
        207,
        "bpf_tcp_raw_check_syncookie_ipv6",
        HelperGroup::Networking,
        "long bpf_tcp_raw_check_syncookie_ipv6(struct ipv6hdr *iph, struct tcphdr *th)",
    ),
    h(
        208,
        "bpf_ktime_get_tai_ns",
        HelperGroup::Base,
        "u64 bpf_ktime_get_tai_ns(void)",
    ),
    h(
        209,
        "bpf_user_ringbuf_drain",
        HelperGroup::Base,
        "long bpf_user_ringbuf_drain(struct bpf_map *map, void *callback_fn, void *ctx, u64 flags)",
    ),
    h(
        210,
        "bpf_cgrp_storage_get",
        HelperGroup::Base,
        "void *bpf_cgrp_storage_get(struct bpf_map *map, struct cgroup *cgroup, void *value, u64 flags)",
    ),
    h(
        211,
        "bpf_cgrp_storage_delete",
        HelperGroup::Base,
        "long bpf_cgrp_storage_delete(struct bpf_map *map, struct cgroup *cgroup)",
    ),
];

/// Highest helper id in the table.
pub const MAX_ID: u32 = 211;

/// The helper with this id, if the table has it.
pub fn helper_by_id(id: u32) -> Option<&'static HelperInfo> {
    let i = usize::try_from(id.checked_sub(1)?).ok()?;
    HELPERS.get(i)
}

/// The helper with this name, given with or without the `bpf_` prefix.
pub fn helper_by_name(name: &str) -> Option<&'static HelperInfo> {
    let short = name.strip_prefix("bpf_").unwrap_or(name);
    HELPERS.iter().find(|h| h.short_name() == short)
}

/// `bpf_map_lookup_elem` (helper id 1).
pub const MAP_LOOKUP_ELEM: u32 = 1;
/// `bpf_map_update_elem` (helper id 2).
pub const MAP_UPDATE_ELEM: u32 = 2;
/// `bpf_map_delete_elem` (helper id 3).
pub const MAP_DELETE_ELEM: u32 = 3;
/// `bpf_probe_read` (helper id 4).
pub const PROBE_READ: u32 = 4;
/// `bpf_ktime_get_ns` (helper id 5).
pub const KTIME_GET_NS: u32 = 5;
/// `bpf_trace_printk` (helper id 6).
pub const TRACE_PRINTK: u32 = 6;
/// `bpf_get_prandom_u32` (helper id 7).
pub const GET_PRANDOM_U32: u32 = 7;
/// `bpf_get_smp_processor_id` (helper id 8).
pub const GET_SMP_PROCESSOR_ID: u32 = 8;
/// `bpf_skb_store_bytes` (helper id 9).
pub const SKB_STORE_BYTES: u32 = 9;
/// `bpf_l3_csum_replace` (helper id 10).
pub const L3_CSUM_REPLACE: u32 = 10;
/// `bpf_l4_csum_replace` (helper id 11).
pub const L4_CSUM_REPLACE: u32 = 11;
/// `bpf_tail_call` (helper id 12).
pub const TAIL_CALL: u32 = 12;
/// `bpf_clone_redirect` (helper id 13).
pub const CLONE_REDIRECT: u32 = 13;
/// `bpf_get_current_pid_tgid` (helper id 14).
pub const GET_CURRENT_PID_TGID: u32 = 14;
/// `bpf_get_current_uid_gid` (helper id 15).
pub const GET_CURRENT_UID_GID: u32 = 15;
/// `bpf_get_current_comm` (helper id 16).
pub const GET_CURRENT_COMM: u32 = 16;
/// `bpf_get_cgroup_classid` (helper id 17).
pub const GET_CGROUP_CLASSID: u32 = 17;
/// `bpf_skb_vlan_push` (helper id 18).
pub const SKB_VLAN_PUSH: u32 = 18;
/// `bpf_skb_vlan_pop` (helper id 19).
pub const SKB_VLAN_POP: u32 = 19;
/// `bpf_skb_get_tunnel_key` (helper id 20).
pub const SKB_GET_TUNNEL_KEY: u32 = 20;
/// `bpf_skb_set_tunnel_key` (helper id 21).
pub const SKB_SET_TUNNEL_KEY: u32 = 21;
/// `bpf_perf_event_read` (helper id 22).
pub const PERF_EVENT_READ: u32 = 22;
/// `bpf_redirect` (helper id 23).
pub const REDIRECT: u32 = 23;
/// `bpf_get_route_realm` (helper id 24).
pub const GET_ROUTE_REALM: u32 = 24;
/// `bpf_perf_event_output` (helper id 25).
pub const PERF_EVENT_OUTPUT: u32 = 25;
/// `bpf_skb_load_bytes` (helper id 26).
pub const SKB_LOAD_BYTES: u32 = 26;
/// `bpf_get_stackid` (helper id 27).
pub const GET_STACKID: u32 = 27;
/// `bpf_csum_diff` (helper id 28).
pub const CSUM_DIFF: u32 = 28;
/// `bpf_skb_get_tunnel_opt` (helper id 29).
pub const SKB_GET_TUNNEL_OPT: u32 = 29;
/// `bpf_skb_set_tunnel_opt` (helper id 30).
pub const SKB_SET_TUNNEL_OPT: u32 = 30;
/// `bpf_skb_change_proto` (helper id 31).
pub const SKB_CHANGE_PROTO: u32 = 31;
/// `bpf_skb_change_type` (helper id 32).
pub const SKB_CHANGE_TYPE: u32 = 32;
/// `bpf_skb_under_cgroup` (helper id 33).
pub const SKB_UNDER_CGROUP: u32 = 33;
/// `bpf_get_hash_recalc` (helper id 34).
pub const GET_HASH_RECALC: u32 = 34;
/// `bpf_get_current_task` (helper id 35).
pub const GET_CURRENT_TASK: u32 = 35;
/// `bpf_probe_write_user` (helper id 36).
pub const PROBE_WRITE_USER: u32 = 36;
/// `bpf_current_task_under_cgroup` (helper id 37).
pub const CURRENT_TASK_UNDER_CGROUP: u32 = 37;
/// `bpf_skb_change_tail` (helper id 38).
pub const SKB_CHANGE_TAIL: u32 = 38;
/// `bpf_skb_pull_data` (helper id 39).
pub const SKB_PULL_DATA: u32 = 39;
/// `bpf_csum_update` (helper id 40).
pub const CSUM_UPDATE: u32 = 40;
/// `bpf_set_hash_invalid` (helper id 41).
pub const SET_HASH_INVALID: u32 = 41;
/// `bpf_get_numa_node_id` (helper id 42).
pub const GET_NUMA_NODE_ID: u32 = 42;
/// `bpf_skb_change_head` (helper id 43).
pub const SKB_CHANGE_HEAD: u32 = 43;
/// `bpf_xdp_adjust_head` (helper id 44).
pub const XDP_ADJUST_HEAD: u32 = 44;
/// `bpf_probe_read_str` (helper id 45).
pub const PROBE_READ_STR: u32 = 45;
/// `bpf_get_socket_cookie` (helper id 46).
pub const GET_SOCKET_COOKIE: u32 = 46;
/// `bpf_get_socket_uid` (helper id 47).
pub const GET_SOCKET_UID: u32 = 47;
/// `bpf_set_hash` (helper id 48).
pub const SET_HASH: u32 = 48;
/// `bpf_setsockopt` (helper id 49).
pub const SETSOCKOPT: u32 = 49;
/// `bpf_skb_adjust_room` (helper id 50).
pub const SKB_ADJUST_ROOM: u32 = 50;
/// `bpf_redirect_map` (helper id 51).
pub const REDIRECT_MAP: u32 = 51;
/// `bpf_sk_redirect_map` (helper id 52).
pub const SK_REDIRECT_MAP: u32 = 52;
/// `bpf_sock_map_update` (helper id 53).
pub const SOCK_MAP_UPDATE: u32 = 53;
/// `bpf_xdp_adjust_meta` (helper id 54).
pub const XDP_ADJUST_META: u32 = 54;
/// `bpf_perf_event_read_value` (helper id 55).
pub const PERF_EVENT_READ_VALUE: u32 = 55;
/// `bpf_perf_prog_read_value` (helper id 56).
pub const PERF_PROG_READ_VALUE: u32 = 56;
/// `bpf_getsockopt` (helper id 57).
pub const GETSOCKOPT: u32 = 57;
/// `bpf_override_return` (helper id 58).
pub const OVERRIDE_RETURN: u32 = 58;
/// `bpf_sock_ops_cb_flags_set` (helper id 59).
pub const SOCK_OPS_CB_FLAGS_SET: u32 = 59;
/// `bpf_msg_redirect_map` (helper id 60).
pub const MSG_REDIRECT_MAP: u32 = 60;
/// `bpf_msg_apply_bytes` (helper id 61).
pub const MSG_APPLY_BYTES: u32 = 61;
/// `bpf_msg_cork_bytes` (helper id 62).
pub const MSG_CORK_BYTES: u32 = 62;
/// `bpf_msg_pull_data` (helper id 63).
pub const MSG_PULL_DATA: u32 = 63;
/// `bpf_bind` (helper id 64).
pub const BIND: u32 = 64;
/// `bpf_xdp_adjust_tail` (helper id 65).
pub const XDP_ADJUST_TAIL: u32 = 65;
/// `bpf_skb_get_xfrm_state` (helper id 66).
pub const SKB_GET_XFRM_STATE: u32 = 66;
/// `bpf_get_stack` (helper id 67).
pub const GET_STACK: u32 = 67;
/// `bpf_skb_load_bytes_relative` (helper id 68).
pub const SKB_LOAD_BYTES_RELATIVE: u32 = 68;
/// `bpf_fib_lookup` (helper id 69).
pub const FIB_LOOKUP: u32 = 69;
/// `bpf_sock_hash_update` (helper id 70).
pub const SOCK_HASH_UPDATE: u32 = 70;
/// `bpf_msg_redirect_hash` (helper id 71).
pub const MSG_REDIRECT_HASH: u32 = 71;
/// `bpf_sk_redirect_hash` (helper id 72).
pub const SK_REDIRECT_HASH: u32 = 72;
/// `bpf_lwt_push_encap` (helper id 73).
pub const LWT_PUSH_ENCAP: u32 = 73;
/// `bpf_lwt_seg6_store_bytes` (helper id 74).
pub const LWT_SEG6_STORE_BYTES: u32 = 74;
/// `bpf_lwt_seg6_adjust_srh` (helper id 75).
pub const LWT_SEG6_ADJUST_SRH: u32 = 75;
/// `bpf_lwt_seg6_action` (helper id 76).
pub const LWT_SEG6_ACTION: u32 = 76;
/// `bpf_rc_repeat` (helper id 77).
pub const RC_REPEAT: u32 = 77;
/// `bpf_rc_keydown` (helper id 78).
pub const RC_KEYDOWN: u32 = 78;
/// `bpf_skb_cgroup_id` (helper id 79).
pub const SKB_CGROUP_ID: u32 = 79;
/// `bpf_get_current_cgroup_id` (helper id 80).
pub const GET_CURRENT_CGROUP_ID: u32 = 80;
/// `bpf_get_local_storage` (helper id 81).
pub const GET_LOCAL_STORAGE: u32 = 81;
/// `bpf_sk_select_reuseport` (helper id 82).
pub const SK_SELECT_REUSEPORT: u32 = 82;
/// `bpf_skb_ancestor_cgroup_id` (helper id 83).
pub const SKB_ANCESTOR_CGROUP_ID: u32 = 83;
/// `bpf_sk_lookup_tcp` (helper id 84).
pub const SK_LOOKUP_TCP: u32 = 84;
/// `bpf_sk_lookup_udp` (helper id 85).
pub const SK_LOOKUP_UDP: u32 = 85;
/// `bpf_sk_release` (helper id 86).
pub const SK_RELEASE: u32 = 86;
/// `bpf_map_push_elem` (helper id 87).
pub const MAP_PUSH_ELEM: u32 = 87;
/// `bpf_map_pop_elem` (helper id 88).
pub const MAP_POP_ELEM: u32 = 88;
/// `bpf_map_peek_elem` (helper id 89).
pub const MAP_PEEK_ELEM: u32 = 89;
/// `bpf_msg_push_data` (helper id 90).
pub const MSG_PUSH_DATA: u32 = 90;
/// `bpf_msg_pop_data` (helper id 91).
pub const MSG_POP_DATA: u32 = 91;
/// `bpf_rc_pointer_rel` (helper id 92).
pub const RC_POINTER_REL: u32 = 92;
/// `bpf_spin_lock` (helper id 93).
pub const SPIN_LOCK: u32 = 93;
/// `bpf_spin_unlock` (helper id 94).
pub const SPIN_UNLOCK: u32 = 94;
/// `bpf_sk_fullsock` (helper id 95).
pub const SK_FULLSOCK: u32 = 95;
/// `bpf_tcp_sock` (helper id 96).
pub const TCP_SOCK: u32 = 96;
/// `bpf_skb_ecn_set_ce` (helper id 97).
pub const SKB_ECN_SET_CE: u32 = 97;
/// `bpf_get_listener_sock` (helper id 98).
pub const GET_LISTENER_SOCK: u32 = 98;
/// `bpf_skc_lookup_tcp` (helper id 99).
pub const SKC_LOOKUP_TCP: u32 = 99;
/// `bpf_tcp_check_syncookie` (helper id 100).
pub const TCP_CHECK_SYNCOOKIE: u32 = 100;
/// `bpf_sysctl_get_name` (helper id 101).
pub const SYSCTL_GET_NAME: u32 = 101;
/// `bpf_sysctl_get_current_value` (helper id 102).
pub const SYSCTL_GET_CURRENT_VALUE: u32 = 102;
/// `bpf_sysctl_get_new_value` (helper id 103).
pub const SYSCTL_GET_NEW_VALUE: u32 = 103;
/// `bpf_sysctl_set_new_value` (helper id 104).
pub const SYSCTL_SET_NEW_VALUE: u32 = 104;
/// `bpf_strtol` (helper id 105).
pub const STRTOL: u32 = 105;
/// `bpf_strtoul` (helper id 106).
pub const STRTOUL: u32 = 106;
/// `bpf_sk_storage_get` (helper id 107).
pub const SK_STORAGE_GET: u32 = 107;
/// `bpf_sk_storage_delete` (helper id 108).
pub const SK_STORAGE_DELETE: u32 = 108;
/// `bpf_send_signal` (helper id 109).
pub const SEND_SIGNAL: u32 = 109;
/// `bpf_tcp_gen_syncookie` (helper id 110).
pub const TCP_GEN_SYNCOOKIE: u32 = 110;
/// `bpf_skb_output` (helper id 111).
pub const SKB_OUTPUT: u32 = 111;
/// `bpf_probe_read_user` (helper id 112).
pub const PROBE_READ_USER: u32 = 112;
/// `bpf_probe_read_kernel` (helper id 113).
pub const PROBE_READ_KERNEL: u32 = 113;
/// `bpf_probe_read_user_str` (helper id 114).
pub const PROBE_READ_USER_STR: u32 = 114;
/// `bpf_probe_read_kernel_str` (helper id 115).
pub const PROBE_READ_KERNEL_STR: u32 = 115;
/// `bpf_tcp_send_ack` (helper id 116).
pub const TCP_SEND_ACK: u32 = 116;
/// `bpf_send_signal_thread` (helper id 117).
pub const SEND_SIGNAL_THREAD: u32 = 117;
/// `bpf_jiffies64` (helper id 118).
pub const JIFFIES64: u32 = 118;
/// `bpf_read_branch_records` (helper id 119).
pub const READ_BRANCH_RECORDS: u32 = 119;
/// `bpf_get_ns_current_pid_tgid` (helper id 120).
pub const GET_NS_CURRENT_PID_TGID: u32 = 120;
/// `bpf_xdp_output` (helper id 121).
pub const XDP_OUTPUT: u32 = 121;
/// `bpf_get_netns_cookie` (helper id 122).
pub const GET_NETNS_COOKIE: u32 = 122;
/// `bpf_get_current_ancestor_cgroup_id` (helper id 123).
pub const GET_CURRENT_ANCESTOR_CGROUP_ID: u32 = 123;
/// `bpf_sk_assign` (helper id 124).
pub const SK_ASSIGN: u32 = 124;
/// `bpf_ktime_get_boot_ns` (helper id 125).
pub const KTIME_GET_BOOT_NS: u32 = 125;
/// `bpf_seq_printf` (helper id 126).
pub const SEQ_PRINTF: u32 = 126;
/// `bpf_seq_write` (helper id 127).
pub const SEQ_WRITE: u32 = 127;
/// `bpf_sk_cgroup_id` (helper id 128).
pub const SK_CGROUP_ID: u32 = 128;
/// `bpf_sk_ancestor_cgroup_id` (helper id 129).
pub const SK_ANCESTOR_CGROUP_ID: u32 = 129;
/// `bpf_ringbuf_output` (helper id 130).
pub const RINGBUF_OUTPUT: u32 = 130;
/// `bpf_ringbuf_reserve` (helper id 131).
pub const RINGBUF_RESERVE: u32 = 131;
/// `bpf_ringbuf_submit` (helper id 132).
pub const RINGBUF_SUBMIT: u32 = 132;
/// `bpf_ringbuf_discard` (helper id 133).
pub const RINGBUF_DISCARD: u32 = 133;
/// `bpf_ringbuf_query` (helper id 134).
pub const RINGBUF_QUERY: u32 = 134;
/// `bpf_csum_level` (helper id 135).
pub const CSUM_LEVEL: u32 = 135;
/// `bpf_skc_to_tcp6_sock` (helper id 136).
pub const SKC_TO_TCP6_SOCK: u32 = 136;
/// `bpf_skc_to_tcp_sock` (helper id 137).
pub const SKC_TO_TCP_SOCK: u32 = 137;
/// `bpf_skc_to_tcp_timewait_sock` (helper id 138).
pub const SKC_TO_TCP_TIMEWAIT_SOCK: u32 = 138;
/// `bpf_skc_to_tcp_request_sock` (helper id 139).
pub const SKC_TO_TCP_REQUEST_SOCK: u32 = 139;
/// `bpf_skc_to_udp6_sock` (helper id 140).
pub const SKC_TO_UDP6_SOCK: u32 = 140;
/// `bpf_get_task_stack` (helper id 141).
pub const GET_TASK_STACK: u32 = 141;
/// `bpf_load_hdr_opt` (helper id 142).
pub const LOAD_HDR_OPT: u32 = 142;
/// `bpf_store_hdr_opt` (helper id 143).
pub const STORE_HDR_OPT: u32 = 143;
/// `bpf_reserve_hdr_opt` (helper id 144).
pub const RESERVE_HDR_OPT: u32 = 144;
/// `bpf_inode_storage_get` (helper id 145).
pub const INODE_STORAGE_GET: u32 = 145;
/// `bpf_inode_storage_delete` (helper id 146).
pub const INODE_STORAGE_DELETE: u32 = 146;
/// `bpf_d_path` (helper id 147).
pub const D_PATH: u32 = 147;
/// `bpf_copy_from_user` (helper id 148).
pub const COPY_FROM_USER: u32 = 148;
/// `bpf_snprintf_btf` (helper id 149).
pub const SNPRINTF_BTF: u32 = 149;
/// `bpf_seq_printf_btf` (helper id 150).
pub const SEQ_PRINTF_BTF: u32 = 150;
/// `bpf_skb_cgroup_classid` (helper id 151).
pub const SKB_CGROUP_CLASSID: u32 = 151;
/// `bpf_redirect_neigh` (helper id 152).
pub const REDIRECT_NEIGH: u32 = 152;
/// `bpf_per_cpu_ptr` (helper id 153).
pub const PER_CPU_PTR: u32 = 153;
/// `bpf_this_cpu_ptr` (helper id 154).
pub const THIS_CPU_PTR: u32 = 154;
/// `bpf_redirect_peer` (helper id 155).
pub const REDIRECT_PEER: u32 = 155;
/// `bpf_task_storage_get` (helper id 156).
pub const TASK_STORAGE_GET: u32 = 156;
/// `bpf_task_storage_delete` (helper id 157).
pub const TASK_STORAGE_DELETE: u32 = 157;
/// `bpf_get_current_task_btf` (helper id 158).
pub const GET_CURRENT_TASK_BTF: u32 = 158;
/// `bpf_bprm_opts_set` (helper id 159).
pub const BPRM_OPTS_SET: u32 = 159;
/// `bpf_ktime_get_coarse_ns` (helper id 160).
pub const KTIME_GET_COARSE_NS: u32 = 160;
/// `bpf_ima_inode_hash` (helper id 161).
pub const IMA_INODE_HASH: u32 = 161;
/// `bpf_sock_from_file` (helper id 162).
pub const SOCK_FROM_FILE: u32 = 162;
/// `bpf_check_mtu` (helper id 163).
pub const CHECK_MTU: u32 = 163;
/// `bpf_for_each_map_elem` (helper id 164).
pub const FOR_EACH_MAP_ELEM: u32 = 164;
/// `bpf_snprintf` (helper id 165).
pub const SNPRINTF: u32 = 165;
/// `bpf_sys_bpf` (helper id 166).
pub const SYS_BPF: u32 = 166;
/// `bpf_btf_find_by_name_kind` (helper id 167).
pub const BTF_FIND_BY_NAME_KIND: u32 = 167;
/// `bpf_sys_close` (helper id 168).
pub const SYS_CLOSE: u32 = 168;
/// `bpf_timer_init` (helper id 169).
pub const TIMER_INIT: u32 = 169;
/// `bpf_timer_set_callback` (helper id 170).
pub const TIMER_SET_CALLBACK: u32 = 170;
/// `bpf_timer_start` (helper id 171).
pub const TIMER_START: u32 = 171;
/// `bpf_timer_cancel` (helper id 172).
pub const TIMER_CANCEL: u32 = 172;
/// `bpf_get_func_ip` (helper id 173).
pub const GET_FUNC_IP: u32 = 173;
/// `bpf_get_attach_cookie` (helper id 174).
pub const GET_ATTACH_COOKIE: u32 = 174;
/// `bpf_task_pt_regs` (helper id 175).
pub const TASK_PT_REGS: u32 = 175;
/// `bpf_get_branch_snapshot` (helper id 176).
pub const GET_BRANCH_SNAPSHOT: u32 = 176;
/// `bpf_trace_vprintk` (helper id 177).
pub const TRACE_VPRINTK: u32 = 177;
/// `bpf_skc_to_unix_sock` (helper id 178).
pub const SKC_TO_UNIX_SOCK: u32 = 178;
/// `bpf_kallsyms_lookup_name` (helper id 179).
pub const KALLSYMS_LOOKUP_NAME: u32 = 179;
/// `bpf_find_vma` (helper id 180).
pub const FIND_VMA: u32 = 180;
/// `bpf_loop` (helper id 181).
pub const LOOP: u32 = 181;
/// `bpf_strncmp` (helper id 182).
pub const STRNCMP: u32 = 182;
/// `bpf_get_func_arg` (helper id 183).
pub const GET_FUNC_ARG: u32 = 183;
/// `bpf_get_func_ret` (helper id 184).
pub const GET_FUNC_RET: u32 = 184;
/// `bpf_get_func_arg_cnt` (helper id 185).
pub const GET_FUNC_ARG_CNT: u32 = 185;
/// `bpf_get_retval` (helper id 186).
pub const GET_RETVAL: u32 = 186;
/// `bpf_set_retval` (helper id 187).
pub const SET_RETVAL: u32 = 187;
/// `bpf_xdp_get_buff_len` (helper id 188).
pub const XDP_GET_BUFF_LEN: u32 = 188;
/// `bpf_xdp_load_bytes` (helper id 189).
pub const XDP_LOAD_BYTES: u32 = 189;
/// `bpf_xdp_store_bytes` (helper id 190).
pub const XDP_STORE_BYTES: u32 = 190;
/// `bpf_copy_from_user_task` (helper id 191).
pub const COPY_FROM_USER_TASK: u32 = 191;
/// `bpf_skb_set_tstamp` (helper id 192).
pub const SKB_SET_TSTAMP: u32 = 192;
/// `bpf_ima_file_hash` (helper id 193).
pub const IMA_FILE_HASH: u32 = 193;
/// `bpf_kptr_xchg` (helper id 194).
pub const KPTR_XCHG: u32 = 194;
/// `bpf_map_lookup_percpu_elem` (helper id 195).
pub const MAP_LOOKUP_PERCPU_ELEM: u32 = 195;
/// `bpf_skc_to_mptcp_sock` (helper id 196).
pub const SKC_TO_MPTCP_SOCK: u32 = 196;
/// `bpf_dynptr_from_mem` (helper id 197).
pub const DYNPTR_FROM_MEM: u32 = 197;
/// `bpf_ringbuf_reserve_dynptr` (helper id 198).
pub const RINGBUF_RESERVE_DYNPTR: u32 = 198;
/// `bpf_ringbuf_submit_dynptr` (helper id 199).
pub const RINGBUF_SUBMIT_DYNPTR: u32 = 199;
/// `bpf_ringbuf_discard_dynptr` (helper id 200).
pub const RINGBUF_DISCARD_DYNPTR: u32 = 200;
/// `bpf_dynptr_read` (helper id 201).
pub const DYNPTR_READ: u32 = 201;
/// `bpf_dynptr_write` (helper id 202).
pub const DYNPTR_WRITE: u32 = 202;
/// `bpf_dynptr_data` (helper id 203).
pub const DYNPTR_DATA: u32 = 203;
/// `bpf_tcp_raw_gen_syncookie_ipv4` (helper id 204).
pub const TCP_RAW_GEN_SYNCOOKIE_IPV4: u32 = 204;
/// `bpf_tcp_raw_gen_syncookie_ipv6` (helper id 205).
pub const TCP_RAW_GEN_SYNCOOKIE_IPV6: u32 = 205;
/// `bpf_tcp_raw_check_syncookie_ipv4` (helper id 206).
pub const TCP_RAW_CHECK_SYNCOOKIE_IPV4: u32 = 206;
/// `bpf_tcp_raw_check_syncookie_ipv6` (helper id 207).
pub const TCP_RAW_CHECK_SYNCOOKIE_IPV6: u32 = 207;
/// `bpf_ktime_get_tai_ns` (helper id 208).
pub const KTIME_GET_TAI_NS: u32 = 208;
/// `bpf_user_ringbuf_drain` (helper id 209).
pub const USER_RINGBUF_DRAIN: u32 = 209;
/// `bpf_cgrp_storage_get` (helper id 210).
pub const CGRP_STORAGE_GET: u32 = 210;
/// `bpf_cgrp_storage_delete` (helper id 211).
pub const CGRP_STORAGE_DELETE: u32 = 211;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_dense_and_ordered() {
        assert_eq!(HELPERS.len() as u32, MAX_ID);
        for (i, h) in HELPERS.iter().enumerate() {
            assert_eq!(h.id as usize, i + 1, "{}", h.name);
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(helper_by_id(1).unwrap().name, "bpf_map_lookup_elem");
        assert_eq!(helper_by_id(6).unwrap().name, "bpf_trace_printk");
        assert_eq!(helper_by_id(130).unwrap().name, "bpf_ringbuf_output");
        assert_eq!(helper_by_id(211).unwrap().name, "bpf_cgrp_storage_delete");
        assert!(helper_by_id(0).is_none());
        assert!(helper_by_id(212).is_none());
        assert_eq!(helper_by_name("bpf_get_current_pid_tgid").unwrap().id, 14);
        assert_eq!(helper_by_name("ktime_get_ns").unwrap().id, KTIME_GET_NS);
        assert!(helper_by_name("bpf_nope").is_none());
        assert_eq!(RINGBUF_OUTPUT, 130);
        assert_eq!(TRACE_PRINTK, 6);
    }

    #[test]
    fn prototypes() {
        let lookup = helper_by_id(MAP_LOOKUP_ELEM).unwrap();
        assert_eq!(lookup.return_type(), "void *");
        assert_eq!(lookup.params(), ["struct bpf_map *map", "const void *key"]);
        let t = helper_by_id(KTIME_GET_NS).unwrap();
        assert_eq!((t.return_type(), t.params().len()), ("u64", 0));
        let p = helper_by_id(TRACE_PRINTK).unwrap();
        assert_eq!(p.params(), ["const char *fmt", "u32 fmt_size", "..."]);
        for h in HELPERS {
            assert!(h.proto.contains(&format!("{}(", h.name)), "{}", h.proto);
            assert!(h.params().len() <= 5, "{}", h.proto);
            assert!(!h.return_type().is_empty(), "{}", h.proto);
        }
    }

    #[test]
    fn groups_are_coarse() {
        let lookup = helper_by_name("map_lookup_elem").unwrap();
        assert!(lookup.group.approx_allowed(6));
        assert!(lookup.group.approx_allowed(5));
        let pid = helper_by_name("get_current_pid_tgid").unwrap();
        assert_eq!(pid.group, HelperGroup::Base);
        assert!(pid.group.approx_allowed(1));
        let stack = helper_by_name("get_stack").unwrap();
        assert_eq!(stack.group, HelperGroup::Tracing);
        assert!(stack.group.approx_allowed(5));
        assert!(!stack.group.approx_allowed(6));
        let redirect = helper_by_name("redirect").unwrap();
        assert!(redirect.group.approx_allowed(6));
        assert!(!redirect.group.approx_allowed(5));
    }
}
