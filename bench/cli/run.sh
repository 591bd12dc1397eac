#!/usr/bin/env bash
# CLI benchmarks against Debian's bpftool, each printing `ours / peer = ratio`:
#   1. `btf dump file /sys/kernel/btf/vmlinux format c`: wall time (mean of back-to-back
#      runs) and peak RSS (max over runs, /usr/bin/time -v);   target <= 0.5 on both;
#   2. `prog show` (text and -j) with 200 extra programs loaded:   target <= 1.0.
# The 200 programs are the cli_demo fixture loaded by bpftool and pinned under a directory of
# this run's own, removed (so the programs unload) when the script exits.
# Usage: bench/cli/run.sh [RUNS]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-10}
[ -x /usr/bin/time ] || apt-get install -y time >/dev/null
tgt=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p bpfkit-cli
ours=$tgt/release/bpfkit
peer=$(command -v bpftool)
fixtures=${BPFKIT_FIXTURES:-target/fixtures}
[ -e "$fixtures/cli_demo.bpf.o" ] || scripts/build-fixtures "$fixtures"

mean_wall() {
  local s e
  s=$(date +%s.%N)
  for _ in $(seq "$runs"); do "$@" > /dev/null; done
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" -v n="$runs" 'BEGIN { printf "%.6f", (e - s) / n }'
}

peak_rss() {
  local rss=0 m
  for _ in $(seq 3); do
    m=$({ /usr/bin/time -v "$@" > /dev/null; } 2>&1 | awk -F': ' '/Maximum resident set size/ { print $2 }')
    rss=$(( m > rss ? m : rss ))
  done
  echo "$rss"
}

ratio() {
  awk -v w="$1" -v o="$2" -v p="$3" -v u="$4" 'BEGIN { printf "%s: ours %.4f%s / peer %.4f%s = %.2f\n", w, o, u, p, u, o / p }'
}

dump=(btf dump file /sys/kernel/btf/vmlinux format c)
cmp -s <("$ours" "${dump[@]}") <("$peer" "${dump[@]}") || echo "note: the two vmlinux.h differ in text (same named types are tested in bpftool_diff)" >&2
ratio "btf dump format c wall" "$(mean_wall "$ours" "${dump[@]}")" "$(mean_wall "$peer" "${dump[@]}")" s
ratio "btf dump format c peak RSS" "$(peak_rss "$ours" "${dump[@]}")" "$(peak_rss "$peer" "${dump[@]}")" KB

pins=/sys/fs/bpf/bpfkit_bench_cli_$$
mkdir -p "$pins"
trap 'rm -rf "$pins"' EXIT
for i in $(seq 200); do
  "$peer" prog load "$fixtures/cli_demo.bpf.o" "$pins/p$i"
done
n=$("$peer" prog show -j | awk -F'"id":' '{ print NF - 1 }')
echo "programs loaded in the kernel: $n"
ratio "prog show wall" "$(mean_wall "$ours" prog show)" "$(mean_wall "$peer" prog show)" s
ratio "prog show -j wall" "$(mean_wall "$ours" prog show -j)" "$(mean_wall "$peer" prog show -j)" s
