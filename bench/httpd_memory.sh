#!/usr/bin/env bash
# httpd_memory.sh HTTPD [SECONDS] - the memory examples/httpd.c holds while it serves 8 slow
# 20 MiB downloads, per model (POSIX; run it in a private network namespace:
#   unshare -n sh -c 'ip link set lo up; bash bench/httpd_memory.sh build/native/bin/sockport_httpd'
# ). Each download reads 200 KB/s (tests/httpd/http_client.py slow), so none finishes in
# SECONDS (default 8); the script samples every 0.2 s the resident memory of the server and
# of its children (the fork model's per-connection processes) and prints the peak of the
# sum and of the server process alone, then stops the server with SIGINT.
set -u
httpd=$1
secs=${2:-8}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"
client=("python3" "$here/../tests/httpd/http_client.py")
work=$(mktemp -d "${TMPDIR:-/tmp}/httpd-mem.XXXXXX")
trap 'rm -rf "$work"' EXIT
head -c $((20 << 20)) /dev/urandom >"$work/big.bin"

rss_kb() { # the VmRSS of a pid, in kB (0 when gone)
    awk '/^VmRSS:/ {print $2; f=1} END {if (!f) print 0}' "/proc/$1/status" 2>/dev/null || echo 0
}

printf '%-8s %14s %16s %10s\n' model "server peak kB" "with children kB" processes
for model in threads fork events; do
    "$httpd" -m "$model" -r "$work" -g 1000 127.0.0.1:0 >"$work/srv.log" 2>&1 &
    pid=$!
    port=$(wait_line "$work/srv.log" 's/^httpd: listening on .*:\([0-9]*\) (.*)$/\1/p' 100 0.1)
    base=$(rss_kb "$pid")
    "${client[@]}" slow "$port" /big.bin 8 200000 >"$work/cli.log" 2>&1 &
    cpid=$!
    peak=0 peak_all=0 procs=0
    for ((i = 0; i < secs * 5; i++)); do
        s=$(rss_kb "$pid")
        all=$s
        n=1
        for k in $(pgrep -P "$pid"); do
            all=$((all + $(rss_kb "$k")))
            n=$((n + 1))
        done
        ((s > peak)) && peak=$s
        ((all > peak_all)) && peak_all=$all
        ((n > procs)) && procs=$n
        sleep 0.2
    done
    kill -INT "$pid"
    wait "$pid"
    wait "$cpid"
    printf '%-8s %14s %16s %10s   (idle: %s kB)\n' "$model" "$peak" "$peak_all" "$procs" "$base"
done
