# Shared by scripts/demo.sh and scripts/test.sh: install what a fresh Debian/Ubuntu machine
# lacks, and run the rest inside a private network namespace.

# sp_need PACKAGE:CHECK ... - install the packages whose check (a command name or an
# absolute file path) is missing. Uses apt-get as root, sudo otherwise.
sp_need() {
    local missing=() item pkg check
    for item in "$@"; do
        pkg=${item%%:*}
        check=${item#*:}
        if [[ $check == /* ]]; then
            [[ -e $check ]] || missing+=("$pkg")
        else
            command -v "$check" >/dev/null 2>&1 || missing+=("$pkg")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "sockport: please install: ${missing[*]}" >&2
            return 1
        }
        sudo=(sudo)
    fi
    echo "sockport: installing ${missing[*]}" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

SP_NATIVE_DEPS=(cmake:cmake ninja-build:ninja g++:g++ gcc:gcc libgtest-dev:/usr/include/gtest/gtest.h
    iproute2:ip util-linux:unshare python3:python3 iptables:iptables curl:curl)
SP_WINDOWS_DEPS=(mingw-w64:x86_64-w64-mingw32-g++-posix wine:wine wine64:/usr/lib/wine/wine64
    googletest:/usr/src/googletest/CMakeLists.txt util-linux:flock)

# sp_isolate "$0" "$@" - re-run the calling script in a new network namespace with only
# loopback up, so that a test that addresses anything else fails instead of leaving the
# machine. Falls back to the shared namespace (loopback only by design) where namespaces
# cannot be made (containers without the privilege), and says so.
sp_isolate() {
    if [[ ${SOCKPORT_NETNS:-} == 1 ]]; then
        ip link set lo up
        return 0
    fi
    local script=$1
    shift
    if unshare -n true 2>/dev/null; then
        SOCKPORT_NETNS=1 exec unshare -n -- "$script" "$@"
    elif unshare -rn true 2>/dev/null; then
        SOCKPORT_NETNS=1 exec unshare -rn -- "$script" "$@"
    fi
    echo "sockport: cannot create a network namespace here; running on the host's loopback" >&2
}
