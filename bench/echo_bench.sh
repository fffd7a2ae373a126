#!/bin/sh
# shellcheck disable=SC2086,SC3028,SC3045
# (word splitting of the kind lists is meant; SECONDS is this script's knob, not bash's
# timer; dash has ulimit -H)
# echo_bench.sh [quick] - sockport's echo server (three models) beside hand-written epoll and
# io_uring, libuv, libevent and plain thread- and fork-per-connection echo servers; prints
# one Markdown report (see docs/benchmarks.md).
#
#   bench/echo_bench.sh              full run: REPS=5, SECONDS=1.5 (about 15 min on 2 cores)
#   bench/echo_bench.sh quick        smoke test: 2 repetitions of 0.3 s, small idle counts
#   REPS=3 SECONDS=1 KINDS="sockport-events epoll" bench/echo_bench.sh
#
# Environment: REPS (repetitions), SECONDS (measured seconds per run), KINDS (servers),
# ROWS (load rows, e.g. "pp:1000:64 st:100:64 bulk:1:1048576"),
# IDLE_N (idle connections of the idle row, 10000), IDLE_MAX (the largest idle test:
# "auto" = as many as the descriptor limit allows, 0 = skip), LOAD_PER_PROC (connections
# per idle load process: "auto" = the limit), BIN (the program, default
# build/native/bin/sockport_bench_echo), NO_NETNS=1 (do not enter a private network
# namespace), KEEP=1 (keep the raw results: one line per run). Installs nothing: servers
# the program was built without (libuv, libevent, io_uring) show "not built"; io_uring on a
# kernel that refuses it (ENOSYS, EPERM) shows "unavailable".
#
# Method. The script enters a private network namespace (unshare -n) when it can, so
# that nothing else shares its loopback. Every server is started afresh for every run,
# pinned to CPU 1; the load generator is pinned to CPU 0. Rows are interleaved: each
# repetition runs every server on a row before the next row, and the order of the servers
# changes from one repetition to the next (rotated, reversed every other time). Each run
# warms up 0.2 s, measures SECONDS, then drains the frames in flight and closes in order.
# The load generator reads the server's CPU time (the run time of its threads and of its
# children's, from /proc/PID/task/TID/schedstat, exact to the nanosecond) from /proc at
# the edges of the measured window, which opens only once every connection has had its
# first echo. Every server counts its errors (printed when it stops); a cell where the load
# or the server saw an error is flagged. Reported: the median over the repetitions and
# the min-max spread; and, for each sockport model against its reference, the ratio within
# each repetition with a sign test (the targets "met" or "missed" when 9 of 10 repetitions
# agree, at 10), since one slow spell of a shared machine widens every cell's spread.
set -u

HERE=$(cd "$(dirname "$0")/.." && pwd)
SELF="$HERE/bench/$(basename "$0")"
# shellcheck source=bench/lib.sh
. "$HERE/bench/lib.sh"
if [ -z "${ECHO_BENCH_IN_NS:-}" ] && [ -z "${NO_NETNS:-}" ] &&
    unshare -n true 2>/dev/null; then
    export ECHO_BENCH_IN_NS=1
    # shellcheck disable=SC2016
    exec unshare -n sh -c 'ip link set lo up && exec sh "$0" "$@"' \
        "$SELF" "$@"
fi

QUICK=0
[ "${1:-}" = quick ] && QUICK=1
if [ $QUICK = 1 ]; then
    REPS=${REPS:-2}; RUN_SECONDS=${SECONDS:-0.3}
    IDLE_N=${IDLE_N:-1000}; IDLE_MAX=${IDLE_MAX:-2500}; LOAD_PER_PROC=${LOAD_PER_PROC:-1000}
else
    REPS=${REPS:-5}; RUN_SECONDS=${SECONDS:-1.5}
    IDLE_N=${IDLE_N:-10000}; IDLE_MAX=${IDLE_MAX:-auto}; LOAD_PER_PROC=${LOAD_PER_PROC:-auto}
