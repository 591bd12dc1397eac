#!/bin/sh
# Loader benchmark: open + load + attach + detach of the execsnoop object
# (examples/execsnoop/execsnoop.bpf.c, two tracepoint programs, a hash, a ring buffer,
# .rodata, CO-RE), ours (bpfkit::ObjectBuilder, examples/execsnoop/examples/loader_bench.rs)
# against libbpf 1.1 (peer.c against Debian's libbpf-dev), in the same run.
#
# Two measures, each printed as a ratio:
#  - cold: a fresh process does one iteration (what a tool pays at start: ours parses the
#    vmlinux BTF once per process for CO-RE, libbpf parses it and runs its feature probes);
#  - warm: the 2nd to Nth iterations in one process (ours has the vmlinux BTF cached, libbpf
#    repeats its probes for every object);
# and the same two for open + load alone ("-load"), without the kernel's attach and detach.
# Ours detaches with bpfkit::object::detach_all (the links' perf events closed together, so
# the kernel's RCU grace periods overlap); "warm, sequential" drops them one by one as
# libbpf's bpf_link__destroy loop does. Rounds alternate between the sides; medians give the
# ratios.
#
# Usage: bench/loader/run.sh [rounds, default 10] [warm iterations, default 20]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=${1:-10}
iters=${2:-20}
out=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$out/bench"

"$root/scripts/build-fixtures" "$out/fixtures"
obj="$out/fixtures/execsnoop.bpf.o"
cc -O2 -Wall -o "$out/bench/loader_peer" "$here/peer.c" -lbpf
BPFKIT_FIXTURES="$out/fixtures" cargo build --quiet --release -p execsnoop-example --example loader_bench --manifest-path "$root/Cargo.toml"
ours="$out/release/examples/loader_bench"
peer="$out/bench/loader_peer"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
	"$ours" "$obj" 1 | sed 's/^iter/ours cold/' >>"$results"
	"$peer" "$obj" 1 | sed 's/^iter/peer cold/' >>"$results"
	"$ours" "$obj" "$iters" | tail -n +2 | sed 's/^iter/ours warm/' >>"$results"
	"$peer" "$obj" "$iters" | tail -n +2 | sed 's/^iter/peer warm/' >>"$results"
	"$ours" "$obj" "$iters" --sequential | tail -n +2 | sed 's/^iter/ours seq/' >>"$results"
	i=$((i + 1))
done

echo "open + load + attach + detach of execsnoop.bpf.o, $rounds rounds (cold: 1 per process; warm: $iters per process, first dropped)"
awk '{ print $1, $2, $3; print $1, $2 "-load", $4 }' "$results" | sort -k1,2 -k3,3n | awk '
	{ k = $1 " " $2; v[k, ++n[k]] = $3 }
	END {
		split("cold warm cold-load warm-load", kinds, " ")
		for (j = 1; j <= 4; j++) {
			kind = kinds[j]
			o = "ours " kind; p = "peer " kind
			mo = v[o, int((n[o] + 1) / 2)]; mp = v[p, int((n[p] + 1) / 2)]
			printf "%s: ours %.2f ms, peer %.2f ms (medians)\n", kind, mo / 1e6, mp / 1e6
			printf "%s: ours / peer = %.3f (target <= 0.5)\n", kind, mo / mp
		}
		o = "ours seq"; p = "peer warm"
		mo = v[o, int((n[o] + 1) / 2)]; mp = v[p, int((n[p] + 1) / 2)]
		printf "warm, sequential detach: ours %.2f ms, ours / peer = %.3f\n", mo / 1e6, mo / mp
	}'
