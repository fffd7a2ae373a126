#!/usr/bin/env bash
# httpd_test.sh CASE MODEL HTTPD [EMULATOR...] - drive examples/httpd.c with curl and a raw
# client (http_client.py) in one concurrency model.
#
# ctest runs one CASE per model (examples/CMakeLists.txt). The cross build passes its
# emulator (cmake/wine-run.sh), so HTTPD is sockport_httpd.exe run under Wine and the
# native curl talks to it over loopback: run ctest inside `unshare -n` so that the
# wineserver the first test starts lives in the same network namespace as curl
# (docs: /work/shared/wine-notes.md). The server binds port 0 and the test reads the port
# from its "httpd: listening on ADDR:PORT" line. Exit 0: passed, 1: failed, 77: skipped.
set -u
case_name=$1
model=$2
httpd_bin=$3
shift 3
emu=("$@")
wine=0
[[ ${#emu[@]} -gt 0 ]] && wine=1
here=$(cd "$(dirname "$0")" && pwd)
client=("python3" "$here/http_client.py")
work=$(mktemp -d "${TMPDIR:-/tmp}/httpd-test.XXXXXX")
SERVER_PID=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

T=120 # bound on one server run, in seconds
slack=$((wine ? 30 : 10)) # seconds a bounded wait may take beyond its bound (a loaded machine)

fail() {
    local f
    echo "FAIL (httpd.$model.$case_name): $*"
    for f in "$work"/*.log "$work"/*.err; do
        [[ -e $f ]] && { echo "--- $(basename "$f"):"; tr -d '\r' <"$f" | tail -20; }
    done
    exit 1
}

skip() {
    echo "SKIP (httpd.$model.$case_name): $*"
    exit 77
}

command -v curl >/dev/null || skip "curl is not installed (Debian package curl)"
command -v python3 >/dev/null || skip "python3 is not installed"

# The document root: small files of a few types and a 20 MiB file of random bytes.
mkdir -p "$work/root/sub" "$work/root/dir"
printf '<h1>index</h1>\n' >"$work/root/index.html"
printf 'hello\n' >"$work/root/a.txt"
printf '{"b": 1}\n' >"$work/root/sub/b.json"
printf 'secret\n' >"$work/secret.txt"

big() {
    [[ -e $work/root/big.bin ]] || head -c $((20 << 20)) /dev/urandom >"$work/root/big.bin"
}

# start_server ARGS...: the server in the background (stdout in srv.log, stderr in
# srv.err), PORT from its first line.
start_server() {
    local i
    rm -f "$work/srv.log" "$work/srv.err" # a previous server's line must not be read as this one's
    timeout -s KILL "$T" "${emu[@]}" "$httpd_bin" -m "$model" -r "$work/root" "$@" 127.0.0.1:0 \
        >"$work/srv.log" 2>"$work/srv.err" &
    SERVER_PID=$!
    for ((i = 0; i < 300; i++)); do
        if [[ -e $work/srv.log ]] && tr -d '\r' <"$work/srv.log" | grep -q '^httpd: listening on '; then
            PORT=$(tr -d '\r' <"$work/srv.log" | sed -n 's/^httpd: listening on .*:\([0-9]*\) (.*)$/\1/p')
            URL="http://127.0.0.1:$PORT"
            return 0
        fi
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            wait "$SERVER_PID"
            local rc=$?
            if [[ $model == fork ]] && grep -q 'SP_ENOTSUP\|not supported' "$work/srv.err"; then
                skip "the fork model does not exist on this OS: $(tr -d '\r' <"$work/srv.err")"
            fi
            fail "the server exited ($rc) before it listened"
        fi
        sleep 0.1
    done
    fail "the server did not say where it listens"
}

# stop_server: SIGINT, then the server must exit 0 within the grace + slack.
stop_server() {
    local rc
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID"
    rc=$?
    SERVER_PID=
    [[ $rc == 0 ]] || fail "the server exited $rc after SIGINT"
}

# wait_cut T0 BOUND: the server's side of a download on PORT must become ESTABLISHED
# within 10 + slack seconds of T0 (date +%s; a loaded machine starts the python client
# slowly: one second was not always enough) (else it fails: returns 1); then wait up to
# BOUND seconds for it to leave that state. Prints the seconds since T0, or "kept SECONDS"
# when it stayed.
wait_cut() {
    local t0=$1 bound=$2 i
    for ((i = 0; i < (10 + slack) * 10; i++)); do
        [[ -n $(ss -tnH state established "( sport = :$PORT )") ]] && break
        sleep 0.1
    done
    [[ -n $(ss -tnH state established "( sport = :$PORT )") ]] || return 1
    for ((i = 0; i < bound * 10; i++)); do
        [[ -z $(ss -tnH state established "( sport = :$PORT )") ]] && break
        sleep 0.1
    done
    if [[ -n $(ss -tnH state established "( sport = :$PORT )") ]]; then
        echo "kept $(($(date +%s) - t0))"
    else
        echo $(($(date +%s) - t0))
    fi
}

# not_started PID: what the sockets on PORT and the client PID look like, for a download
# that did not start (seen twice under load in the fork model, not reproduced alone).
not_started() {
    echo "sockets on port $PORT: $(ss -tanH "( sport = :$PORT or dport = :$PORT )" | tr '\n' ';')"
    echo "client: $(ps -o pid=,stat=,etime=,args= -p "$1" 2>/dev/null || echo gone)"
    echo "server: $(pgrep -af -- "$httpd_bin -m $model" | tr '\n' ';')"
}

# code URL [CURL ARGS...]: the status code curl gets.
code() {
    local url=$1
    shift
    curl -s -o /dev/null -m 30 -w '%{http_code}' "$@" "$url"
}

expect_code() {
    local want=$1 got
    shift
    got=$(code "$@")
    [[ $got == "$want" ]] || fail "curl $* gave $got, wanted $want"
}

case $case_name in
status)
    start_server
    expect_code 200 "$URL/"
    expect_code 200 "$URL/a.txt"
    expect_code 200 "$URL/sub/b.json"
    expect_code 200 "$URL/sub/./b.json" --path-as-is
    expect_code 200 "$URL/%61.txt"
    expect_code 404 "$URL/missing"
    expect_code 404 "$URL/dir/"
    expect_code 404 "$URL/dir"
    expect_code 403 "$URL/../secret.txt" --path-as-is
    expect_code 403 "$URL/sub/../../secret.txt" --path-as-is
    expect_code 403 "$URL/%2e%2e/secret.txt" --path-as-is
    expect_code 400 "$URL/..%5csecret.txt" --path-as-is
    expect_code 400 "$URL/c:/secret.txt" --path-as-is
    expect_code 400 "$URL/a%zz"
    expect_code 405 "$URL/a.txt" -X POST -d 'x=1'
    expect_code 405 "$URL/a.txt" -X DELETE
    expect_code 411 "$URL/a.txt" -X GET -H 'Transfer-Encoding: chunked' -d 'x'
    expect_code 413 "$URL/a.txt" -X GET -d 'x=1'
    type=$(curl -s -o /dev/null -m 30 -w '%{content_type}' "$URL/a.txt")
    [[ $type == text/plain* ]] || fail "a.txt has Content-Type $type"
    type=$(curl -s -o /dev/null -m 30 -w '%{content_type}' "$URL/sub/b.json")
    [[ $type == application/json ]] || fail "b.json has Content-Type $type"
    body=$(curl -s -m 30 "$URL/a.txt")
    [[ $body == hello ]] || fail "a.txt's body is '$body'"
    # HEAD: the length of the body, no body
    curl -s -I -m 30 "$URL/a.txt" >"$work/head.out" || fail "curl -I failed"
    tr -d '\r' <"$work/head.out" | grep -qi '^content-length: 6$' || fail "HEAD: $(cat "$work/head.out")"
    # HTTP/1.0: the connection closes after the reply
    curl -s -0 -D "$work/h10.out" -o /dev/null -m 30 "$URL/a.txt"
    tr -d '\r' <"$work/h10.out" | grep -qi '^connection: close$' || fail "HTTP/1.0: $(cat "$work/h10.out")"
    stop_server
    ;;
body)
    big
    # bodies through sp_conn_sendfile (the default), then streamed through on_drain
    for method in sendfile stream; do
        start_server -b "$method"
        curl -s -m 60 -o "$work/big.out" "$URL/big.bin" || fail "-b $method: curl failed for big.bin"
        cmp "$work/root/big.bin" "$work/big.out" || fail "-b $method: the 20 MiB body differs"
        len=$(curl -s -I -m 30 "$URL/big.bin" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Ll]ength: //p')
        [[ $len == 20971520 ]] || fail "-b $method: HEAD big.bin: Content-Length '$len'"
        stop_server
    done
    ;;
keepalive)
    start_server
    curl -sv -m 30 -o /dev/null -o /dev/null "$URL/a.txt" "$URL/sub/b.json" 2>"$work/curl.log" ||
        fail "curl failed"
    grep -Eqi 're-?using existing connection' "$work/curl.log" || fail "curl did not reuse the connection"
    n=$(grep -ci 'connected to' "$work/curl.log")
    [[ $n == 1 ]] || fail "curl connected $n times"
    # Connection: close is honoured
    curl -sv -m 30 -o /dev/null -o /dev/null -H 'Connection: close' "$URL/a.txt" "$URL/a.txt" \
        2>"$work/curl2.log" || fail "curl failed"
    n=$(grep -ci 'connected to' "$work/curl2.log")
    [[ $n == 2 ]] || fail "with Connection: close curl connected $n times"
    stop_server
    ;;
pipeline)
    start_server
    "${client[@]}" pipeline "$PORT" /a.txt /missing /sub/b.json /a.txt >"$work/pipe.log" 2>&1 ||
        fail "the pipelining client failed"
    mapfile -t lines <"$work/pipe.log"
    [[ ${#lines[@]} == 4 && ${lines[0]} == "200 6 "* && ${lines[1]} == "404 "* &&
        ${lines[2]} == "200 9 "* && ${lines[3]} == "${lines[0]}" ]] || fail "replies out of order"
    # a 20 MiB body between small requests of one segment, with each body method
    big
    sum=$(sha256sum "$work/root/big.bin" | cut -d' ' -f1)
    stop_server
    for method in sendfile stream; do
        start_server -b "$method"
        "${client[@]}" pipeline "$PORT" /a.txt /big.bin /missing /a.txt >"$work/pipe2.log" 2>&1 ||
            fail "-b $method: the pipelining client failed"
        mapfile -t lines <"$work/pipe2.log"
        [[ ${#lines[@]} == 4 && ${lines[0]} == "200 6 "* && ${lines[1]} == "200 20971520 $sum" &&
            ${lines[2]} == "404 "* && ${lines[3]} == "${lines[0]}" ]] ||
            fail "-b $method: replies around a download out of order: ${lines[*]}"
        stop_server
    done
    ;;
head_limit)
    start_server
    expect_code 431 "$URL/a.txt" -H "X-Big: $(head -c 10000 /dev/zero | tr '\0' a)"
    "${client[@]}" oversize "$PORT" 9000 >"$work/over.log" 2>&1
    [[ $(head -1 "$work/over.log") == 431 ]] || fail "a 9000-byte head without an end: $(cat "$work/over.log")"
    grep -q closed "$work/over.log" || fail "the connection stayed open after 431"
    expect_code 200 "$URL/a.txt" -H "X-Fits: $(head -c 7000 /dev/zero | tr '\0' a)"
    stop_server
    ;;
slow_reader)
    # A client that asks for 20 MiB and reads nothing: the send progress timeout (-s 2000)
    # closes the server's side (it leaves ESTABLISHED: FIN-WAIT-1 behind the unsent bytes),
    # so the client gets far less than the file when it reads at last. The timeout runs
    # from the last byte the kernel took: Linux grows the send buffer (tcp_wmem, up to
    # 4 MiB) while the server keeps it fed, which took up to 20 s on a loaded machine;
    # hence the bound.
    # The thread model under Wine runs it too: its "no request served after the cut" was
    # the stalled client still draining the closed socket's 4 MiB past the server's 120 s
    # run (http_client.py now reads for 10 s at most), not the server.
    big
    start_server -s 2000
    t0=$(date +%s)
    bound=$((2 + 20 + slack))
    "${client[@]}" stall "$PORT" /big.bin $((bound + 2)) "$work/stall.go" >"$work/stall.log" 2>&1 &
    cpid=$!
    cut=$(wait_cut "$t0" "$bound") || fail "the download did not start: $(not_started "$cpid")"
    [[ $cut != kept* ]] || fail "the server kept the stalled connection for ${cut#kept } s (send timeout 2 s)"
    touch "$work/stall.go" # the cut is seen: the client reads now, not at the bound
    wait "$cpid"
    read -r got how <"$work/stall.log"
    [[ $got -lt 20971520 ]] || fail "the stalled reader got the whole file ($got bytes, $how)"
    # the server still serves
    expect_code 200 "$URL/a.txt"
    stop_server
    echo "stalled reader: closed by the server within $cut s; it read $got bytes, then $how"
    # A steady reader (2 MB/s: the 20 MiB take about 10 s, three times -s 3000) gets the
    # whole file: the send timeout counts from the last byte taken, not from the reply's
    # start. (The server sees progress when its socket is writable again: a third of a
    # send buffer that Linux grows to 4 MiB drains in under a second at this rate.)
    start_server -s 3000
    "${client[@]}" rate "$PORT" /big.bin 2000000 $((30 + slack)) >"$work/steady.log" 2>&1
    read -r got how secs <"$work/steady.log"
    [[ $how == complete && $got -eq 20971520 ]] ||
        fail "a steady reader with -s 3000 got $got bytes ($how after $secs s)"
    stop_server
    echo "steady reader (-s 3000): the whole file in $secs s"
    # A reader that trickles (100 KB/s) is cut by the reply deadline (-d 2000) long before
    # the send timeout (the default 30 s) could: the server's side leaves ESTABLISHED
    # within the bound (its kernel may still send what it had queued, as above).
    start_server -d 2000
    t0=$(date +%s)
    bound=$((2 + slack))
    "${client[@]}" rate "$PORT" /big.bin 100000 $((bound + 10)) >"$work/trickle.log" 2>&1 &
    cpid=$!
    secs=$(wait_cut "$t0" "$bound") || fail "the trickled download did not start: $(not_started "$cpid")"
    [[ $secs != kept* ]] || fail "the server kept the trickling reader for ${secs#kept } s (reply deadline 2 s)"
    kill "$cpid" 2>/dev/null
    wait "$cpid" 2>/dev/null
    expect_code 200 "$URL/a.txt"
    stop_server
    echo "trickling reader (-d 2000, -s 30000): cut within $secs s"
    ;;
slowloris)
    start_server -t 2
    "${client[@]}" slowloris "$PORT" $((2 + slack)) >"$work/loris.log" 2>&1
    read -r status secs <"$work/loris.log"
    [[ $status == 408 ]] || fail "a head trickled byte by byte got '$status $secs', wanted 408"
    expect_code 200 "$URL/a.txt"
    stop_server
    ;;
stop)
    # SIGINT during 8 slow 20 MiB downloads: the server exits 0 within grace + slack and
    # leaves no process.
    big
    start_server -g 1000
    "${client[@]}" slow "$PORT" /big.bin 8 200000 "$work/slow.go" >"$work/slow.log" 2>&1 &
    cpid=$!
    for ((i = 0; i < 300; i++)); do
        grep -q started "$work/slow.log" && break
        sleep 0.1
    done
    grep -q started "$work/slow.log" || fail "the downloads did not start"
    sleep 1
    t0=$(date +%s%N)
    kill -INT "$SERVER_PID"
    wait "$SERVER_PID"
    rc=$?
    pid=$SERVER_PID
    SERVER_PID=
    ms=$((($(date +%s%N) - t0) / 1000000))
    # the server is gone: the clients stop reading (the kernel would still send the closed
    # sockets' queued MiBs at 200 KB/s for about 20 s)
    touch "$work/slow.go"
    wait "$cpid"
    [[ $rc == 0 ]] || fail "the server exited $rc after SIGINT"
    ((ms <= 1000 + slack * 1000)) || fail "the stop took $ms ms (grace 1000 ms)"
    n=$(grep -c '^[0-9]' "$work/slow.log")
    [[ $n == 8 ]] || fail "$n downloads reported"
    if grep '^[0-9]' "$work/slow.log" | awk '$1 >= 20971520 {x=1} END {exit !x}'; then
        fail "a download completed: the stop came too late to test anything"
    fi
    # no process of this server is left (its children in the fork model included)
    if pgrep -f -- "$httpd_bin -m $model -r $work/root" >/dev/null; then
        fail "a server process is left: $(pgrep -af -- "$httpd_bin -m $model -r $work/root")"
    fi
    echo "stop during 8 downloads: $ms ms (server $pid)"
    ;;
*)
    fail "unknown case"
    ;;
esac
echo "PASS (httpd.$model.$case_name)"
