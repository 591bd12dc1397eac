#!/usr/bin/env bash
# BTF benchmarks: each prints `ours / peer = ratio` for wall time (best of N runs) and peak RSS.
#   1. index /sys/kernel/btf/vmlinux + find `struct task_struct`: bpfkit-btf vs libbpf's
#      btf__parse + btf__find_by_name_kind (a C harness built here with cc -lbpf);
#   2. `bpfkit btf dump file /sys/kernel/btf/vmlinux format c` vs bpftool's.
# Usage: bench/btf/run.sh [RUNS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-20}
btf=/sys/kernel/btf/vmlinux
out=${CARGO_TARGET_DIR:-target}/bench-btf
mkdir -p "$out"
cargo build -q --release -p bpfkit --example btf_find
cargo build -q --release -p bpfkit-cli
bin=${CARGO_TARGET_DIR:-target}/release/examples
bpfkit=${CARGO_TARGET_DIR:-target}/release/bpfkit
cc -O2 -o "$out/libbpf_find" bench/btf/libbpf_find.c -lbpf

# best wall seconds and max RSS (KB) over $runs runs of "$@"
measure() {
  local best=999 rss=0 t m
  for _ in $(seq "$runs"); do
    read -r t m < <( { /usr/bin/time -f "%e %M" "$@" > /dev/null; } 2>&1 | tail -1)
    best=$(awk -v a="$t" -v b="$best" 'BEGIN { print (a < b) ? a : b }')
    rss=$(awk -v a="$m" -v b="$rss" 'BEGIN { print (a > b) ? a : b }')
  done
  echo "$best $rss"
}

# /usr/bin/time has 10 ms resolution: the mean of back-to-back runs is finer.
loop_time() {
  local n=$1; shift
  local s e
  s=$(date +%s.%N)
  for _ in $(seq "$n"); do "$@" > /dev/null; done
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" -v n="$n" 'BEGIN { printf "%.6f", (e - s) / n }'
}

report() {
  local what=$1 ot=$2 pt=$3 orss=$4 prss=$5
  awk -v w="$what" -v ot="$ot" -v pt="$pt" -v orss="$orss" -v prss="$prss" 'BEGIN {
    printf "%s wall: ours %.4fs / peer %.4fs = %.2f\n", w, ot, pt, ot / pt
    printf "%s peak RSS: ours %d KB / peer %d KB = %.2f\n", w, orss, prss, orss / prss
  }'
}

"$bin/btf_find" "$btf" | grep -q . && "$out/libbpf_find" "$btf" | grep -q .
[ "$("$bin/btf_find" "$btf")" = "$("$out/libbpf_find" "$btf")" ] || { echo "btf_find and libbpf disagree" >&2; exit 1; }
read -r _ o_rss < <(measure "$bin/btf_find" "$btf")
read -r _ p_rss < <(measure "$out/libbpf_find" "$btf")
# In-process: the fastest of $runs repetitions, without process start-up.
o_t=$("$bin/btf_find" "$btf" "$runs" 2>&1 >/dev/null | awk '{ print $1 / 1e6 }')
p_t=$("$out/libbpf_find" "$btf" "$runs" 2>&1 >/dev/null | awk '{ print $1 / 1e6 }')
report "index+find task_struct" "$o_t" "$p_t" "$o_rss" "$p_rss"

read -r o_t o_rss < <(measure "$bpfkit" btf dump file "$btf" format c)
read -r p_t p_rss < <(measure bpftool btf dump file "$btf" format c)
o_t=$(loop_time "$runs" "$bpfkit" btf dump file "$btf" format c)
p_t=$(loop_time "$runs" bpftool btf dump file "$btf" format c)
report "btf dump format c" "$o_t" "$p_t" "$o_rss" "$p_rss"
