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
log=$(mktemp)
for f in "$root"/tests/test_*.cc; do
    if ! "$cxx" -std=c++17 -c -o /dev/null ${MSVC_CHECK_OPT:--O2} -Wall -Wextra -Wpedantic -Wconversion \
        -Wsign-compare -Wunused-parameter -Wmaybe-uninitialized -Wshadow=local \
        -Wdeprecated-declarations -Werror -Wno-error=deprecated-declarations \
        -include "$root/tests/portability/msvc_deprecated.h" -isystem "$gtest" \
        -I"$root/include" -I"$root/src/common" -I"$root/tests" "$f" 2>>"$log"; then
        echo "msvc-warnings: $f" >&2
        status=1
    fi
done
# C4996: every deprecated call but env_get's getenv, which MSVC never compiles (_MSC_VER
# takes _dupenv_s there; mingw-w64's msvcrt.dll has no _dupenv_s)
if grep 'deprecated: MSVC C4996' "$log" | grep -v 'helpers.h:[0-9]*:[0-9]*: .*getenv' | sort -u | grep .; then
    status=1
fi
grep -E ': (error|warning): ' "$log" | grep -v 'MSVC C4996' | sort -u
rm -f "$log"
# the printf / scanf family cannot be redeclared under mingw-w64: C4996 by name
if grep -nE '(^|[^_a-z])(v?sprintf|sscanf|fscanf|scanf)[ ]*\(' "$root"/tests/*.cc "$root"/tests/*.h; then
    echo "msvc-warnings: sprintf / scanf family (C4996): use snprintf / a parser" >&2
    status=1
fi
[ "$status" -eq 0 ] && echo "msvc-warnings: every test source is clean"
exit "$status"
