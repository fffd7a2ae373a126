#!/usr/bin/env bash
# valgrind memcheck over the whole test binary (every suite: core, poll/select, frame,
# server in every model), built without sanitizers. Zero reports allowed: any memory
# error, any definite or indirect leak, and any descriptor left open at exit that the
# program opened itself fails the check.
#
# How it runs (measured 5 to 8 minutes on the shared 2-core development machine at load
# 30 to 150; less when idle):
#  - two gtest shards in parallel, each one valgrind process with --leak-check=full and
#    --track-fds=yes; the heavy tests scale themselves down under valgrind
#    (RUNNING_ON_VALGRIND, or SOCKPORT_TEST_VALGRIND=1) and print [  SCALED  ];
#  - the fork model: valgrind follows fork() by itself (--trace-children is about exec,
#    which sockport never does), so each connection's child runs under memcheck too. A
#    child ends with _exit and never frees what it inherited from the parent (the test's
#    and gtest's heap, the parent's accept loop): a leak check there reports the parent's
#    live memory as lost. So the shards keep children quiet (--child-silent-after-fork),
#    and a third job runs the fork-model tests again with the children reporting every
#    memory error (not leaks) into their own logs, which must stay empty.
#  - the process-level fault suites (FaultProc*: descriptor limits lowered under the
#    descriptors valgrind keeps for itself, the binary re-run as a second process, 10,000
#    fork/thread churn cycles, signal storms timed in milliseconds) are left out here:
#    they test the process, not memory, and run in the native, ASan and TSan presets.
# needs: valgrind:valgrind
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/valgrind
logs=$build/valgrind-logs
shards=${SOCKPORT_VALGRIND_SHARDS:-2}

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSOCKPORT_BUILD_BENCH=OFF -DSOCKPORT_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j2
rm -rf "$logs"
mkdir -p "$logs"
bin=$build/bin/sockport_tests
export SOCKPORT_TEST_VALGRIND=1
vg=(valgrind -q --error-exitcode=99 --num-callers=30)
skip='-*FaultProc*:*AThousandSimultaneous*' # see above

pids=()
for ((i = 0; i < shards; i++)); do
    GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i \
        "${vg[@]}" --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --track-fds=yes --child-silent-after-fork=yes --log-file="$logs/shard$i.log" \
        "$bin" --gtest_brief=1 --gtest_filter="$skip" >"$logs/shard$i.out" 2>&1 &
    pids+=($!)
done
"${vg[@]}" --leak-check=no --log-file="$logs/fork.%p.log" \
    "$bin" --gtest_brief=1 --gtest_filter="*/fork$skip" >"$logs/fork.out" 2>&1 &
pids+=($!)
rcs=()
for p in "${pids[@]}"; do
    rc=0
    wait "$p" || rc=$?
    rcs+=("$rc")
done

# Descriptors open at exit that the program opened itself (the inherited ones are the
# shell's and the log file).
leaked_fds() {
    awk '/Open (file descriptor|AF_)/ { open = $0; getline nxt
             if (nxt !~ /inherited from parent/) print open }' "$1"
}
# A test that failed while valgrind found nothing (exit 1, not 99) failed on time: the
# suites have upper bounds (a 100 ms timeout must end before 100 ms more) that valgrind on
# a busy machine can miss. Such tests run once more, alone, under the same memcheck; a
# memcheck report is never retried.
retry_shard() {
    local i=$1 names
    names=$(sed -n 's/^\[  FAILED  \] \([^ ,]*\).*/\1/p' "$logs/shard$i.out" | sort -u | paste -sd: -)
    [[ -n $names ]] || return 1
    echo "shard $i: retrying once (failed on time, no memcheck report): $names"
    "${vg[@]}" --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --child-silent-after-fork=yes --log-file="$logs/retry$i.log" \
        "$bin" --gtest_brief=1 --gtest_filter="$names" >"$logs/retry$i.out" 2>&1 || {
        cat "$logs/retry$i.out" "$logs/retry$i.log"
        return 1
    }
}
failed=0
for ((i = 0; i < shards; i++)); do
    grep -E '^\[ *(PASSED|FAILED|SCALED) *\]' "$logs/shard$i.out" | sed "s/^/shard $i: /" || true
    if [[ ${rcs[$i]} == 1 ]] && retry_shard "$i"; then
        rcs[$i]=0
    fi
    if [[ ${rcs[$i]} != 0 ]]; then
        echo "--- shard $i exited with ${rcs[$i]} (99: valgrind found errors or leaks):"
        grep -v '^\[ *\(OK\|RUN\) *\]' "$logs/shard$i.out" | tail -40
        grep -v 'inherited from parent' "$logs/shard$i.log" | head -300
        failed=1
    fi
    if [[ -n $(leaked_fds "$logs/shard$i.log") ]]; then
        echo "--- descriptors left open at exit, shard $i:"
        leaked_fds "$logs/shard$i.log"
        failed=1
    fi
done
grep -E '^\[ *(PASSED|FAILED) *\]' "$logs/fork.out" | sed 's/^/fork children: /' || true
if [[ ${rcs[$shards]} != 0 ]]; then
    echo "--- the fork-model run exited with ${rcs[$shards]}:"
    tail -40 "$logs/fork.out"
    failed=1
fi
for f in "$logs"/fork.*.log; do
    if [[ -s $f ]]; then
        echo "--- valgrind reports in $f:"
        head -100 "$f"
        failed=1
    fi
done
if [[ $failed != 0 ]]; then
    echo "valgrind: FAILED (outputs and logs in $logs)"
    exit 1
fi
echo "valgrind: no errors, no definite or indirect leaks, no descriptor left open" \
    "($shards shards, and the fork model's children)"
