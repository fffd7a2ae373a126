#!/usr/bin/env bash
# Consumer check: install sockport into a scratch prefix, then build and run the program in
# tests/consumer/ against it three ways - find_package(sockport CONFIG), a plain compiler
# command line from `pkg-config --cflags --libs sockport`, add_subdirectory(<source>) -
# with the static and the shared library, natively and for Windows (mingw-w64, run under
# Wine). One PASS/FAIL line per combination; fails if any fails. Logs: build/consumer/logs.
#
# The build tree is deleted once installed, and each program is checked for where its
# headers, package config and library came from, so nothing but the prefix can be used.
# SOCKPORT_CONSUMER_PLATFORMS=native skips the Windows part; CC names the native compiler.
# needs: pkg-config:pkg-config binutils:objdump
# needs-windows
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
out=$root/build/consumer
logs=$out/logs
rm -rf "$logs"
mkdir -p "$logs"
wine_run=$root/cmake/wine-run.sh
mingw_cc=x86_64-w64-mingw32-gcc-posix
lib_only=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DSOCKPORT_BUILD_TESTS=OFF
    -DSOCKPORT_BUILD_EXAMPLES=OFF -DSOCKPORT_BUILD_BENCH=OFF -DSOCKPORT_INSTALL=ON)
results=()
fails=0

# result NAME STATUS: record and print one combination's line.
result() {
    local line
    line=$(printf '%-4s %s' "$2" "$1")
    results+=("$line")
    echo "$line"
    if [[ $2 != PASS ]]; then
        fails=$((fails + 1))
        echo "---- last lines of $logs/${1// /-}.log ----"
        tail -n 25 "$logs/${1// /-}.log"
        echo "----"
    fi
}

# combo "PLATFORM KIND WAY" FUNCTION ARGS...: run the function with its output in a log.
combo() {
    local name=$1
    shift
    if ("$@") >"$logs/${name// /-}.log" 2>&1; then result "$name" PASS; else result "$name" FAIL; fi
}

shared_onoff() { if [[ $1 == shared ]]; then echo ON; else echo OFF; fi; }

# install_prefix PLATFORM KIND: build the library alone, install it, delete the build tree.
install_prefix() {
    local plat=$1 kind=$2 dir=$out/$1-$2
    local args=("${lib_only[@]}" -DBUILD_SHARED_LIBS="$(shared_onoff "$kind")")
    [[ $plat == mingw ]] && args+=(--toolchain "$root/cmake/mingw-w64.cmake")
    rm -rf "$dir"
    cmake -S "$root" -B "$dir/build" "${args[@]}" &&
        cmake --build "$dir/build" -j2 &&
        cmake --install "$dir/build" --prefix "$dir/prefix" &&
        rm -rf "$dir/build"
}

