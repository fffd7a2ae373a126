#!/bin/sh
# echo_bench.sh [seconds] - sockport's echo server (three models) against hand-written
# epoll, libuv and libevent; prints one Markdown table (see docs/benchmarks.md).
#
# Every server runs pinned to CPU 1, the load generator to CPU 0, on 127.0.0.1 (ports
# chosen by the kernel: the server prints "listening HOST:PORT"). Rows are interleaved:
# each (conns, size) row runs against every server before the next row. One repetition.
# Server CPU is utime+stime (+ cutime+cstime: the fork model's reaped children) from
# /proc/PID/stat, sampled before and after the load, per round trip.
#
# BIN overrides the program (default: build/native/bin/sockport_bench_echo). Installs
# nothing: servers the program was built without (libuv, libevent) show "not built".
set -u
SECONDS_PER_RUN=${1:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$HERE/build/native/bin/sockport_bench_echo}
KINDS="sockport-events sockport-threads sockport-fork epoll libuv libevent"
ROWS="1:64 100:64 100:16384"
TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if [ ! -x "$BIN" ]; then
    echo "echo_bench: $BIN not found; build it: cmake --build --preset native --target sockport_bench_echo" >&2
    exit 1
fi
if [ "$(nproc)" -ge 2 ]; then
    SRV_PIN="taskset -c 1"; LOAD_PIN="taskset -c 0"
else
    SRV_PIN=""; LOAD_PIN=""
fi
BUILT=$("$BIN" 2>&1 | sed -n 's/^KIND: //p')

# utime+stime+cutime+cstime of a process, in clock ticks (fields 14-17 of its stat;
# the fields after the command name, which is in parentheses, start at field 3).
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }'
}

is_built() {
    case ", $BUILT," in *", $1,"*) return 0 ;; esac
    return 1
}

for row in $ROWS; do
    conns=${row%%:*}; size=${row##*:}
    for kind in $KINDS; do
        out="$TMP/$kind-$conns-$size"
        if ! is_built "$kind"; then
            echo "notbuilt" > "$out"
            continue
        fi
        $SRV_PIN "$BIN" server "$kind" 127.0.0.1:0 > "$TMP/srv.out" 2> "$TMP/srv.err" &
        pid=$!
        addr=""
        i=0
        while [ $i -lt 50 ] && [ -z "$addr" ]; do
            addr=$(sed -n 's/^listening //p' "$TMP/srv.out")
            [ -z "$addr" ] && sleep 0.1
            i=$((i + 1))
        done
        if [ -z "$addr" ]; then
            echo "failed" > "$out"
            kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null
            continue
        fi
        c0=$(cpu_ticks $pid)
        load=$($LOAD_PIN "$BIN" load "$addr" "$conns" "$size" "$SECONDS_PER_RUN")
        sleep 0.3 # the fork model reaps its children within 100 ms
        c1=$(cpu_ticks $pid)
        kill -TERM $pid
        wait $pid
        echo "$load cpu_ticks=$((c1 - c0))" > "$out"
    done
done

field() { # field NAME LINE
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

echo "Echo servers, 4-byte length prefix; ${SECONDS_PER_RUN} s per run, 1 repetition (no median), rows interleaved;"
echo "server on CPU 1, load (1 thread, epoll, ping-pong per connection) on CPU 0; $(uname -sr), $(nproc) CPUs."
echo "ratio = rt/s over the best peer (epoll, libuv, libevent) in the same row."
echo
echo "| kind | conns | size | rt/s | p50 µs | p99 µs | server CPU µs/rt | ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for row in $ROWS; do
    conns=${row%%:*}; size=${row##*:}
    best=0
    for kind in epoll libuv libevent; do
        line=$(cat "$TMP/$kind-$conns-$size")
        r=$(field rt_per_s "$line")
        [ -n "$r" ] && best=$(awk -v a="$best" -v b="$r" 'BEGIN { print (b > a ? b : a) }')
    done
    for kind in $KINDS; do
        line=$(cat "$TMP/$kind-$conns-$size")
        case "$line" in
        notbuilt) echo "| $kind | $conns | $size | not built | | | | |"; continue ;;
        failed) echo "| $kind | $conns | $size | failed to start | | | | |"; continue ;;
        esac
        rt=$(field rt "$line"); rps=$(field rt_per_s "$line")
        p50=$(field p50_us "$line"); p99=$(field p99_us "$line")
        err=$(field errors "$line"); ticks=$(field cpu_ticks "$line")
        awk -v k="$kind" -v c="$conns" -v s="$size" -v rt="$rt" -v rps="$rps" -v p50="$p50" \
            -v p99="$p99" -v t="$ticks" -v tck="$TCK" -v best="$best" -v err="$err" 'BEGIN {
            cpu = rt > 0 ? t / tck * 1e6 / rt : 0
            ratio = best > 0 ? sprintf("%.2f", rps / best) : "-"
            note = err > 0 ? sprintf(" (%d errors)", err) : ""
            printf "| %s | %d | %d | %d%s | %.1f | %.1f | %.2f | %s |\n", k, c, s, rps, note, p50, p99, cpu, ratio
        }'
    done
done
