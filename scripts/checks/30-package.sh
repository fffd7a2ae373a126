#!/usr/bin/env bash
# Packaging check: build the CPack packages - natively the binary .tar.gz, the two Debian
# packages (libsockportN, libsockport-dev) and the source .tar.gz; for Windows (mingw-w64)
# the .zip - list what is inside each and assert what must be there, then use them: the
# .debs unpacked into a scratch root (dpkg -x) and the .tar.gz are built against with
# find_package and pkg-config, the .zip with find_package and run under Wine, and the
# source archive must hold every tracked file, build, and refuse a header whose version
# macros disagree with project(). Builds in build/package; prints one line per assertion
# group and fails if any fails. SOCKPORT_PACKAGE_PLATFORMS=native skips the Windows part.
# needs: pkg-config:pkg-config dpkg-dev:dpkg-shlibdeps binutils:objdump unzip:unzip
# needs-windows
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
root=$PWD
out=$root/build/package
logs=$out/logs
rm -rf "$out"
mkdir -p "$logs"
lib_only=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DSOCKPORT_BUILD_TESTS=OFF
    -DSOCKPORT_BUILD_EXAMPLES=OFF -DSOCKPORT_BUILD_BENCH=OFF)
fails=0

# step NAME FUNCTION ARGS...: run it with its output in a log; one PASS/FAIL line.
step() {
    local name=$1
    shift
    if ("$@") >"$logs/$name.log" 2>&1; then
        echo "PASS $name"
    else
        echo "FAIL $name"
        echo "---- last lines of $logs/$name.log ----"
        tail -n 25 "$logs/$name.log"
        echo "----"
        fails=$((fails + 1))
    fi
}

# has LISTING PATH...: every PATH (an extended regex, anchored) is a line of LISTING.
has() {
    local listing=$1 p bad=0
    shift
    for p in "$@"; do
        grep -Eq "^$p\$" <<<"$listing" || { echo "missing: $p"; bad=1; }
    done
    return $bad
}

# lacks LISTING REGEX...: no line of LISTING matches.
lacks() {
    local listing=$1 p bad=0
    shift
    for p in "$@"; do
        ! grep -Eq "$p" <<<"$listing" || { echo "must not hold: $(grep -E "$p" <<<"$listing" | head -3)"; bad=1; }
    done
    return $bad
}

headers=(include/sockport.h include/sockport/base.h include/sockport/addr.h include/sockport/error.h
    include/sockport/socket.h include/sockport/byteorder.h include/sockport/poll.h
    include/sockport/frame.h include/sockport/server.h)
cmake_files=(lib/cmake/sockport/sockportConfig.cmake lib/cmake/sockport/sockportConfigVersion.cmake
    lib/cmake/sockport/sockportTargets.cmake 'lib/cmake/sockport/sockportTargets-release.cmake'
    lib/pkgconfig/sockport.pc)