fi
BIN=${BIN:-$HERE/build/native/bin/sockport_bench_echo}
ALL_KINDS="sockport-events epoll io_uring libuv libevent sockport-threads threads-plain sockport-fork fork-plain"
KINDS_GIVEN=${KINDS:-} # the callgrind row uses its own default unless KINDS was given
KINDS=${KINDS:-$ALL_KINDS}
EVENT_KINDS="sockport-events epoll io_uring libuv libevent" # the idle rows: one thread, many sockets
STREAM_K=16       # frames in flight per connection, stream row
BULK_SIZE=1048576 # bulk row: one connection, 1 MiB frames,
BULK_K=4          # 4 in flight
ROWS=${ROWS:-"pp:1:64 pp:100:64 pp:1000:64 pp:1:16384 pp:100:16384 pp:1000:16384 st:100:64 bulk:1:$BULK_SIZE"}

if [ ! -x "$BIN" ]; then
    echo "echo_bench: $BIN not found; build it: cmake --build --preset native --target sockport_bench_echo" >&2
    exit 1
fi
if [ "$(nproc)" -ge 2 ]; then
    SRV_PIN="taskset -c 1"; LOAD_PIN="taskset -c 0"; PINNED="server on CPU 1, load on CPU 0"
else
    SRV_PIN=""; LOAD_PIN=""; PINNED="one CPU: not pinned"
fi
BUILT=$("$BIN" 2>&1 | sed -n 's/^KIND: //p')
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
[ "$LOAD_PER_PROC" = auto ] && LOAD_PER_PROC=$((HARD - 64))
[ "$IDLE_MAX" = auto ] && IDLE_MAX=$((HARD - 64)) # the server's own limit binds first
TMP=$(mktemp -d)
RES=$TMP/results
ERRLOG=$TMP/errors
: > "$RES"; : > "$ERRLOG"
LOADPIDS=""
SRV_PID=""
cleanup() {
    for p in $LOADPIDS $SRV_PID; do kill -TERM "$p" 2>/dev/null; done
    if [ -n "${KEEP:-}" ]; then echo "echo_bench: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
T0=$(date +%s)

is_built() {
    case ", $BUILT," in *", $1,"*) return 0 ;; esac
    return 1
}

log() { echo "echo_bench: $*" >&2; }

# start_server KIND: sets SRV_PID and ADDR (empty when it did not come up); SRV_UNAVAIL=1
# when the server said the kernel refuses it (io_uring: "io_uring unavailable").
start_server() {
    SRV_UNAVAIL=0
    # emptied here, not only by the child's redirection: the child may run late and the
    # previous server's "listening" line must not be read
    : > "$TMP/srv.out"
    $SRV_PIN "$BIN" server "$1" 127.0.0.1:0 > "$TMP/srv.out" 2> "$TMP/srv.err" &
    SRV_PID=$!
    ADDR=$(wait_listening "$TMP/srv.out" 100 0.05)
    if [ -z "$ADDR" ]; then
        grep -q 'unavailable' "$TMP/srv.err" && SRV_UNAVAIL=1
        stop_server
        return 1
    fi
    return 0
}

# stop_server: SIGTERM, at most 10 s to stop, then SIGKILL; SRV_ERR: the errors it counted.
stop_server() {
    kill -TERM "$SRV_PID" 2>/dev/null
    i=0
    while [ $i -lt 200 ]; do
        st=$(sed 's/^.*) //' "/proc/$SRV_PID/stat" 2>/dev/null | cut -c1)
        [ -z "$st" ] || [ "$st" = Z ] && break
        sleep 0.05
        i=$((i + 1))
    done
    kill -KILL "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=""
    SRV_ERR=$(sed -n 's/^stopped errors=//p' "$TMP/srv.out")
    [ -z "$SRV_ERR" ] && SRV_ERR="?" # it did not stop by itself
    if [ -s "$TMP/srv.err" ]; then
        sed "s/^/$CUR_KIND $CUR_ROW: /" "$TMP/srv.err" | head -5 >> "$ERRLOG"
    fi
}

# server_mem: ask the server for its memory; prints "HEAP RSS_KB" (empty on no answer).
server_mem() {
    before=$(grep -c '^mem ' "$TMP/srv.out")
    kill -USR1 "$SRV_PID"
    i=0
    while [ $i -lt 100 ]; do
        now=$(grep -c '^mem ' "$TMP/srv.out")
        [ "$now" -gt "$before" ] && break
        sleep 0.05
        i=$((i + 1))
    done
    grep '^mem ' "$TMP/srv.out" | tail -1 | sed 's/^mem heap=\(-\{0,1\}[0-9]*\) rss_kb=\([0-9]*\).*/\1 \2/'
}

