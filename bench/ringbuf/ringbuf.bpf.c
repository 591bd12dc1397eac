// The ring buffer benchmark's producer: each run sends the next sequence number as an 8-byte
// record and advances the number only when the record was accepted, so the ring holds
// 0, 1, 2, ... with no gaps. bpfkit's side builds the same instructions with its Builder
// (crates/bpfkit/examples/ringbuf_bench.rs); libbpf's side loads this object.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20);
} rb SEC(".maps");

__u64 seq = 0;

SEC("socket")
int produce(struct __sk_buff *skb)
{
	__u64 v = seq;

	if (bpf_ringbuf_output(&rb, &v, sizeof(v), 0) == 0)
		seq = v + 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
