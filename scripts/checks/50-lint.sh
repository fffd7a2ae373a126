#!/usr/bin/env bash
# Static analysis with zero findings: clang-tidy (checks in .clang-tidy) and cppcheck over
# the library sources: src/common and src/posix as built here (build/lint), and
# src/win32 with src/common as cross-compiled by mingw-w64 (build/lint-mingw; clang-tidy
# runs with --target=x86_64-w64-mingw32 over the mingw-w64 headers). Inline suppressions
# (NOLINT, cppcheck-suppress) carry their reason on the same or the previous line.
# needs: clang-tidy:clang-tidy cppcheck:cppcheck jq:jq
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs=${SOCKPORT_LINT_JOBS:-2}
failed=0
lib_only=(-G Ninja -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DSOCKPORT_BUILD_TESTS=OFF
    -DSOCKPORT_BUILD_EXAMPLES=OFF -DSOCKPORT_BUILD_BENCH=OFF -DSOCKPORT_BUILD_TOOLS=OFF
    -DSOCKPORT_INSTALL=OFF)

# Only a compilation database is needed: configure, never build.
cmake -S . -B build/lint "${lib_only[@]}" >/dev/null
dbs=(build/lint)
if command -v x86_64-w64-mingw32-gcc-posix >/dev/null; then
    toolchain=()
    [[ -f build/lint-mingw/CMakeCache.txt ]] || toolchain=(--toolchain cmake/mingw-w64.cmake)
    cmake -S . -B build/lint-mingw "${lib_only[@]}" "${toolchain[@]}" >/dev/null
    dbs+=(build/lint-mingw)
else
    echo "lint: mingw-w64 missing: src/win32 is not analysed" >&2
fi

for db in "${dbs[@]}"; do
    extra=()
    [[ $db == build/lint-mingw ]] && extra=(--extra-arg=--target=x86_64-w64-mingw32)
    # The common files are analysed once, with the native database.
    files=$(jq -r '.[].file' "$db/compile_commands.json" | sort |
        { if [[ $db == build/lint-mingw ]]; then grep /src/win32/; else cat; fi; })
    echo "=== lint: clang-tidy ($db, $(wc -w <<<"$files") files) ==="
    if ! xargs -P "$jobs" -n 2 clang-tidy -p "$db" --quiet "${extra[@]}" <<<"$files" \
        >"$db/clang-tidy.log" 2>&1; then
        # a finding (listed below), or clang-tidy itself failed: say which file
        grep -E 'Error while processing|Program arguments' "$db/clang-tidy.log" >&2 || true
        failed=1
    fi
    if grep -qE '(warning|error):' "$db/clang-tidy.log"; then
        grep -E '(warning|error):' "$db/clang-tidy.log" | sort -u >&2
        failed=1
    fi
done

# cppcheck reads the sources without the system headers (its posix/windows libraries
# describe them), so the platform macros the sources test for are given here: those of
# Linux/glibc for the native pass, _WIN32 for the mingw one. variableScope (declare
# a variable in the innermost block) is style this C code does not follow everywhere.
cppcheck_common=(--enable=warning,performance,portability,style --inline-suppr --quiet
    --error-exitcode=1 --suppress=variableScope --suppress=missingIncludeSystem -j "$jobs"
    --template='{file}:{line}: {severity} [{id}] {message}')
echo "=== lint: cppcheck (build/lint) ==="
cppcheck "${cppcheck_common[@]}" --project=build/lint/compile_commands.json --library=posix \
    --cppcheck-build-dir=build/lint -D__linux__ -D__GNUC__=12 -DMSG_NOSIGNAL=0x4000 \
    -DMSG_DONTWAIT=0x40 -DSOCK_CLOEXEC=02000000 -DTCP_KEEPIDLE=4 -DTCP_KEEPINTVL=5 \
    -DTCP_KEEPCNT=6 -DIOV_MAX=1024 || failed=1
if [[ -d build/lint-mingw ]]; then
    echo "=== lint: cppcheck (build/lint-mingw) ==="
    cppcheck "${cppcheck_common[@]}" --project=build/lint-mingw/compile_commands.json \
        --library=windows --platform=win64 --cppcheck-build-dir=build/lint-mingw \
        -D_WIN32 -D_WIN64 -D__MINGW32__ -D__GNUC__=12 || failed=1
fi

if [[ $failed != 0 ]]; then
    echo "lint: FAILED (clang-tidy logs: build/lint*/clang-tidy.log)" >&2
    exit 1
fi
echo "lint: clang-tidy and cppcheck found nothing"
