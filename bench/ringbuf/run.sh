#!/bin/sh
# Ring buffer benchmark: records per second consumed from a BPF ring buffer, ours
# (bpfkit::RingBuf, crates/bpfkit/examples/ringbuf_bench.rs) against libbpf's
# ring_buffer__consume (peer.c against Debian's libbpf-dev), in the same run.
#
# Each drain first fills the ring (64 MiB: 4,194,303 8-byte records, 16 bytes each with the
# header) by running the producer, ringbuf.bpf.c, through BPF_PROG_TEST_RUN with repeat, then
# times one consume call draining all of them; both consumers sum the sequence numbers and
# check the total. Rounds alternate between the two sides, each round a fresh process doing 5
# fill-and-drain cycles; the best drain of each side gives the ratio (medians are printed
# too), which keeps noise from other load on the machine out of it. bpfkit's side builds the
# producer's instructions with its Builder (its ELF loader is not wired up yet); libbpf's side
# loads the clang-built object.
#
# Usage: bench/ringbuf/run.sh [rounds, default 6] [ring size in MiB, default 64]
# (a 64 MiB ring streams from DRAM; a 4 MiB one stays in cache and shows the consumers' own cost)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=${1:-6}
mib=${2:-64}
records=$((mib * 65536 - 1))
out=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$out/bench"

clang -O2 -g -target bpf -I/usr/include/$(uname -m)-linux-gnu -c "$here/ringbuf.bpf.c" -o "$out/bench/ringbuf.bpf.o"
cc -O2 -Wall -o "$out/bench/ringbuf_peer" "$here/peer.c" -lbpf
cargo build --quiet --release -p bpfkit --example ringbuf_bench --manifest-path "$root/Cargo.toml"
ours="$out/release/examples/ringbuf_bench"
peer="$out/bench/ringbuf_peer"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
	# Several drains per process: the first also pays for faulting the ring's pages in.
	lines=$("$ours" 5 "$mib") || { echo "bpfkit side failed" >&2; exit 1; }
	echo "$lines" | sed 's/^/ours /' >>"$results"
	lines=$("$peer" "$out/bench/ringbuf.bpf.o" 5 "$mib") || { echo "libbpf side failed" >&2; exit 1; }
	echo "$lines" | sed 's/^/peer /' >>"$results"
	i=$((i + 1))
done

echo "ring buffer consume, $mib MiB ring, $records records of 8 bytes per drain, best of $rounds x 5 drains"
sort -k1,1 -k4,4n "$results" | awk '
	{ v[$1, ++n[$1]] = $4 }
	END {
		for (s = 0; s < 2; s++) {
			side = s ? "peer" : "ours"
			best[side] = v[side, n[side]]
			med[side] = v[side, int((n[side] + 1) / 2)]
		}
		printf "ours %12.0f records/s (median %.0f)\n", best["ours"], med["ours"]
		printf "peer %12.0f records/s (median %.0f, libbpf ring_buffer__consume)\n", best["peer"], med["peer"]
		printf "median ours / peer = %.3f\n", med["ours"] / med["peer"]
		printf "ours / peer = %.3f (target >= 1.0)\n", best["ours"] / best["peer"]
	}'
