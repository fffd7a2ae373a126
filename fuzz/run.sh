#!/usr/bin/env bash
# Build the libFuzzer targets with clang into build/fuzz and run each one for a while.
#
#   fuzz/run.sh [seconds] [target...]   seconds per target (default 60); targets: frame addr
#
# Each target starts from its seed corpus in fuzz/corpus/<target>/ (never modified) and
# keeps what it finds in build/fuzz/corpus/<target>/, so a later run goes on from there.
# A crash, leak, sanitizer report or timeout fails the script; the input that caused it is
# saved as build/fuzz/artifacts/<target>-crash-* (replay: build/fuzz/bin/fuzz_<target> FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(frame addr)

. scripts/lib.sh
sp_need clang:clang cmake:cmake ninja-build:ninja

build=build/fuzz
cmake -S . -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE= \
    -DSOCKPORT_FUZZ=ON -DSOCKPORT_BUILD_TESTS=OFF -DSOCKPORT_BUILD_EXAMPLES=OFF \
    -DSOCKPORT_BUILD_BENCH=OFF -DSOCKPORT_INSTALL=OFF >/dev/null
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

declare -A max_len=([frame]=4096 [addr]=256)
failed=()
mkdir -p "$build/artifacts"
for t in "${targets[@]}"; do
    mkdir -p "$build/corpus/$t"
    echo "=== fuzz_$t: ${secs} s ==="
    if ! "$build/bin/fuzz_$t" -max_total_time="$secs" -max_len="${max_len[$t]:-4096}" \
        -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$t-" "$build/corpus/$t" "fuzz/corpus/$t"; then
        failed+=("$t")
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz: FAILED: ${failed[*]} (inputs in $build/artifacts/)"
    exit 1
fi
echo "fuzz: no crash in ${targets[*]} (${secs} s each)"
