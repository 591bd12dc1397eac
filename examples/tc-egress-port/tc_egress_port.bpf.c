// SPDX-License-Identifier: GPL-2.0
// TC egress: drop TCP/UDP packets to `drop_port`, set skb->mark on those to `mark_port`.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

/* Set by the user program before load (0: off). */
const volatile __u16 drop_port = 0;
const volatile __u16 mark_port = 0;
const volatile __u32 mark_value = 0x2a;

/* [0] packets dropped, [1] packets marked. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} verdicts SEC(".maps");

static __always_inline void bump(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&verdicts, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tc")
int tc_egress_port(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u16 dport;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (void *)ip + ip->ihl * 4;

		if ((void *)(udp + 1) > end)
			return TC_ACT_OK;
		dport = bpf_ntohs(udp->dest);
	} else if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)ip + ip->ihl * 4;

		if ((void *)(tcp + 1) > end)
			return TC_ACT_OK;
		dport = bpf_ntohs(tcp->dest);
	} else {
		return TC_ACT_OK;
	}
	if (drop_port && dport == drop_port) {
		bump(0);
		return TC_ACT_SHOT;
	}
	if (mark_port && dport == mark_port) {
		skb->mark = mark_value;
		bump(1);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
