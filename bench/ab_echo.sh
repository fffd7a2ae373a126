#!/bin/sh
# shellcheck disable=SC3028,SC3045
# (SECONDS is this script's knob, not bash's timer; dash has ulimit -H)
# ab_echo.sh - one echo server built two ways, side by side on the wall clock: a change
# measured against the build without it, and both against a reference server.
#
#   BIN_A=old/sockport_bench_echo BIN_B=new/sockport_bench_echo bench/ab_echo.sh
#   KIND=sockport-threads REF=threads-plain REPS=16 ROWS="pp:100:64 st:100:64" bench/ab_echo.sh
#
# Each repetition runs A, B and REF (REF from BIN_A) once per row, 1 s each, in an order
# rotated from one repetition to the next, server pinned to CPU 1 and load to CPU 0, in a
# private network namespace. Printed per row: the median over the repetitions of B / A
# (rt/s and server CPU per round trip, each pair from the same repetition) with how many
# repetitions B won, and A / REF and B / REF (rt/s). Environment: BIN_A, BIN_B (required),
# KIND (sockport-events), REF (epoll), REPS (10), SECONDS (1), ROWS (pp:CONNS:SIZE or
# st:CONNS:SIZE:INFLIGHT; default "pp:100:64"), KEEP=1 (keep the raw lines).
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
SELF="$HERE/bench/$(basename "$0")"
if [ -z "${ECHO_BENCH_IN_NS:-}" ] && unshare -n true 2>/dev/null; then
    export ECHO_BENCH_IN_NS=1
    # shellcheck disable=SC2016
    exec unshare -n sh -c 'ip link set lo up && exec sh "$0" "$@"' "$SELF" "$@"
fi
: "${BIN_A:?set BIN_A and BIN_B to two builds of sockport_bench_echo}"
: "${BIN_B:?set BIN_A and BIN_B to two builds of sockport_bench_echo}"
KIND=${KIND:-sockport-events}
REF=${REF:-epoll}
REPS=${REPS:-10}
RUN_SECONDS=${SECONDS:-1}
ROWS=${ROWS:-pp:100:64}
ADDR=127.0.0.1:7000
ulimit -n "$(ulimit -H -n)" 2>/dev/null
OUT=$(mktemp)
for row in $ROWS; do
    mode=${row%%:*}; rest=${row#*:}; conns=${rest%%:*}; rest=${rest#*:}; size=${rest%%:*}
    inflight=${rest#*:}
    r=1
    while [ $r -le "$REPS" ]; do
        case $((r % 3)) in 0) order="A B R" ;; 1) order="B R A" ;; *) order="R A B" ;; esac
        for v in $order; do
            case $v in
            A) bin=$BIN_A k=$KIND ;;
            B) bin=$BIN_B k=$KIND ;;
            *) bin=$BIN_A k=$REF ;;
            esac
            taskset -c 1 "$bin" server "$k" $ADDR > /dev/null 2>&1 &
            pid=$!
            sleep 0.3
            if [ "$mode" = pp ]; then
                l=$(taskset -c 0 "$bin" load -p $pid pingpong $ADDR "$conns" "$size" "$RUN_SECONDS" 2> /dev/null)
            else
                l=$(taskset -c 0 "$bin" load -p $pid stream $ADDR "$conns" "$size" "$RUN_SECONDS" "$inflight" 2> /dev/null)
            fi
            kill -TERM $pid 2> /dev/null
            wait $pid 2> /dev/null
            echo "$row $r $v $l" >> "$OUT"
        done
        r=$((r + 1))
    done
done
echo "ab_echo: $KIND, B ($BIN_B) against A ($BIN_A); reference $REF; $REPS repetitions of $RUN_SECONDS s"
awk -v rows="$ROWS" '
function kv(line, key,    i, n, f) {
    n = split(line, f, " ")
    for (i = 1; i <= n; i++) if (index(f[i], key "=") == 1) return substr(f[i], length(key) + 2)
    return ""
}
function med(a, k,    i, j, t) {
    if (k == 0) return 0
    for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
{ rt[$1, $2, $3] = kv($0, "rt_per_s") + 0; cpu[$1, $2, $3] = kv($0, "cpu_us_per_rt") + 0; if ($2 > n) n = $2 }
END {
    nr = split(rows, rowv, " ")
    for (q = 1; q <= nr; q++) {
        row = rowv[q]; k = 0; w = 0; kc = 0; wc = 0; ke = 0
        delete x; delete y; delete za; delete zb
        for (r = 1; r <= n; r++) {
            if (rt[row, r, "A"] > 0 && rt[row, r, "B"] > 0) { x[++k] = rt[row, r, "B"] / rt[row, r, "A"]; if (x[k] > 1) w++ }
            if (cpu[row, r, "A"] > 0 && cpu[row, r, "B"] > 0) { y[++kc] = cpu[row, r, "B"] / cpu[row, r, "A"]; if (y[kc] < 1) wc++ }
            if (rt[row, r, "R"] > 0 && rt[row, r, "A"] > 0 && rt[row, r, "B"] > 0) {
                ke++; za[ke] = rt[row, r, "A"] / rt[row, r, "R"]; zb[ke] = rt[row, r, "B"] / rt[row, r, "R"]
            }
        }
        printf "%s: B/A rt/s %.3f (B higher in %d of %d); B/A CPU per rt %.3f (B lower in %d of %d); A/ref rt/s %.3f, B/ref %.3f\n",
            row, med(x, k), w, k, med(y, kc), wc, kc, med(za, ke), med(zb, ke)
    }
}' "$OUT"
if [ -n "${KEEP:-}" ]; then echo "ab_echo: kept $OUT" >&2; else rm -f "$OUT"; fi