# rotate REP WORDS...: the words rotated by REP-1, reversed on even repetitions.
order_for_rep() {
    rep=$1; shift
    n=$#; k=$(( (rep - 1) % (n > 0 ? n : 1) ))
    out=""; j=0
    for w in "$@"; do
        if [ $j -ge $k ]; then out="$out $w"; fi
        j=$((j + 1))
    done
    j=0
    for w in "$@"; do
        if [ $j -lt $k ]; then out="$out $w"; fi
        j=$((j + 1))
    done
    if [ $((rep % 2)) = 0 ]; then
        rev=""
        for w in $out; do rev="$w $rev"; done
        out=$rev
    fi
    echo $out
}

# run_cell ROW KIND REP: one load run against a fresh server; appends a result line.
run_cell() {
    CUR_ROW=$1; CUR_KIND=$2
    mode=${1%%:*}; rest=${1#*:}; conns=${rest%%:*}; size=${rest##*:}
    if ! is_built "$2"; then
        echo "R $1 $2 $3 notbuilt" >> "$RES"; return
    fi
    if ! start_server "$2"; then
        if [ $SRV_UNAVAIL = 1 ]; then echo "R $1 $2 $3 unavailable" >> "$RES"; return; fi
        log "$2 did not start"; echo "R $1 $2 $3 failed" >> "$RES"; return
    fi
    case $mode in
    pp) load=$($LOAD_PIN "$BIN" load -p "$SRV_PID" pingpong "$ADDR" "$conns" "$size" "$RUN_SECONDS" 2>> "$TMP/load.err") ;;
    st) load=$($LOAD_PIN "$BIN" load -p "$SRV_PID" stream "$ADDR" "$conns" "$size" "$RUN_SECONDS" $STREAM_K 2>> "$TMP/load.err") ;;
    bulk) load=$($LOAD_PIN "$BIN" load -p "$SRV_PID" bulk "$ADDR" "$size" "$RUN_SECONDS" $BULK_K 2>> "$TMP/load.err") ;;
    esac
    stop_server
    [ -z "$load" ] && load="errors=1"
    echo "R $1 $2 $3 $load serrors=$SRV_ERR" >> "$RES"
}

# run_idle ROW N KIND REP: N idle connections; appends the server's memory per connection.
run_idle() {
    CUR_ROW=$1; CUR_KIND=$3
    if ! is_built "$3"; then
        echo "I $1 $3 $4 notbuilt" >> "$RES"; return
    fi
    if ! start_server "$3"; then
        if [ $SRV_UNAVAIL = 1 ]; then echo "I $1 $3 $4 unavailable" >> "$RES"; return; fi
        log "$3 did not start"; echo "I $1 $3 $4 failed" >> "$RES"; return
    fi
    sleep 0.2
    m0=$(server_mem)
    LOADPIDS=""; first=0; nproc_load=0
    while [ $first -lt "$2" ]; do
        n=$(( $2 - first < LOAD_PER_PROC ? $2 - first : LOAD_PER_PROC ))
        $LOAD_PIN "$BIN" load idle "$ADDR" $n $first > "$TMP/idle.$nproc_load" 2>> "$TMP/load.err" &
        LOADPIDS="$LOADPIDS $!"
        first=$((first + n)); nproc_load=$((nproc_load + 1))
    done
    held=0; lerr=0; j=0; i=0
    while [ $j -lt $nproc_load ] && [ $i -lt 1200 ]; do # at most 120 s
        j=0
        for f in "$TMP"/idle.*; do
            [ -f "$f" ] && grep -q '^ready' "$f" && j=$((j + 1))
        done
        [ $j -lt $nproc_load ] && sleep 0.1
        i=$((i + 1))
    done
    for f in "$TMP"/idle.*; do
        h=$(sed -n 's/^ready \([0-9]*\).*/\1/p' "$f"); e=$(sed -n 's/^ready.*errors=//p' "$f")
        held=$((held + ${h:-0})); lerr=$((lerr + ${e:-1}))
    done
    sleep 0.5
    m1=$(server_mem)
    for p in $LOADPIDS; do kill -TERM "$p" 2>/dev/null; done
    for p in $LOADPIDS; do wait "$p" 2>/dev/null; done
    LOADPIDS=""
    rm -f "$TMP"/idle.*
    stop_server
    [ "$held" -lt "$2" ] && lerr=$((lerr + 1))
    echo "I $1 $3 $4 held=$held heap0=${m0% *} heap1=${m1% *} rss0_kb=${m0#* } rss1_kb=${m1#* } errors=$lerr serrors=$SRV_ERR" >> "$RES"
}

