#!/bin/sh
# Compile every test source with mingw-w64 (the Windows branches) and the gcc warnings
# nearest MSVC's /W4 ones: -Wconversion (C4244 / C4267 narrowing), -Wsign-compare
# (C4018 / C4389), -Wunused-parameter (C4100), -Wmaybe-uninitialized (C4701), -Wshadow=local
# (C4456 / C4457), and tests/portability/msvc_deprecated.h for C4996 (getenv, strerror,
# fopen, POSIX names, ...). gtest's own headers are -isystem: their warnings are not ours.
# Usage: sh tests/portability/check-msvc-warnings.sh
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cxx=${MINGW_CXX:-x86_64-w64-mingw32-g++-posix}
gtest=${SOCKPORT_GTEST_SRC:-/usr/src/googletest}/googletest/include
status=0
for f in "$root"/tests/test_*.cc; do
    if ! "$cxx" -std=c++17 -c -o /dev/null -O2 -Wall -Wextra -Wpedantic -Wconversion \
        -Wsign-compare -Wunused-parameter -Wmaybe-uninitialized -Wshadow=local \
        -Wdeprecated-declarations -Werror \
        -include "$root/tests/portability/msvc_deprecated.h" -isystem "$gtest" \
        -I"$root/include" -I"$root/src/common" -I"$root/tests" "$f"; then
        echo "msvc-warnings: $f" >&2
        status=1
    fi
done
# the printf / scanf family cannot be redeclared under mingw-w64: C4996 by name
if grep -nE '(^|[^_a-z])(v?sprintf|sscanf|fscanf|scanf)[ ]*\(' "$root"/tests/*.cc "$root"/tests/*.h; then
    echo "msvc-warnings: sprintf / scanf family (C4996): use snprintf / a parser" >&2
    status=1
fi
[ "$status" -eq 0 ] && echo "msvc-warnings: every test source is clean"
exit "$status"
