#!/bin/sh
# Compile every test source as if for a POSIX system that is not Linux (macOS, the BSDs):
# tests/portability/not_linux.h removes __linux__ / __GLIBC__ and poisons Linux-only calls,
# so an unguarded unshare, SOCK_CLOEXEC, mallinfo2, ... fails here, and a /proc path is
# reported when it lies outside a __linux__ block. Syntax only: nothing is linked.
# Usage: sh tests/portability/check-not-linux.sh [build-dir-with-sockport/config.h]
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cxx=${CXX:-g++}
status=0
for f in "$root"/tests/test_*.cc; do
    if ! "$cxx" -std=c++17 -fsyntax-only -Wall -Wextra -Werror \
        -include "$root/tests/portability/not_linux.h" \
        -I"$root/include" -I"$root/src/common" -I"$root/tests" "$@" "$f"; then
        echo "not-linux: $f does not compile off Linux" >&2
        status=1
    fi
done
# /proc exists on Linux only: every path into it must sit in a __linux__ branch
# (checked by the preprocessor: with __linux__ removed no "/proc/ string may remain)
for f in "$root"/tests/test_*.cc; do
    if "$cxx" -std=c++17 -E -P -include "$root/tests/portability/not_linux.h" \
        -I"$root/include" -I"$root/src/common" -I"$root/tests" "$@" "$f" 2>/dev/null |
        grep -n '"/proc/' >/dev/null; then
        echo "not-linux: $f reads /proc outside a __linux__ block" >&2
        status=1
    fi
done
[ "$status" -eq 0 ] && echo "not-linux: every test source compiles without __linux__"
exit "$status"
