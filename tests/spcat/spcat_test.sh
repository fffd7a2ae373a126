#!/usr/bin/env bash
# spcat_test.sh CASE SPCAT [EMULATOR...] - drive spcat through its command line.
#
# ctest runs one CASE per test (tools/CMakeLists.txt). The cross build passes its emulator
# (cmake/wine-run.sh), so SPCAT is spcat.exe run under Wine. Listeners bind port 0 and the
# test reads the real port from spcat's "-v" line "spcat: listening on ADDR:PORT"; nothing
# uses a fixed port. Every spcat run is bounded by `timeout`. Exit 0: passed, 1: failed,
# 77: skipped (the reason is printed).
set -u
case_name=$1
spcat_bin=$2
shift 2
emu=("$@")
wine=0
[[ ${#emu[@]} -gt 0 ]] && wine=1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/spcat-test.XXXXXX")
pids=()
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

T=40 # bound on one spcat run, in seconds (Wine start-up included)
# the most a timed-out run may take beyond its limit, in ms (start-up, a loaded machine)
slack=$((wine ? 30000 : 10000))

# spcat ARGS...: run spcat (under the emulator if any), bounded.
spcat() {
    timeout "$T" "${emu[@]}" "$spcat_bin" "$@"
}

show() {
    local f
    for f in "$work"/*.err "$work"/*.log; do
        [[ -e $f ]] && { echo "--- $(basename "$f"):"; tr -d '\r' <"$f"; }
    done
}

fail() {
    echo "FAIL ($case_name): $*"
    show
    exit 1
}

skip() {
    echo "SKIP ($case_name): $*"
    exit 77
}

note_wine() {
    echo "[   WINE   ] $*"
}

now_ms() {
    echo $(($(date +%s%N) / 1000000))
}

# wait_for FILE REGEX [SECONDS]: until a line of FILE matches (CRs ignored).
wait_for() {
    local i n=$((${3:-30} * 10))
    for ((i = 0; i < n; i++)); do
        [[ -e $1 ]] && tr -d '\r' <"$1" | grep -Eq -- "$2" && return 0
        sleep 0.1
    done
    return 1
}

# has FILE REGEX: a line of FILE matches (CRs ignored).
has() {
    tr -d '\r' <"$1" | grep -Eq -- "$2"
}

# spcat_bg NAME STDIN ARGS...: spcat ARGS in the background, stdout in NAME.out, stderr
# in NAME.err; SERVER_PID is the pid of `timeout`, which passes a kill on to spcat.
spcat_bg() {
    local name=$1 input=$2
    shift 2
    timeout "$T" "${emu[@]}" "$spcat_bin" "$@" <"$input" >"$work/$name.out" 2>"$work/$name.err" &
    SERVER_PID=$!
    pids+=("$SERVER_PID")
}

# start_server NAME STDIN ARGS...: spcat_bg NAME STDIN -v ARGS, then set PORT from its
# "listening on" line.
start_server() {
    local name=$1 input=$2
    shift 2
    spcat_bg "$name" "$input" -v "$@"
    if ! wait_for "$work/$name.err" '^spcat: listening on ' 30; then
        fail "server $name did not say where it listens"
    fi
    PORT=$(tr -d '\r' <"$work/$name.err" | sed -n 's/^spcat: listening on .*:\([0-9][0-9]*\)\( (UDP)\)\{0,1\}$/\1/p')
    [[ -n $PORT ]] || PORT=none
}

# finish PID NAME WANT: wait for a background spcat, check its exit status.
finish() {
    local rc
    wait "$1"
    rc=$?
    [[ $rc == "$3" ]] || fail "$2 exited with $rc, wanted $3"
}

# hold: a FIFO opened read-write, as a standard input that never ends.
hold() {
    [[ -p $work/hold ]] || mkfifo "$work/hold"
    echo "$work/hold"
}

same() {
    cmp -s "$1" "$2" || fail "$1 and $2 differ ($(wc -c <"$1") vs $(wc -c <"$2") bytes)"
}

case $case_name in
relay_binary)
    # 1 MiB of random bytes each way at once, byte for byte
    head -c 1048576 /dev/urandom >"$work/a"
    head -c 1048576 /dev/urandom >"$work/b"
    start_server srv "$work/b" -l 127.0.0.1:0
    spcat -v "127.0.0.1:$PORT" <"$work/a" >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    [[ $rc == 0 ]] || fail "client exited with $rc"
    finish "$SERVER_PID" server 0
    same "$work/a" "$work/srv.out"
    same "$work/b" "$work/cli.out"
    has "$work/cli.err" 'end of standard input after 1048576 bytes; write side shut down' ||
        fail "client did not report the end of its input"
    has "$work/srv.err" 'the peer closed its side after 1048576 bytes' ||
        fail "server did not report the end of the peer's stream"
    ;;

half_close)
    # The server side answers only after it has read the request to its end: the client
    # must shut down its write side at the end of its input and keep reading the reply.
    mkfifo "$work/srv.in"
    {
        wait_for "$work/srv.err" 'the peer closed its side' 30 &&
            printf 'HTTP/1.0 200 OK\r\n\r\nreply sent after the request ended\n'
    } >"$work/srv.in" &
    pids+=($!)
    start_server srv "$work/srv.in" -l 127.0.0.1:0
    printf 'GET / HTTP/1.0\r\n\r\n' >"$work/request"
    printf 'HTTP/1.0 200 OK\r\n\r\nreply sent after the request ended\n' >"$work/reply"
    # HOST PORT form
    spcat -v 127.0.0.1 "$PORT" <"$work/request" >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    [[ $rc == 0 ]] || fail "client exited with $rc"
    finish "$SERVER_PID" server 0
    same "$work/request" "$work/srv.out"
    same "$work/reply" "$work/cli.out"
    order=$(tr -d '\r' <"$work/cli.err" | grep -E -o 'end of standard input|the peer closed' | tr '\n' ,)
    [[ $order == "end of standard input,the peer closed," ]] ||
        fail "client events in the wrong order: $order"
    ;;

quit)
    # -q: the client ends when the server closes, though its own input never ends
    printf 'bye\n' >"$work/bye"
    start_server srv "$work/bye" -l 127.0.0.1:0
    h=$(hold)
    t0=$(now_ms)
    spcat -q -v "127.0.0.1:$PORT" <>"$h" >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    el=$(($(now_ms) - t0))
    [[ $rc == 0 ]] || fail "client exited with $rc after $el ms"
    [[ $(cat "$work/cli.out") == bye ]] || fail "client printed '$(cat "$work/cli.out")'"
    finish "$SERVER_PID" server 0
    ;;

udp)
    # -w 5: time for the other side to start and answer, even on a loaded machine; each
    # side then ends after 5 s of silence, with 0 because a datagram arrived
    mkfifo "$work/srv.in"
    {
        wait_for "$work/srv.err" 'datagram from' 30 && printf 'pong\n'
    } >"$work/srv.in" &
    pids+=($!)
    start_server srv "$work/srv.in" -u -l -w 5 127.0.0.1:0
    has "$work/srv.err" 'listening on 127\.0\.0\.1:[0-9]+ \(UDP\)' || fail "no UDP listening line"
    printf 'ping\n' | spcat -u -v -w 5 "127.0.0.1:$PORT" >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    [[ $rc == 0 ]] || fail "client exited with $rc"
    [[ $(cat "$work/cli.out") == pong ]] || fail "client printed '$(cat "$work/cli.out")'"
    finish "$SERVER_PID" server 0
    [[ $(cat "$work/srv.out") == ping ]] || fail "server printed '$(cat "$work/srv.out")'"
    # nothing ever arrives: -w ends it with 3
    start_server lone /dev/null -u -l -w 1 127.0.0.1:0
    finish "$SERVER_PID" "lone UDP listener" 3
    has "$work/lone.err" '^spcat: no datagram for 1 s: timed out \(SP_ETIMEDOUT\)$' ||
        fail "lone UDP listener: no timeout message"
    ;;

unix)
    path="$work/s.sock"
    if [[ $wine == 1 ]]; then
        # Wine 8 has no AF_UNIX sockets (socket() fails with WSAEAFNOSUPPORT; Windows 10
        # 1803+ has them): check that spcat says so, then skip the exchange.
        spcat -l -v "unix:$path" </dev/null >"$work/srv.out" 2>"$work/srv.err"
        rc=$?
        if [[ $rc == 2 ]] && has "$work/srv.err" 'SP_EAFNOSUPPORT'; then
            note_wine "AF_UNIX is not supported by Wine (WSAEAFNOSUPPORT); spcat exited 2 with: $(tr -d '\r' <"$work/srv.err" | tail -1)"
            skip "Unix-domain sockets do not exist under Wine"
        fi
        note_wine "this Wine has AF_UNIX (spcat exited $rc); running the exchange"
        rm -f "$path"
    fi
    printf 'from the server\n' >"$work/s_in"
    printf 'from the client\n' >"$work/c_in"
    start_server srv "$work/s_in" -l "unix:$path"
    has "$work/srv.err" "listening on unix:$path" || fail "no unix listening line"
    spcat -v "unix:$path" <"$work/c_in" >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    [[ $rc == 0 ]] || fail "client exited with $rc"
    finish "$SERVER_PID" server 0
    same "$work/c_in" "$work/srv.out"
    same "$work/s_in" "$work/cli.out"
    [[ ! -e $path ]] || fail "the listener left its socket file behind"
    ;;

ipv6)
    printf 'six from the server\n' >"$work/s_in"
    printf 'six from the client\n' >"$work/c_in"
    spcat_bg srv "$work/s_in" -6 -l -v '[::1]:0'
    if ! wait_for "$work/srv.err" '^spcat: listening on ' 30; then
        wait "$SERVER_PID"
        if has "$work/srv.err" 'SP_EADDRNOTAVAIL|SP_EAFNOSUPPORT'; then
            skip "no IPv6 loopback here: $(tr -d '\r' <"$work/srv.err" | tail -1)"
        fi
        fail "IPv6 listener did not start"
    fi
    PORT=$(tr -d '\r' <"$work/srv.err" | sed -n 's/^spcat: listening on \[::1\]:\([0-9]*\)$/\1/p')
    [[ -n $PORT ]] || fail "listening line is not [::1]:PORT"
    # HOST PORT form with a bare IPv6 literal: spcat adds the brackets
    spcat -6 -v ::1 "$PORT" <"$work/c_in" >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    [[ $rc == 0 ]] || fail "client exited with $rc"
    finish "$SERVER_PID" server 0
    same "$work/c_in" "$work/srv.out"
    same "$work/s_in" "$work/cli.out"
    has "$work/srv.err" '^spcat: connection from \[::1\]:[0-9]+$' || fail "no IPv6 peer line"
    ;;

refused)
    command -v python3 >/dev/null || skip "python3 is needed to hold a closed port"
    python3 "$here/tcp_helper.py" closed <>"$(hold)" >"$work/helper.log" &
    pids+=($!)
    wait_for "$work/helper.log" '^port ' 30 || fail "helper did not start"
    port=$(sed -n 's/^port //p' "$work/helper.log")
    spcat "127.0.0.1:$port" </dev/null >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    [[ $rc == 2 ]] || fail "exit $rc for a refused connection, wanted 2"
    want="spcat: connect 127.0.0.1:$port: connection refused (SP_ECONNREFUSED)"
    [[ $(tr -d '\r' <"$work/cli.err") == "$want" ]] ||
        fail "message '$(tr -d '\r' <"$work/cli.err")', wanted '$want'"
    ;;

connect_timeout)
    command -v python3 >/dev/null || skip "python3 is needed for a listener with a full backlog"
    python3 "$here/tcp_helper.py" full <>"$(hold)" >"$work/helper.log" &
    pids+=($!)
    wait_for "$work/helper.log" '^(full|never full)$' 30 || fail "helper did not start"
    has "$work/helper.log" '^full$' ||
        skip "this system completes every handshake to a full backlog: no connect timeout to provoke"
    port=$(sed -n 's/^port //p' "$work/helper.log")
    t0=$(now_ms)
    spcat -w 1 "127.0.0.1:$port" </dev/null >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    el=$(($(now_ms) - t0))
    [[ $rc == 3 ]] || fail "exit $rc after $el ms for a connect timeout, wanted 3"
    ((el >= 900 && el <= 1000 + slack)) || fail "-w 1 connect took $el ms"
    want="spcat: connect 127.0.0.1:$port: timed out (SP_ETIMEDOUT)"
    [[ $(tr -d '\r' <"$work/cli.err") == "$want" ]] ||
        fail "message '$(tr -d '\r' <"$work/cli.err")', wanted '$want'"
    # a name: -w bounds the whole dial, resolution included (sp_dial_ex)
    t0=$(now_ms)
    spcat -w 1 "localhost:$port" </dev/null >"$work/cli.out" 2>"$work/cli2.err"
    rc=$?
    el2=$(($(now_ms) - t0))
    [[ $rc == 3 ]] || fail "exit $rc after $el2 ms for localhost:$port, wanted 3"
    ((el2 >= 900 && el2 <= 1000 + slack)) || fail "-w 1 connect to localhost took $el2 ms"
    echo "connect timeout after $el ms (localhost: $el2 ms)"
    ;;

idle_timeout)
    h=$(hold)
    exec 3<>"$h"
    start_server srv "$h" -q -l 127.0.0.1:0
    t0=$(now_ms)
    spcat -w 1.5 "127.0.0.1:$PORT" <&3 >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    el=$(($(now_ms) - t0))
    [[ $rc == 3 ]] || fail "exit $rc after $el ms of silence, wanted 3"
    ((el >= 1400 && el <= 1500 + slack)) || fail "-w 1.5 idle timeout took $el ms"
    [[ $(tr -d '\r' <"$work/cli.err") == "spcat: idle for 1.5 s: timed out (SP_ETIMEDOUT)" ]] ||
        fail "message '$(tr -d '\r' <"$work/cli.err")'"
    # the server (-q) ends when the client is gone
    finish "$SERVER_PID" server 0
    echo "idle timeout after $el ms"
    ;;

accept_timeout)
    t0=$(now_ms)
    spcat -l -w 1 127.0.0.1:0 </dev/null >"$work/srv.out" 2>"$work/srv.err"
    rc=$?
    el=$(($(now_ms) - t0))
    [[ $rc == 3 ]] || fail "exit $rc, wanted 3"
    ((el >= 900 && el <= 1000 + slack)) || fail "-w 1 accept wait took $el ms"
    [[ $(tr -d '\r' <"$work/srv.err") == "spcat: no connection within 1 s: timed out (SP_ETIMEDOUT)" ]] ||
        fail "message '$(tr -d '\r' <"$work/srv.err")'"
    ;;

frame)
    # both ends --frame: every line is one message; a CR before LF and the LF are not
    # sent; an unterminated last line is a message; messages print as lines
    printf 'alpha\r\n\nlast without newline' >"$work/s_in"
    printf 'hello\n\nworld with  spaces\n\001\377 binary\n' >"$work/c_in"
    start_server srv "$work/s_in" --frame -l 127.0.0.1:0
    spcat --frame -v "127.0.0.1:$PORT" <"$work/c_in" >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    [[ $rc == 0 ]] || fail "client exited with $rc"
    finish "$SERVER_PID" server 0
    printf 'alpha\n\nlast without newline\n' >"$work/s_want"
    same "$work/c_in" "$work/srv.out"
    same "$work/s_want" "$work/cli.out"
    ;;

frame_wire)
    # the wire format: a 4-byte big-endian length, then the bytes (a raw spcat on the
    # other end sees and writes it)
    printf 'ab\n' >"$work/s_in"
    printf '\000\000\000\005hello\000\000\000\000' >"$work/c_in"
    start_server srv "$work/s_in" --frame -l 127.0.0.1:0
    spcat "127.0.0.1:$PORT" <"$work/c_in" >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    [[ $rc == 0 ]] || fail "raw client exited with $rc"
    finish "$SERVER_PID" server 0
    printf 'hello\n\n' >"$work/s_want"
    printf '\000\000\000\002ab' >"$work/c_want"
    same "$work/s_want" "$work/srv.out"
    same "$work/c_want" "$work/cli.out"
    # a message cut by the end of the stream is a transfer error (4)
    printf '\000\000\000\011abc' >"$work/cut"
    start_server cut /dev/null --frame -l 127.0.0.1:0
    spcat "127.0.0.1:$PORT" <"$work/cut" >/dev/null 2>"$work/cutcli.err"
    finish "$SERVER_PID" "server given a cut message" 4
    has "$work/cut.err" 'the peer closed in the middle of a message \(7 bytes of it arrived\)' ||
        fail "no message for the cut frame"
    ;;

frame_limits)
    # a message over 1 MiB announced by the peer, and an input line over 1 MiB: exit 4
    printf '\000\040\000\000abc' >"$work/big"
    start_server big /dev/null --frame -l 127.0.0.1:0
    spcat "127.0.0.1:$PORT" <"$work/big" >/dev/null 2>"$work/bigcli.err"
    finish "$SERVER_PID" "server given a 2 MiB message" 4
    has "$work/big.err" '^spcat: --frame: received a message longer than 1048576 bytes: .* \(SP_EMSGSIZE\)$' ||
        fail "no message for the oversize frame"
    head -c 1100000 /dev/zero | tr '\0' a >"$work/longline"
    start_server long /dev/null -l 127.0.0.1:0
    spcat --frame "127.0.0.1:$PORT" <"$work/longline" >/dev/null 2>"$work/longcli.err"
    rc=$?
    [[ $rc == 4 ]] || fail "a 1.1 MB input line with --frame: exit $rc, wanted 4"
    has "$work/longcli.err" '^spcat: --frame: a line of standard input is longer than 1048576 bytes: .* \(SP_EMSGSIZE\)$' ||
        fail "no message for the long line"
    finish "$SERVER_PID" "server of the long-line client" 0
    [[ ! -s $work/long.out ]] || fail "a part of the long line was sent"
    ;;

keepalive)
    printf 'k\n' >"$work/s_in"
    start_server srv "$work/s_in" --keepalive 7,3,4 -l 127.0.0.1:0
    printf 'k\n' | spcat -v --keepalive=7,3,4 "127.0.0.1:$PORT" >"$work/cli.out" 2>"$work/cli.err"
    rc=$?
    [[ $rc == 0 ]] || fail "client exited with $rc"
    finish "$SERVER_PID" server 0
    [[ $(cat "$work/cli.out") == k && $(cat "$work/srv.out") == k ]] || fail "data did not flow"
    for side in srv cli; do
        if has "$work/$side.err" '^spcat: keepalive on: idle 7 s, interval 3 s, count 4$'; then
            continue
        fi
        if [[ $wine == 1 ]] && has "$work/$side.err" 'SP_KEEPALIVE_PARTIAL|SP_ENOPROTOOPT'; then
            note_wine "$side: Wine has no TCP_KEEPIDLE/INTVL/CNT (WSAENOPROTOOPT): $(tr -d '\r' <"$work/$side.err" | grep -m1 keepalive)"
            continue
        fi
        fail "$side did not set keepalive 7,3,4"
    done
    ;;

keep_listening)
    # -k: one connection after another, each served in full
    start_server srv /dev/null -k -l 127.0.0.1:0
    for word in one two; do
        printf '%s\n' "$word" | spcat "127.0.0.1:$PORT" >/dev/null 2>"$work/cli_$word.err"
        rc=$?
        [[ $rc == 0 ]] || fail "client $word exited with $rc"
        wait_for "$work/srv.out" "^$word\$" 30 || fail "server did not print '$word'"
    done
    [[ $(tr -d '\r' <"$work/srv.err" | grep -c '^spcat: connection from ') == 2 ]] ||
        fail "server did not accept two connections"
    kill "$SERVER_PID" 2>/dev/null
    ;;

bad_args)
    spcat --help >"$work/help.out" 2>&1 || fail "--help did not exit 0"
    has "$work/help.out" '^Exit status: 0 ok, 1 usage' || fail "--help does not list exit codes"
    spcat --version >"$work/version.out" 2>&1 || fail "--version did not exit 0"
    has "$work/version.out" '^spcat [0-9.]+ \(sockport [0-9.]+, (posix|win32)\)$' ||
        fail "--version: $(cat "$work/version.out")"
    bad=(
        ""
        "-w"
        "-w abc 127.0.0.1:1"
        "-w 0 127.0.0.1:1"
        "--keepalive 1,2 127.0.0.1:1"
        "--keepalive=a,b,c 127.0.0.1:1"
        "--bogus 127.0.0.1:1"
        "-x 127.0.0.1:1"
        "-k 127.0.0.1:1"
        "-u unix:/tmp/spcat-never"
        "-u --frame 127.0.0.1:1"
        "-u --keepalive 1,1,1 127.0.0.1:1"
        "127.0.0.1:70000"
        "127.0.0.1 port"
        "a b c"
    )
    for args in "${bad[@]}"; do
        # shellcheck disable=SC2086 # the words are the arguments
        spcat $args </dev/null >"$work/bad.out" 2>"$work/bad.err"
        rc=$?
        [[ $rc == 1 ]] || fail "'spcat $args' exited with $rc, wanted 1"
        has "$work/bad.err" '^spcat: ' || fail "'spcat $args' gave no 'spcat:' message"
    done
    ;;

*)
    echo "unknown case $case_name"
    exit 1
    ;;
esac
echo "PASS ($case_name)"
exit 0