# check_pc PLATFORM KIND: sockport.pc names the dependencies a static link needs.
check_pc() {
    local prefix=$out/$1-$2/prefix dep libs libdir
    local pc=(env PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig" pkg-config)
    dep=$([[ $1 == mingw ]] && echo -lws2_32 || echo -pthread)
    libdir=$("${pc[@]}" --variable=libdir sockport) || return 1
    [[ $(realpath "$libdir") == "$prefix/lib" ]] || { echo "libdir $libdir is not $prefix/lib"; return 1; }
    libs=$("${pc[@]}" --libs --static sockport) || return 1
    echo "pkg-config --libs --static: $libs"
    [[ " $libs " == *" -L$libdir "* && " $libs " == *" -lsockport "* && " $libs " == *" $dep "* ]] ||
        { echo "expected -L$libdir -lsockport $dep"; return 1; }
    if [[ $2 == static ]]; then
        [[ " $("${pc[@]}" --cflags sockport) " == *" -DSOCKPORT_STATIC "* ]] ||
            { echo "static: Cflags lack -DSOCKPORT_STATIC"; return 1; }
    fi
}

# run_exe PLATFORM KIND EXE [DLLDIR]: run it (under Wine for mingw: a DLL next to the exe,
# or in DLLDIR through WINEPATH) and check which library it loaded.
run_exe() {
    local plat=$1 kind=$2 exe=$3 dlldir=${4:-} prefix=$out/$1-$2/prefix
    local outp deps imports rc=0
    if [[ $plat == native ]]; then
        deps=$(ldd "$exe") || return 1
        echo "ldd:"
        echo "$deps"
        if [[ $kind == shared ]]; then
            # the program's own run path or the add_subdirectory build, never another copy
            [[ $exe == */subdir/* ]] || grep -q "libsockport.so.0 => $prefix/lib/libsockport.so.0 " <<<"$deps" ||
                { echo "libsockport.so.0 not taken from $prefix/lib"; return 1; }
            grep -q 'libsockport.so.0 => /' <<<"$deps" || { echo "libsockport.so.0 not found"; return 1; }
        else
            ! grep -q libsockport <<<"$deps" || { echo "static program loads libsockport"; return 1; }
        fi
        outp=$("$exe") || rc=$?
    else
        # (the lists are captured first: grep -q closing a pipe early fails it under pipefail)
        imports=$(x86_64-w64-mingw32-objdump -p "$exe" | grep 'DLL Name') || return 1
        echo "imports:"
        echo "$imports"
        if [[ $kind == shared ]]; then
            grep -q 'DLL Name: libsockport.dll' <<<"$imports" || { echo "shared: does not import libsockport.dll"; return 1; }
        else
            ! grep -qi 'DLL Name: libsockport' <<<"$imports" || { echo "static program imports libsockport"; return 1; }
        fi
        [[ $dlldir ]] && export WINEPATH="Z:${dlldir//\//\\}"
        outp=$("$wine_run" "$exe" </dev/null) || rc=$?
        outp=${outp//$'\r'/}
    fi
    echo "$outp"
    [[ $rc -eq 0 ]] || { echo "exit status $rc"; return 1; }
    [[ $outp == "consumer: ok: sockport "* ]]
}

# way_find_package PLATFORM KIND: CMake project, find_package(sockport CONFIG REQUIRED).
way_find_package() {
    local plat=$1 kind=$2 prefix=$out/$1-$2/prefix bdir=$out/$1-$2/find_package
    local args=(-G Ninja -DCONSUMER_WAY=find_package -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
        -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
    if [[ $plat == mingw ]]; then
        # A cross build searches only below CMAKE_FIND_ROOT_PATH: name the package directory.
        args+=(--toolchain "$root/cmake/mingw-w64.cmake" -Dsockport_DIR="$prefix/lib/cmake/sockport")
    else
        args+=(-DCMAKE_PREFIX_PATH="$prefix")
    fi
    rm -rf "$bdir"
    cmake -S "$root/tests/consumer" -B "$bdir" "${args[@]}" || return 1
    grep -qx "sockport_DIR:[A-Z]*=$prefix/lib/cmake/sockport" "$bdir/CMakeCache.txt" ||
        { echo "sockport config not taken from $prefix"; return 1; }
    cmake --build "$bdir" -v || return 1
    grep -q -- "-I$prefix/include\|-isystem $prefix/include" "$bdir/compile_commands.json" &&
        ! grep -q -- "$root/include" "$bdir/compile_commands.json" ||
        { echo "headers not taken from $prefix/include"; return 1; }
    run_exe "$plat" "$kind" "$bdir/bin/consumer$([[ $plat == mingw ]] && echo .exe)" "$prefix/bin"
}

# way_pkg_config PLATFORM KIND: one compiler command line from pkg-config.
way_pkg_config() {
    local plat=$1 kind=$2 prefix=$out/$1-$2/prefix bdir=$out/$1-$2/pkg-config flags cc exe static=()
    rm -rf "$bdir"
    mkdir -p "$bdir"
    check_pc "$plat" "$kind" || return 1
    # PKG_CONFIG_LIBDIR (not _PATH): this prefix and nothing from the system.
    [[ $kind == static ]] && static=(--static)
    flags=$(PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig pkg-config --cflags --libs "${static[@]}" sockport) ||
        return 1
    if [[ $plat == native ]]; then
        cc=("${CC:-cc}" "-Wl,-rpath,$prefix/lib")
        exe=$bdir/consumer
    else
        cc=("$mingw_cc")
        exe=$bdir/consumer.exe
    fi
    # shellcheck disable=SC2086 # the flags are words
    (set -x && "${cc[@]}" -std=c11 -Wall -Wextra -Werror "$root/tests/consumer/consumer.c" $flags -o "$exe") ||
        return 1
    run_exe "$plat" "$kind" "$exe" "$prefix/bin"
}

# way_subdir PLATFORM KIND: CMake project, add_subdirectory(<sockport source>).
way_subdir() {
    local plat=$1 kind=$2 bdir=$out/$1-$2/subdir
    local args=(-G Ninja -DCONSUMER_WAY=subdir -DSOCKPORT_SOURCE_DIR="$root"
        -DBUILD_SHARED_LIBS="$(shared_onoff "$kind")")
    [[ $plat == mingw ]] && args+=(--toolchain "$root/cmake/mingw-w64.cmake")
    rm -rf "$bdir"
    cmake -S "$root/tests/consumer" -B "$bdir" "${args[@]}" && cmake --build "$bdir" -j2 || return 1
    if [[ $plat == native && $kind == shared ]]; then
        [[ $(ldd "$bdir/bin/consumer") == *"libsockport.so.0 => $bdir/sockport/"* ]] ||
            { echo "libsockport.so.0 not taken from $bdir/sockport"; return 1; }
    fi
    run_exe "$plat" "$kind" "$bdir/bin/consumer$([[ $plat == mingw ]] && echo .exe)"
}

platforms=(native mingw)
[[ ${SOCKPORT_CONSUMER_PLATFORMS:-} ]] && read -r -a platforms <<<"$SOCKPORT_CONSUMER_PLATFORMS"
start=$SECONDS
for plat in "${platforms[@]}"; do
    for kind in static shared; do
        if install_prefix "$plat" "$kind" >"$logs/$plat-$kind-install.log" 2>&1; then
            for way in find_package pkg-config subdir; do
                combo "$plat $kind $way" "way_${way//-/_}" "$plat" "$kind"
            done
        else
            for way in find_package pkg-config subdir; do
                echo "(install failed: $logs/$plat-$kind-install.log)" >"$logs/$plat-$kind-$way.log"
                result "$plat $kind $way" FAIL
            done
        fi
    done
done
echo "consumer: ${#results[@]} combinations, $fails failed, $((SECONDS - start)) s"
[[ $fails -eq 0 ]]