log "$REPS repetitions of ${RUN_SECONDS} s; kinds: $KINDS; results in $RES"
rep=1
while [ $rep -le "$REPS" ]; do
    for row in $ROWS; do
        for kind in $(order_for_rep $rep $KINDS); do
            run_cell "$row" "$kind" $rep
        done
    done
    for kind in $(order_for_rep $rep $EVENT_KINDS); do
        case " $KINDS " in *" $kind "*) run_idle "idle:$IDLE_N" "$IDLE_N" "$kind" $rep ;; esac
    done
    log "repetition $rep done ($(( $(date +%s) - T0 )) s)"
    rep=$((rep + 1))
done
if [ "$IDLE_MAX" -gt 0 ]; then # once: memory does not vary much between runs
    for kind in $EVENT_KINDS; do
        case " $KINDS " in *" $kind "*) run_idle "idlemax:$IDLE_MAX" "$IDLE_MAX" "$kind" 1 ;; esac
    done
fi
T1=$(date +%s)

# ---------------------------------------------------------------- the report
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MEM=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
if [ $QUICK = 1 ]; then CMD="bench/echo_bench.sh quick"; else CMD="bench/echo_bench.sh"; fi
# everything the run was given, so that the report's command repeats it
CMD="REPS=$REPS SECONDS=$RUN_SECONDS CALLGRIND=${CALLGRIND:-1} KINDS=\"$KINDS\" ROWS=\"$ROWS\" IDLE_N=$IDLE_N IDLE_MAX=$IDLE_MAX $CMD"

echo "### Echo servers: run of $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(nproc) CPUs ($CPU), $MEM; $(uname -sr); $PINNED"
echo "- command: \`$CMD\` (in a private network namespace: $( [ -n "${ECHO_BENCH_IN_NS:-}" ] && echo yes || echo no))"
echo "- repetitions: $REPS; ${RUN_SECONDS} s measured per run (after 0.2 s of warm-up), rows"
echo "  interleaved, server order varied; wall time $((T1 - T0)) s; descriptor hard limit $HARD"
echo "- cells: median over the repetitions (min–max); ⚠ marks a cell where the load generator or"
echo "  the server counted errors; p99 tops out at 1000000 µs (1 s and over)"
echo
awk -v cpu_target=0.9 -v stream_k=$STREAM_K -v bulk_k=$BULK_K -v idle_n="$IDLE_N" -v idle_max="$IDLE_MAX" \
    -v kinds="$ALL_KINDS" -v rows="$ROWS" -v reps="$REPS" '
