#!/bin/sh
# callgrind_echo.sh - user-space instructions per round trip of each echo server, counted
# by callgrind (noise-free: it does not depend on what else the machine runs).
#
#   bench/callgrind_echo.sh                       pingpong 100 x 64 B, every event server
#   KINDS="sockport-events epoll" bench/callgrind_echo.sh
#   ROW=pp:1:16384 bench/callgrind_echo.sh        another row (pp:CONNS:SIZE)
#   ROW=st:100:64:16 bench/callgrind_echo.sh      a stream row (st:CONNS:SIZE:INFLIGHT)
#   TOP=15 bench/callgrind_echo.sh                also each server's 15 costliest functions
#
# Method. Each server (sockport_bench_echo server KIND) runs under
# `valgrind --tool=callgrind` and is driven natively by the load generator
# (sockport_bench_echo load pingpong) twice: a short run (S1 seconds) and a long one (S2),
# each against a fresh server. The load prints every echo it received (rt_all, warm-up and
# drain included); the instructions per round trip are
#     (Ir(long) - Ir(short)) / (rt_all(long) - rt_all(short))
# so the start, the accepts, the closes and the exit cancel out and only the steady state
# is counted. Only user-space instructions are counted (the kernel's work is not): the
# count is what a server's own code and its libraries cost per round trip. Under
# valgrind a server runs ~50x slower, so the load always waits for it: every server is
# measured saturated, as on the wall-clock rows.
#
# Environment: KINDS (default: the event servers built), ROW (pp:CONNS:SIZE or
# st:CONNS:SIZE:INFLIGHT, default pp:100:64; in a stream row a round trip is an echo
# received), S1 / S2 (seconds, default 1 and 3), MIN_RT (the fewest round trips the
# difference may count, 3000: a long run that stalled is run again, twice as long), TOP
# (functions listed per server, 0), BIN (default build/native/bin/sockport_bench_echo),
# KEEP=1 (keep the profiles), NO_NETNS=1.
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
SELF="$HERE/bench/$(basename "$0")"
# shellcheck source=bench/lib.sh
. "$HERE/bench/lib.sh"
if [ -z "${ECHO_BENCH_IN_NS:-}" ] && [ -z "${NO_NETNS:-}" ] && unshare -n true 2>/dev/null; then
    export ECHO_BENCH_IN_NS=1
    # shellcheck disable=SC2016
    exec unshare -n sh -c 'ip link set lo up && exec sh "$0" "$@"' "$SELF" "$@"
fi
BIN=${BIN:-$HERE/build/native/bin/sockport_bench_echo}
ROW=${ROW:-pp:100:64}
S1=${S1:-1}
S2=${S2:-3}
TOP=${TOP:-0}
MIN_RT=${MIN_RT:-3000}
if [ ! -x "$BIN" ]; then
    echo "callgrind_echo: $BIN not found; build it: cmake --build build/native --target sockport_bench_echo" >&2
    exit 1
fi
command -v valgrind > /dev/null || { echo "callgrind_echo: valgrind is not installed" >&2; exit 1; }
BUILT=$("$BIN" 2>&1 | sed -n 's/^KIND: //p')
if [ -z "${KINDS:-}" ]; then
    KINDS=""
    for k in sockport-events epoll libuv libevent; do
        case ", $BUILT," in *", $k,"*) KINDS="$KINDS $k" ;; esac
    done
fi
# valgrind 3.19 cannot stop an io_uring server (it sits in io_uring_enter with SIGTERM
# pending: docs/benchmarks.md): never measured here
case " $KINDS " in
*" io_uring "*)
    echo "callgrind_echo: io_uring left out (valgrind cannot stop it)" >&2
    KINDS=$(echo " $KINDS " | sed 's/ io_uring / /')
    ;;
esac
case "$ROW" in
pp:*:*) MODE=pingpong INFLIGHT="" rest=${ROW#pp:} ;;
st:*:*:*) MODE=stream rest=${ROW#st:} INFLIGHT=${ROW##*:} rest=${rest%:*} ;;
*)
    echo "callgrind_echo: ROW is pp:CONNS:SIZE or st:CONNS:SIZE:INFLIGHT, not $ROW" >&2
    exit 1
    ;;
