#!/bin/sh
# Map syscall benchmark: lookups and updates per second on a hash and an array map, ours
# (bpfkit::Map, crates/bpfkit/examples/map_bench.rs) against libbpf (peer.c, Debian's
# libbpf-dev), in the same run. Rates are per CPU-second of the benchmarking thread, rounds
# alternate between the two sides and the best round of each counts, which keeps other load
# on the machine out of the ratio.
#
# Usage: bench/maps/run.sh [ops per measurement, default 500000] [rounds, default 11]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
n=${1:-500000}
rounds=${2:-11}
out=${CARGO_TARGET_DIR:-$root/target}
mkdir -p "$out/bench"

cc -O2 -Wall -o "$out/bench/maps_peer" "$here/peer.c" -lbpf
cargo build --quiet --release -p bpfkit --example map_bench --manifest-path "$root/Cargo.toml"
ours="$out/release/examples/map_bench"
peer="$out/bench/maps_peer"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
	# Alternate which side goes first, so neither always runs on a warmer machine.
	if [ $((i % 2)) -eq 0 ]; then
		"$ours" "$n" | sed 's/^/ours /' >>"$results"
		"$peer" "$n" | sed 's/^/peer /' >>"$results"
	else
		"$peer" "$n" | sed 's/^/peer /' >>"$results"
		"$ours" "$n" | sed 's/^/ours /' >>"$results"
	fi
	i=$((i + 1))
done

echo "map syscalls, $n ops per measurement, best of $rounds rounds (ops per CPU-second)"
awk '
	{ key = $2 " " $3; if ($4 > best[$1, key]) best[$1, key] = $4; keys[key] = 1 }
	END {
		worst = 1e9
		for (k in keys) {
			r = best["ours", k] / best["peer", k]
			if (r < worst) worst = r
			printf "%-13s ours %10.0f  peer %10.0f  ours / peer = %.3f\n", k, best["ours", k], best["peer", k], r
		}
		printf "lowest ratio: ours / peer = %.3f (target >= 0.95)\n", worst
	}' "$results" | sort
