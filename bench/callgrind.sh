#!/usr/bin/env bash
# The cost of sockport's send/recv layer, counted in instructions (repeatable on a shared
# machine): a ping-pong of N 64-byte messages over a socketpair, through sockport and
# through the raw system calls, each under callgrind with only its loop collected.
# usage: bench/callgrind.sh [build-dir] [messages]   (default: build/native, 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/native}
n=${2:-1000000}
prog=$build/bin/sockport_bench_pingpong
[[ -x $prog ]] || { echo "build first: cmake --workflow --preset native (or --build $build)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # mode -> instructions collected inside the loop function
    valgrind --tool=callgrind --callgrind-out-file="$out/$1.cg" \
        --toggle-collect="pingpong_$1" "$prog" "$1" "$n" >/dev/null 2>"$out/$1.log"
    awk '/^summary:/ {print $2}' "$out/$1.cg"
}
raw=$(count raw)
sp=$(count sockport)
echo "sockport send/recv cost: $n round trips of 64 bytes over a socketpair (4 calls each)"
echo "instructions counted by callgrind in user space (the kernel's work is not counted)"
printf '%-10s %15s %12s\n' "path" "instructions" "per call"
printf '%-10s %15s %12.1f\n' "raw" "$raw" "$(echo "$raw / ($n * 4)" | bc -l)"
printf '%-10s %15s %12.1f\n' "sockport" "$sp" "$(echo "$sp / ($n * 4)" | bc -l)"
printf 'ratio sockport/raw: %.4f (target <= 1.01)\n' "$(echo "$sp / $raw" | bc -l)"
echo
# Wall time, natively: 5 runs of each, interleaved, medians (the machine is shared: noisy).
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for i in 1 2 3 4 5; do
    for m in raw sockport; do
        "$prog" "$m" "$n" | sed -E 's/.* ([0-9.]+) ns per round trip/\1/' >>"$out/$m.ns"
    done
done
rawns=$(median <"$out/raw.ns")
spns=$(median <"$out/sockport.ns")
echo "wall time natively, median of 5 interleaved runs (kernel work included)"
printf '%-10s %12s\n' "path" "ns/round trip"
printf '%-10s %12s\n' "raw" "$rawns" "sockport" "$spns"
printf 'ratio sockport/raw: %.4f\n' "$(echo "$spns / $rawns" | bc -l)"