function kv(line, key,    i, n, f, a) {
    n = split(line, f, " ")
    for (i = 1; i <= n; i++)
        if (index(f[i], key "=") == 1)
            return substr(f[i], length(key) + 2)
    return ""
}
function add(cell, metric, v) {
    cnt[cell, metric]++
    val[cell, metric, cnt[cell, metric]] = v + 0
}
# a[1..n] sorted in place; returns their median
function sorted_median(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function median(cell, metric,    n, i, a, m) {
    n = cnt[cell, metric]
    if (n == 0) return ""
    for (i = 1; i <= n; i++) a[i] = val[cell, metric, i]
    m = sorted_median(a, n)
    lo[cell, metric] = a[1]; hi[cell, metric] = a[n]
    return m
}
function fmt(v) {
    if (v == "") return ""
    if (v >= 1000) return sprintf("%.0f", v)
    if (v >= 100) return sprintf("%.0f", v)
    if (v >= 10) return sprintf("%.1f", v)
    return sprintf("%.2f", v)
}
function cellstr(cell, metric,    m) {
    m = med[cell, metric]
    if (m == "") return "–"
    if (reps > 1) return fmt(m) " (" fmt(lo[cell, metric]) "–" fmt(hi[cell, metric]) ")"
    return fmt(m)
}
# whether the sockport-events cell of row is undecided against target t: its spread
# (max - min, over the median) is wider than the gap between its ratio x and t
function undecided(row, metric, x, t,    c, m, gap)
{
    if (x == "–" || reps < 2) return 0
    c = row SUBSEP "sockport-events"
    m = med[row, "sockport-events", metric]
    if (m == "" || m == 0) return 0
    gap = x - t; if (gap < 0) gap = -gap
    return (hi[c, metric] - lo[c, metric]) / m > gap / t
}
# the reference of a kind in a row: best of the event peers (hi: larger is better)
function ref(row, kind, metric, hib,    b, k, v, i) {
    if (kind == "sockport-threads") return med[row SUBSEP "threads-plain", metric]
    if (kind == "sockport-fork") return med[row SUBSEP "fork-plain", metric]
    if (kind == "threads-plain" || kind == "fork-plain") return "self"
    b = ""
    for (i = 1; i <= npeer; i++) {
        v = med[row SUBSEP peer[i], metric]
        if (v == "") continue
        if (b == "" || (hib ? v > b : v < b)) b = v
    }
    return b
}
# the kind a kind is measured against in row: its plain twin, or the event peer with the
# best median ("" when none ran)
function refkind(row, kind, metric, hib,    b, bk, v, i) {
    if (kind == "sockport-threads") return "threads-plain"
    if (kind == "sockport-fork") return "fork-plain"
    b = ""; bk = ""
    for (i = 1; i <= npeer; i++) {
        v = med[row SUBSEP peer[i], metric]
        if (v == "") continue
        if (b == "" || (hib ? v > b : v < b)) { b = v; bk = peer[i] }
    }
    return bk
}
# P(X >= w) for X ~ Binomial(n, 1/2)
function tail_ge(n, w,    i, c, p) {
    p = 0; c = 1
    for (i = 0; i <= n; i++) {
        if (i >= w) p += c
        c = c * (n - i) / (i + 1)
    }
    return p / (2 ^ n)
}
# The paired comparison of kind with its reference in row: the ratio within each
# repetition (the two ran back to back, so a slow spell of the machine hits both), their
# median and range, how many meet target t (hib: ratio >= t, else <= t), and a one-sided
# sign test: "met" or "missed" when so many repetitions agree that chance would give it
# less than 5 % of the time, else "undecided". Sets pn, pw, pmed, plo, phi, pverdict.
function paired(row, kind, metric, hib, t,    rk, r, a, v, x) {
    pn = 0; pw = 0; pverdict = "–"; pmed = ""
    rk = refkind(row, kind, metric, hib)
    if (rk == "") return
    for (r = 1; r <= reps; r++) {
        v = rep[row SUBSEP kind, metric, r]; x = rep[row SUBSEP rk, metric, r]
        if (v == "" || x == "" || x + 0 == 0) continue
        a[++pn] = v / x
        if (hib ? a[pn] >= t : a[pn] <= t) pw++
    }
    if (pn == 0) return
    pmed = sorted_median(a, pn)
    plo = a[1]; phi = a[pn]
    if (tail_ge(pn, pw) < 0.05) pverdict = "met"
    else if (tail_ge(pn, pn - pw) < 0.05) pverdict = "missed"
    else pverdict = "undecided"
}
function pairedstr(row, kind, metric, hib, t) {
    paired(row, kind, metric, hib, t)
    if (pn == 0) return "–"
    return sprintf("%.2f (%.2f–%.2f), %d/%d: %s", pmed, plo, phi, pw, pn, pverdict)
}
function ratio(row, kind, metric, hib,    r, m) {
    r = ref(row, kind, metric, hib); m = med[row SUBSEP kind, metric]
    if (r == "self") return "ref"
    if (r == "" || m == "" || r == 0) return "–"
    return sprintf("%.2f", m / r)
}
function rowlabel(row,    f) {
    split(row, f, ":")
    if (f[1] == "pp") return "pingpong " f[2] " × " (f[3] == 16384 ? "16 KiB" : f[3] " B")
    if (f[1] == "st") return "stream " f[2] " × " f[3] " B, " stream_k " in flight"
    if (f[1] == "bulk") return "bulk 1 × 1 MiB, " bulk_k " in flight"
    if (f[1] == "idle") return f[2] " idle"
    if (f[1] == "idlemax") return f[2] " idle (the most the limits allow)"
    return row
}
BEGIN {
    nk = split(kinds, kind, " "); nrow = split(rows, rowv, " ")
    npeer = split("epoll libuv libevent", peer, " ")
}
$1 == "R" || $1 == "I" {
    cell = $2 SUBSEP $3
    seen[cell] = 1
    if ($5 == "notbuilt") { notbuilt[cell] = "not built"; next }
    if ($5 == "unavailable") { notbuilt[cell] = "unavailable"; next }
    if ($5 == "failed") { failed[cell]++; next }
    e = kv($0, "errors") + 0; s = kv($0, "serrors")
    if (e > 0 || (s != "0" && s != "")) bad[cell] += (e > 0 ? e : 0) + (s ~ /^[0-9]+$/ ? s : 1)
    if ($1 == "R") {
        add(cell, "rt", kv($0, "rt_per_s")); add(cell, "p99", kv($0, "p99_us"))
        add(cell, "cpu", kv($0, "cpu_us_per_rt")); add(cell, "mb", kv($0, "mb_per_s"))
        rep[cell, "rt", $4] = kv($0, "rt_per_s"); rep[cell, "mb", $4] = kv($0, "mb_per_s")
        rep[cell, "cpu", $4] = kv($0, "cpu_us_per_rt")
    } else {
        h = kv($0, "held") + 0
        if (h > 0 && kv($0, "heap1") != "" && kv($0, "heap0") + 0 >= 0) # -1: no mallinfo2
            add(cell, "heap", (kv($0, "heap1") - kv($0, "heap0")) / h)
        if (h > 0 && kv($0, "rss1_kb") != "")
            add(cell, "rss", (kv($0, "rss1_kb") - kv($0, "rss0_kb")) * 1024 / h)
        add(cell, "held", h)
    }
}
END {
    for (c in cnt) { split(c, p, SUBSEP); med[p[1], p[2], p[3]] = median(p[1] SUBSEP p[2], p[3]) }
    print "Round trips (rt/s: more is better; p99 and server CPU per round trip: less is better):"
    print ""
    print "| row | server | rt/s | × best | p99 µs | × best | server CPU µs/rt | × best |"
    print "|---|---|---:|---:|---:|---:|---:|---:|"
    for (r = 1; r <= nrow; r++) {
        row = rowv[r]
        if (row ~ /^bulk/) continue
        for (k = 1; k <= nk; k++) {
            c = row SUBSEP kind[k]
            if (!seen[c]) continue
            if (notbuilt[c]) { printf "| %s | %s | %s | | | | | |\n", rowlabel(row), kind[k], notbuilt[c]; continue }
            if (cnt[c, "rt"] == 0) { printf "| %s | %s | failed | | | | | |\n", rowlabel(row), kind[k]; continue }
            flag = bad[c] ? " ⚠ " bad[c] " errors" : ""
            printf "| %s | %s | %s%s | %s | %s | %s | %s | %s |\n", rowlabel(row), kind[k],
                cellstr(c, "rt"), flag, ratio(row, kind[k], "rt", 1), cellstr(c, "p99"),
                ratio(row, kind[k], "p99", 0), cellstr(c, "cpu"), ratio(row, kind[k], "cpu", 0)
        }
    }
    print ""
    for (r = 1; r <= nrow; r++) if (rowv[r] ~ /^bulk/) brow = rowv[r]
    print "Bulk, " rowlabel(brow) " (MB/s of echoed payload; server CPU per 1 MiB echoed):"
    print ""
    print "| server | MB/s | × best | × epoll | server CPU µs/MiB | × best |"
    print "|---|---:|---:|---:|---:|---:|"
    for (k = 1; k <= nk; k++) {
        c = brow SUBSEP kind[k]
        if (!seen[c]) continue
        if (notbuilt[c]) { printf "| %s | %s | | | | |\n", kind[k], notbuilt[c]; continue }
        if (cnt[c, "mb"] == 0) { printf "| %s | failed | | | | |\n", kind[k]; continue }
        flag = bad[c] ? " ⚠ " bad[c] " errors" : ""
        e = med[brow, "epoll", "mb"]
        printf "| %s | %s%s | %s | %s | %s | %s |\n", kind[k], cellstr(c, "mb"), flag,
            ratio(brow, kind[k], "mb", 1), (e > 0 ? sprintf("%.2f", med[c, "mb"] / e) : "–"),
            cellstr(c, "cpu"), ratio(brow, kind[k], "cpu", 0)
    }
    print ""
    print "Idle connections: the server'"'"'s user-space memory per connection, (with N idle − before"
    print "any) / N; heap: glibc mallinfo2 (bytes in use, mmapped blocks included); RSS: VmRSS"
    print "(whole pages, so it includes page rounding and pages touched once); kernel socket"
    print "memory excluded. Each connection sent one 64-byte message and got its echo first."
    print ""
    print "| row | server | held | heap B/conn | × best | RSS B/conn | × best |"
    print "|---|---|---:|---:|---:|---:|---:|"
    for (pass = 1; pass <= 2; pass++) {
        row = pass == 1 ? "idle:" idle_n : "idlemax:" idle_max
        for (k = 1; k <= nk; k++) {
            c = row SUBSEP kind[k]
            if (!seen[c]) continue
            if (notbuilt[c]) { printf "| %s | %s | %s | | | | |\n", rowlabel(row), kind[k], notbuilt[c]; continue }
            if (cnt[c, "held"] == 0) { printf "| %s | %s | failed | | | | |\n", rowlabel(row), kind[k]; continue }
            flag = bad[c] ? " ⚠ " bad[c] " errors" : ""
            printf "| %s | %s | %s%s | %s | %s | %s | %s |\n", rowlabel(row), kind[k],
                fmt(med[c, "held"]), flag, cellstr(c, "heap"), ratio(row, kind[k], "heap", 0),
                cellstr(c, "rss"), ratio(row, kind[k], "rss", 0)
        }
    }
    print ""
    print "× best: sockport-events and the event peers against the best of epoll, libuv and"
    print "libevent in the same row (the highest rt/s and MB/s, the lowest p99, CPU and memory);"
    print "sockport-threads against threads-plain, sockport-fork against fork-plain (ref)."
    print "io_uring (the experiment of issue #14) is measured against them, never the reference."
    print ""
    print "Targets (medians; \"met\" needs every row). \"undecided\": the spread of the"
    print "sockport-events cell (max − min over the median) is wider than its gap to the target,"
    print "so the row needs more repetitions before it counts either way:"
    print ""
    print "| row | events rt/s × best | events CPU/rt × best | threads rt/s × plain | fork rt/s × plain |"
    print "|---|---:|---:|---:|---:|"
    for (r = 1; r <= nrow; r++) {
        row = rowv[r]; m = row ~ /^bulk/ ? "mb" : "rt"
        a = ratio(row, "sockport-events", m, 1); b = ratio(row, "sockport-events", "cpu", 0)
        t = ratio(row, "sockport-threads", m, 1); f = ratio(row, "sockport-fork", m, 1)
        au = undecided(row, m, a, 1.0); bu = undecided(row, "cpu", b, cpu_target)
        printf "| %s | %s%s | %s%s | %s | %s |\n", rowlabel(row), a, (au ? " undecided" : ""),
            b, (bu ? " undecided" : ""), t, f
        if (a != "–") { n1++; if (au) u1++; else if (a + 0 >= 1.0) ok1++ }
        if (b != "–") { n2++; if (bu) u2++; else if (b + 0 <= cpu_target) ok2++ }
        if (t != "–") { n3++; if (t + 0 >= 1.0) ok3++ }
        if (f != "–") { n4++; if (f + 0 >= 1.0) ok4++ }
    }
    print ""
    printf "- event model ≥ 1.0× the best peer in rt/s (MB/s for bulk): %d of %d rows (%d undecided)\n", ok1, n1, u1
    printf "- event model ≤ %.1f× the best peer in server CPU per round trip: %d of %d rows (%d undecided)\n", cpu_target, ok2, n2, u2
    e = med[brow, "epoll", "mb"]; s = med[brow, "sockport-events", "mb"]
    if (e > 0 && s != "")
        printf "- bulk ≥ 1.0× hand-written epoll: %.2f× (%s)\n", s / e, (s / e >= 1.0 ? "met" : "missed")
    printf "- thread model ≥ 1.0× threads-plain: %d of %d rows; fork model ≥ 1.0× fork-plain: %d of %d rows\n", ok3, n3, ok4, n4
    print ""
    print "Paired by repetition (a server and its reference ran in the same repetition, seconds"
    print "apart, so the two saw the same spell of the machine): the ratio within each repetition,"
    print "median (min–max), in how many repetitions the target held, and a sign test: \"met\""
    print "or \"missed\" when that many repetitions agree less than 5 % of the time by chance"
    print "(at 10 repetitions: 9 or more of 10), else \"undecided\". The reference is the event"
    print "peer with the best median, or the plain twin. Targets: events rt/s ≥ 1.0, CPU ≤ " cpu_target ";"
    print "threads and fork rt/s ≥ 1.0, CPU ≤ 1.0."
    print ""
    print "| row | events rt/s | events CPU/rt | threads rt/s | threads CPU/rt | fork rt/s | fork CPU/rt |"
    print "|---|---|---|---|---|---|---|"
    for (r = 1; r <= nrow; r++) {
        row = rowv[r]; m = row ~ /^bulk/ ? "mb" : "rt"
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", rowlabel(row),
            pairedstr(row, "sockport-events", m, 1, 1.0), pairedstr(row, "sockport-events", "cpu", 0, cpu_target),
            pairedstr(row, "sockport-threads", m, 1, 1.0), pairedstr(row, "sockport-threads", "cpu", 0, 1.0),
            pairedstr(row, "sockport-fork", m, 1, 1.0), pairedstr(row, "sockport-fork", "cpu", 0, 1.0)
    }
    # issue #14: an io_uring engine is kept only if its server CPU per round trip is below
    # epoll'"'"'s in most rows
    nu = 0; oku = 0
    for (r = 1; r <= nrow; r++) {
        u = med[rowv[r], "io_uring", "cpu"]; e = med[rowv[r], "epoll", "cpu"]
        if (u == "" || e == "" || e == 0) continue
        nu++; if (u + 0 < e + 0) oku++
    }
    if (nu > 0)
        printf "- io_uring server CPU per round trip (per MiB for bulk) below epoll'"'"'s: %d of %d rows\n", oku, nu
    c = "idlemax:" idle_max SUBSEP "sockport-events"
    if (cnt[c, "held"] > 0) {
        h = med[c, "held"]
        printf "- idle: the event model held %d connections: %s B/conn of heap, %s B/conn of RSS (target ≤ 128 B beyond the kernel'"'"'s)\n", h, fmt(med[c, "heap"]), fmt(med[c, "rss"])
        if (h < 100000)
            print "- 100,000 idle connections: not measurable here (the descriptor hard limit is below it and raising it needs CAP_SYS_RESOURCE)"
        else
            print "- 100,000 idle connections: held"
    }
}' "$RES"
# The callgrind row: user-space instructions per round trip (does not depend on the
# machine's noise); CALLGRIND=0 skips it. Without io_uring: valgrind (3.19) runs
# io_uring_enter with every signal blocked, so the server under it never sees its SIGTERM
# (and callgrind would not count the work io_uring does in the kernel anyway).
CG_KINDS=""
for k in $KINDS_GIVEN; do [ "$k" = io_uring ] || CG_KINDS="$CG_KINDS $k"; done
if [ "${CALLGRIND:-1}" != 0 ] && command -v valgrind > /dev/null &&
    { [ -z "$KINDS_GIVEN" ] || [ -n "$CG_KINDS" ]; }; then
    echo
    KINDS=$CG_KINDS NO_NETNS=1 BIN="$BIN" sh "$HERE/bench/callgrind_echo.sh" | sed '1,2d' |
        sed '1i Callgrind, pingpong 100 × 64 B (target: sockport-events ≤ 1.5× epoll):\n'
fi
if [ -s "$ERRLOG" ] || [ -s "$TMP/load.err" ]; then
    echo
    echo "Errors reported (first lines):"
    echo
    echo '```'
    cat "$ERRLOG" "$TMP/load.err" | head -20
    echo '```'
fi
