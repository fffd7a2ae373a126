# lib.sh - what the benchmark scripts share; source it (POSIX sh).
# shellcheck shell=sh

# wait_line FILE SED TRIES PAUSE: read FILE (a server's output) until the sed script SED
# prints something, at most TRIES times, PAUSE seconds apart; print what it printed
# (nothing when the line never came). Run it as $(wait_line ...).
wait_line() {
    n=0
    while [ "$n" -lt "$3" ]; do
        got=$(sed -n "$2" "$1")
        if [ -n "$got" ]; then
            printf '%s\n' "$got"
            return 0
        fi
        sleep "$4"
        n=$((n + 1))
    done
    return 1
}

# wait_listening FILE TRIES PAUSE: the ADDRESS of the "listening ADDRESS" line an echo
# server of bench/echo_peers.c prints once it is up (wait_line).
wait_listening() {
    wait_line "$1" 's/^listening //p' "$2" "$3"
}
