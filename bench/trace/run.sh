#!/bin/sh
# bpfkit trace against bpftrace on the same machine, same run:
#   1. launch -> notify line (__BPFTRACE_NOTIFY_PROBES_ATTACHED) for the execve one-liner
#   2. launch -> exit of `begin { exit(); }` (BEGIN for bpftrace 0.17)
#   3. peak RSS of (2), from /usr/bin/time -v
#   4. launch -> notify line for three /usr/sbin/*.bt tools (execsnoop, opensnoop, syscount)
#   5. cost per event: added ns per getpid() of a process making 1,000,000 of them (getpid.c)
#      under `tracepoint:syscalls:sys_enter_getpid { @[comm] = count(); }`, against no tracer
# Prints `ours / peer = ratio` per measurement (median of N runs, default 5).
set -eu
N=${N:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OURS=${BPFKIT:-$ROOT/target/release/bpfkit}
[ -x "$OURS" ] || { echo "build first: cargo build --release -p bpfkit-cli (or set BPFKIT)" >&2; exit 1; }
ONE='tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { printf("pid: %d, comm: %s, args: %s\n", pid, comm, join(args->argv)); }'
PEER_ONE='tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat { printf("pid: %d, comm: %s\n", pid, comm); join(args->argv); }'

now_ns() { date +%s%N; }

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# ms from launch until the notify line appears in the output (stdout for bpfkit trace and
# current bpftrace, stderr for bpftrace 0.17)
notify_ms() {
    out=$(mktemp)
    t0=$(now_ns)
    __BPFTRACE_NOTIFY_PROBES_ATTACHED=1 "$@" >"$out" 2>&1 &
    pid=$!
    while ! grep -q __BPFTRACE_NOTIFY_PROBES_ATTACHED "$out" 2>/dev/null; do
        kill -0 $pid 2>/dev/null || break
        sleep 0.001
    done
    t1=$(now_ns)
    kill -INT $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    rm -f "$out"
    echo $(( (t1 - t0) / 1000 ))
}

exit_ms() {
    t0=$(now_ns)
    "$@" >/dev/null 2>&1 || true
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000 ))
}

rss_kb() {
    /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident/ {gsub(/ /,"",$2); print $2}'
}

runs() { i=0; while [ $i -lt "$N" ]; do "$@"; i=$((i+1)); done; }

ratio() { awk -v a="$2" -v b="$3" -v u="$4" -v n="$1" 'BEGIN { printf "%-34s %8.1f %s / %8.1f %s = %.3f\n", n, a, u, b, u, a/b }'; }

a=$(runs notify_ms "$OURS" trace -e "$ONE" | median)
b=$(runs notify_ms bpftrace -e "$PEER_ONE" | median)
ratio "one-liner launch->attached" "$(echo "$a/1000" | bc -l)" "$(echo "$b/1000" | bc -l)" ms

a=$(runs exit_ms "$OURS" trace -e 'begin { exit(); }' | median)
b=$(runs exit_ms bpftrace -e 'BEGIN { exit(); }' | median)
ratio "begin{exit()} launch->exit" "$(echo "$a/1000" | bc -l)" "$(echo "$b/1000" | bc -l)" ms

a=$(runs rss_kb "$OURS" trace -e 'begin { exit(); }' | median)
b=$(runs rss_kb bpftrace -e 'BEGIN { exit(); }' | median)
ratio "begin{exit()} peak RSS" "$(echo "$a/1024" | bc -l)" "$(echo "$b/1024" | bc -l)" MB

for tool in execsnoop opensnoop syscount; do
    a=$(runs notify_ms "$OURS" trace /usr/sbin/$tool.bt | median)
    b=$(runs notify_ms bpftrace /usr/sbin/$tool.bt | median)
    ratio "$tool.bt launch->attached" "$(echo "$a/1000" | bc -l)" "$(echo "$b/1000" | bc -l)" ms
done

# Cost per event. The load reports its own loop time, so tracer start-up and exit do not count.
GETPID_N=${GETPID_N:-1000000}
tmpd=$(mktemp -d)
trap 'rm -rf "$tmpd"' EXIT
cc -O2 -o "$tmpd/getpid" "$ROOT/bench/trace/getpid.c"
COUNT='tracepoint:syscalls:sys_enter_getpid { @[comm] = count(); }'

# ns the load took while "$@" traced it (the tracer is started and attached first)
traced_ns() {
    out=$(mktemp)
    __BPFTRACE_NOTIFY_PROBES_ATTACHED=1 "$@" >"$out" 2>&1 &
    pid=$!
    while ! grep -q __BPFTRACE_NOTIFY_PROBES_ATTACHED "$out" 2>/dev/null; do
        kill -0 $pid 2>/dev/null || break
        sleep 0.001
    done
    "$tmpd/getpid" "$GETPID_N"
    kill -INT $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
    rm -f "$out"
}

# Interleaved (untraced, ours, peer) per round, so a change in machine load hits all three.
i=0
while [ $i -lt "$N" ]; do
    "$tmpd/getpid" "$GETPID_N" >>"$tmpd/base"
    traced_ns "$OURS" trace -e "$COUNT" >>"$tmpd/ours"
    traced_ns bpftrace -e "$COUNT" >>"$tmpd/peer"
    i=$((i+1))
done
base=$(median <"$tmpd/base")
a=$(median <"$tmpd/ours")
b=$(median <"$tmpd/peer")
echo "getpid() untraced: $(echo "$base/$GETPID_N" | bc -l | cut -c1-6) ns per call"
ratio "count() added time per getpid()" "$(echo "($a-$base)/$GETPID_N" | bc -l)" "$(echo "($b-$base)/$GETPID_N" | bc -l)" ns