esac
CONNS=${rest%%:*}
SIZE=${rest##*:}
TMP=$(mktemp -d)
SRV_PID=""
cleanup() {
    [ -n "$SRV_PID" ] && kill -TERM "$SRV_PID" 2> /dev/null
    if [ -n "${KEEP:-}" ]; then echo "callgrind_echo: kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# measure KIND SECONDS TAG: runs the server under callgrind; prints "IR RT_ALL" (empty on
# failure); keeps the profile in $TMP/KIND.TAG.cg.
measure() {
    out=$TMP/$1.$3
    : > "$out.srv"
    valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$BIN" server "$1" 127.0.0.1:0 \
        > "$out.srv" 2> "$out.vg" &
    SRV_PID=$!
    addr=$(wait_listening "$out.srv" 300 0.1)
    if [ -z "$addr" ]; then
        echo "callgrind_echo: $1 did not start" >&2
        kill -KILL "$SRV_PID" 2> /dev/null
        SRV_PID=""
        return
    fi
    # shellcheck disable=SC2086 # INFLIGHT is empty (pingpong) or one number (stream)
    load=$("$BIN" load "$MODE" "$addr" "$CONNS" "$SIZE" "$2" $INFLIGHT 2> "$out.load")
    kill -TERM "$SRV_PID"
    wait "$SRV_PID"
    SRV_PID=""
    rt=$(echo "$load" | sed -n 's/.*rt_all=\([0-9]*\).*/\1/p')
    err=$(echo "$load" | sed -n 's/.* errors=\([0-9]*\).*/\1/p')
    ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$out.cg")
    if [ -z "$rt" ] || [ -z "$ir" ] || [ "${err:-1}" != 0 ]; then
        echo "callgrind_echo: $1: no count (load: $load)" >&2
        return
    fi
    echo "$ir $rt"
}

printf '### Callgrind: user-space instructions per round trip, %s %s x %s B%s\n\n' "$MODE" \
    "$CONNS" "$SIZE" "${INFLIGHT:+, $INFLIGHT in flight}"
# shellcheck disable=SC2016 # the backquotes are Markdown
printf -- '- command: `ROW=%s S1=%s S2=%s bench/callgrind_echo.sh` (%s)\n' "$ROW" "$S1" "$S2" \
    "$(valgrind --version)"
printf -- '- (Ir(%s s run) - Ir(%s s run)) / (echoes(%s s) - echoes(%s s)): start, accepts,\n' \
    "$S2" "$S1" "$S2" "$S1"
printf '  closes and exit cancel out; the kernel is not counted\n\n'
printf '| server | instructions / round trip | x epoll | round trips counted |\n'
printf '|---|---:|---:|---:|\n'
: > "$TMP/rows"
for kind in $KINDS; do
    a=$(measure "$kind" "$S1" short)
    b=$(measure "$kind" "$S2" long)
    # a loaded machine can stall a run under valgrind: the long run must have counted at
    # least MIN_RT more round trips than the short one, else it is run again, longer
    s2=$S2
    for retry in 1 2; do
        [ -z "$a" ] || [ -z "$b" ] && break
        [ $((${b#* } - ${a#* })) -ge "$MIN_RT" ] && break
        s2=$((s2 * 2))
        echo "callgrind_echo: $kind: $((${b#* } - ${a#* })) round trips apart; long run again ($s2 s, retry $retry)" >&2
        b=$(measure "$kind" "$s2" long)
    done
    if [ -z "$a" ] || [ -z "$b" ]; then
        echo "$kind - -" >> "$TMP/rows"
        continue
    fi
    echo "$kind $a $b" | awk '{ d = $5 - $3; if (d <= 0) print $1, "-", "-"; else printf "%s %.0f %d\n", $1, ($4 - $2) / d, d }' >> "$TMP/rows"
done
awk '
    { kind[NR] = $1; ipr[NR] = $2; n[NR] = $3; if ($1 == "epoll") ref = $2 }
    END {
        for (i = 1; i <= NR; i++) {
            x = (ref != "" && ref != "-" && ipr[i] != "-") ? sprintf("%.2f", ipr[i] / ref) : "-"
            printf "| %s | %s | %s | %s |\n", kind[i], ipr[i], x, n[i]
        }
    }' "$TMP/rows"
# fn_costs PROFILE: "COST FUNCTION" per function (self cost), from callgrind_annotate.
fn_costs() {
    callgrind_annotate --auto=no --threshold=100 "$1" 2> /dev/null | sed -n '/file:function/,$p' |
        sed -n 's/^ *\([0-9,]*\) ([ 0-9.%]*) *\([^ ]*\).*/\1 \2/p' | tr -d ',' |
        sed 's|/work/[^ ]*/src/|src/|; s|/work/[^ ]*/bench/|bench/|; s| \./.*/| |'
}
if [ "$TOP" -gt 0 ] && command -v callgrind_annotate > /dev/null; then
    while read -r kind ipr d; do
        [ "$ipr" = - ] && continue
        if [ ! -f "$TMP/$kind.long.cg" ] || [ ! -f "$TMP/$kind.short.cg" ]; then
            continue
        fi
        fn_costs "$TMP/$kind.short.cg" > "$TMP/fs"
        fn_costs "$TMP/$kind.long.cg" > "$TMP/fl"
        printf '\n%s: the %s costliest functions, self instructions per round trip (same\n' "$kind" "$TOP"
        printf 'difference of the two runs):\n\n```\n'
        awk -v d="$d" 'NR == FNR { s[$2] = $1; next } { c[$2] = $1 - s[$2] }
            END { for (f in c) printf "%8.1f  %s\n", c[f] / d, f }' "$TMP/fs" "$TMP/fl" |
            sort -rn | head -n "$TOP"
        printf '```\n'
    done < "$TMP/rows"
fi