# consume PLATFORM WAY PREFIX NAME: build tests/consumer against PREFIX and run it.
consume() {
    local plat=$1 way=$2 prefix=$3 bdir=$out/consume-$4 outp
    rm -rf "$bdir"
    if [[ $way == find_package ]]; then
        local args=(-G Ninja -DCONSUMER_WAY=find_package -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
        if [[ $plat == mingw ]]; then
            args+=(--toolchain "$root/cmake/mingw-w64.cmake" -Dsockport_DIR="$prefix/lib/cmake/sockport")
        else
            args+=(-DCMAKE_PREFIX_PATH="$prefix")
        fi
        cmake -S "$root/tests/consumer" -B "$bdir" "${args[@]}" &&
            grep -Eqx "sockport_DIR:[A-Z]*=$prefix/lib/cmake/sockport" "$bdir/CMakeCache.txt" &&
            cmake --build "$bdir" -v || return 1
    else
        local flags
        mkdir -p "$bdir/bin"
        flags=$(PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig pkg-config --cflags --libs sockport) || return 1
        # shellcheck disable=SC2086 # the flags are words
        (set -x && "${CC:-cc}" -std=c11 -Wall -Wextra -Werror "$root/tests/consumer/consumer.c" $flags \
            -Wl,-rpath,"$prefix/lib" -o "$bdir/bin/consumer") || return 1
    fi
    if [[ $plat == mingw ]]; then
        outp=$(WINEPATH="Z:${prefix//\//\\}\\bin" "$root/cmake/wine-run.sh" "$bdir/bin/consumer.exe" </dev/null) ||
            { echo "$outp"; return 1; }
        outp=${outp//$'\r'/}
    else
        [[ $(ldd "$bdir/bin/consumer") == *"libsockport.so.0 => $prefix/lib/libsockport.so.0 "* ]] ||
            { ldd "$bdir/bin/consumer"; echo "libsockport.so.0 not taken from $prefix/lib"; return 1; }
        outp=$("$bdir/bin/consumer") || { echo "$outp"; return 1; }
    fi
    echo "$outp"
    [[ $outp == "consumer: ok: sockport $version "* ]]
}

build_native() {
    cmake -S "$root" -B "$out/native" "${lib_only[@]}" && cmake --build "$out/native" -j2 &&
        (cd "$out/native" && cpack && cpack --config CPackSourceConfig.cmake)
}
build_mingw() {
    cmake -S "$root" -B "$out/mingw" "${lib_only[@]}" --toolchain "$root/cmake/mingw-w64.cmake" &&
        cmake --build "$out/mingw" -j2 && (cd "$out/mingw" && cpack)
}

check_tgz() {
    local f=$out/native/sockport-$version-Linux.tar.gz top=sockport-$version-Linux list
    list=$(tar tzvf "$f") || return 1
    echo "$list"
    list=$(awk '{print $6}' <<<"$list" | sed "s|^$top/||")
    has "$list" "${headers[@]}" "${cmake_files[@]}" "lib/libsockport\\.so\\.$version" \
        "lib/libsockport.so.$soversion" lib/libsockport.so || return 1
    lacks "$list" '^build/|\.o$|/\.git' || return 1
    mkdir -p "$out/tgz" && tar xzf "$f" -C "$out/tgz" || return 1
    [[ $(readlink "$out/tgz/$top/lib/libsockport.so") == libsockport.so.$soversion ]] || return 1
    [[ $(objdump -p "$out/tgz/$top/lib/libsockport.so.$version" | awk '/SONAME/ {print $2}') == libsockport.so.$soversion ]] ||
        { echo "SONAME is not libsockport.so.$soversion"; return 1; }
    consume native find_package "$out/tgz/$top" tgz-find_package
}

check_debs() {
    local run=$out/native/libsockport${soversion}_$version-1_amd64.deb
    local dev=$out/native/libsockport-dev_$version-1_amd64.deb info list
    for f in "$run" "$dev"; do
        info=$(dpkg-deb -I "$f") || return 1
        echo "== $f" && echo "$info"
        grep -Eq "^ Version: $version-1\$" <<<"$info" && grep -q '^ Maintainer: .' <<<"$info" &&
            grep -q '^ Description: .' <<<"$info" && grep -q '^ Architecture: amd64$' <<<"$info" || return 1
    done
    info=$(dpkg-deb -f "$run")
    grep -qx "Package: libsockport$soversion" <<<"$info" && grep -qx 'Section: libs' <<<"$info" &&
        grep -Eq '^Depends: .*libc6' <<<"$info" || { echo "libsockport$soversion: package fields"; return 1; }
    info=$(dpkg-deb -f "$dev")
    grep -qx "Package: libsockport-dev" <<<"$info" && grep -qx 'Section: libdevel' <<<"$info" &&
        grep -qx "Depends: libsockport$soversion (= $version-1)" <<<"$info" ||
        { echo "libsockport-dev: package fields"; return 1; }

    list=$(dpkg-deb -c "$run") || return 1
    echo "$list"
    list=$(awk '{print $6}' <<<"$list" | sed 's|^\./usr/||')
    has "$list" "lib/libsockport\\.so\\.$version" "lib/libsockport\\.so\\.$soversion" || return 1
    lacks "$list" '^include/|cmake|pkgconfig|libsockport\.so$' || return 1
    list=$(dpkg-deb -c "$dev") || return 1
    echo "$list"
    list=$(awk '{print $6}' <<<"$list" | sed 's|^\./usr/||')
    has "$list" "${headers[@]}" "${cmake_files[@]}" lib/libsockport.so || return 1
    lacks "$list" "libsockport\\.so\\.$soversion" || return 1

    # Both unpacked into one scratch root, as dpkg would install them under /usr.
    mkdir -p "$out/debroot" && dpkg -x "$run" "$out/debroot" && dpkg -x "$dev" "$out/debroot" || return 1
    consume native find_package "$out/debroot/usr" deb-find_package &&
        consume native pkg-config "$out/debroot/usr" deb-pkg-config
}

check_zip() {
    local f=$out/mingw/sockport-$version-win64.zip top=sockport-$version-win64 list
    list=$(unzip -Z1 "$f") || return 1
    echo "$list"
    list=$(sed "s|^$top/||" <<<"$list")
    has "$list" "${headers[@]}" "${cmake_files[@]}" bin/libsockport.dll lib/libsockport.dll.a || return 1
    lacks "$list" '\.so|\.o$|\.obj$' || return 1
    mkdir -p "$out/zip" && unzip -q "$f" -d "$out/zip" || return 1
    # The DLL needs nothing beyond Windows' own DLLs (libgcc is linked in).
    x86_64-w64-mingw32-objdump -p "$out/zip/$top/bin/libsockport.dll" | grep 'DLL Name' >"$out/zip/imports.txt"
    cat "$out/zip/imports.txt"
    ! grep -Evi 'KERNEL32|msvcrt|WS2_32|ucrt|api-ms-win' "$out/zip/imports.txt" || return 1
    consume mingw find_package "$out/zip/$top" zip-find_package
}

check_source() {
    local f=$out/native/sockport-$version-Source.tar.gz top=sockport-$version-Source list
    list=$(tar tzf "$f") || return 1
    list=$(sed "s|^$top/||" <<<"$list")
    echo "$list"
    lacks "$list" '^build/|^\.git$|^\.git/|/\.git/|^out/|\.swp$' || return 1
    if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        local tracked missing
        tracked=$(git -C "$root" ls-files)
        missing=$(comm -23 <(sort <<<"$tracked") <(sort <<<"$list"))
        [[ -z $missing ]] || { echo "tracked files missing from the source archive:"; echo "$missing"; return 1; }
    fi
    # It builds (the library and the consumer against it) ...
    mkdir -p "$out/src" && tar xzf "$f" -C "$out/src" || return 1
    cmake -S "$out/src/$top" -B "$out/src/build" "${lib_only[@]}" -DCMAKE_INSTALL_PREFIX="$out/src/prefix" &&
        cmake --build "$out/src/build" -j2 && cmake --install "$out/src/build" || return 1
    consume native find_package "$out/src/prefix" source-find_package || return 1
    # ... and refuses a base.h whose version disagrees with project().
    sed -i 's/^#define SP_VERSION_MINOR .*/#define SP_VERSION_MINOR 99/' "$out/src/$top/include/sockport/base.h"
    if cmake -S "$out/src/$top" -B "$out/src/build-bad" "${lib_only[@]}" >"$out/src/bad.log" 2>&1; then
        echo "configure accepted SP_VERSION_MINOR 99 with project version $version"
        return 1
    fi
    cat "$out/src/bad.log"
    grep -q "SP_VERSION_MINOR" "$out/src/bad.log"
}

platforms=" ${SOCKPORT_PACKAGE_PLATFORMS:-native mingw} "
start=$SECONDS
step build-native build_native
[[ $platforms == *" mingw "* ]] && step build-mingw build_mingw
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$out/native/CPackConfig.cmake")
soversion=${version%%.*}
echo "package: version '$version', SOVERSION '$soversion'"
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "FAIL version from $out/native/CPackConfig.cmake"; exit 1; }
step tgz check_tgz
step deb check_debs
[[ $platforms == *" mingw "* ]] && step zip check_zip
step source check_source
echo "packages:"
(cd "$out" && for f in native/*.tar.gz native/*.deb mingw/*.zip; do
    [[ -e $f ]] && printf '  %-48s %8d bytes\n' "$f" "$(stat -c %s "$f")"
done)
echo "package: $fails failed, $((SECONDS - start)) s"
[[ $fails -eq 0 ]]
