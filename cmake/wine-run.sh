#!/bin/sh
# Run a Windows program under Wine, headless, in sockport's own prefix (the cross build's
# CMAKE_CROSSCOMPILING_EMULATOR, so ctest runs every test through it).
#
# The first call starts a wineserver that outlives each program by 60 s and boots the
# prefix with its standard streams detached: Wine's background services would otherwise
# inherit ctest's output pipe and the test would hang until its timeout (wine-notes.md).
: "${WINEPREFIX:=${TMPDIR:-/tmp}/sockport-wine-$(id -u)}"
export WINEPREFIX
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"
unset DISPLAY WAYLAND_DISPLAY
mkdir -p "$WINEPREFIX"
# The lock's descriptor (9) is closed for the server and the services it starts: they
# outlive this script and would hold the lock.
(
    flock 9
    # exit status 0: a new server was started (2: one is already running)
    if wineserver -p60 </dev/null >/dev/null 2>&1 9>&-; then
        wine wineboot </dev/null >/dev/null 2>&1 9>&-
    fi
    # A new prefix says it is Windows 7 (build 7601), where sockport rightly refuses
    # WSAPoll (it misses failed connects before Windows 10 2004, build 19041). Make the
    # prefix report 10.0.19041 so that the WSAPoll backend runs its tests too; the select
    # backend is forced by the tests that want it.
    if [ ! -e "$WINEPREFIX/.sockport-win10-19041" ]; then
        key='HKLM\Software\Microsoft\Windows NT\CurrentVersion'
        for kv in CurrentVersion=10.0 CurrentBuildNumber=19041 CurrentBuild=19041; do
            wine reg add "$key" /v "${kv%%=*}" /d "${kv#*=}" /f </dev/null >/dev/null 2>&1 9>&-
        done
        wine reg add "$key" /v CurrentMajorVersionNumber /t REG_DWORD /d 10 /f </dev/null >/dev/null 2>&1 9>&-
        wine reg add "$key" /v CurrentMinorVersionNumber /t REG_DWORD /d 0 /f </dev/null >/dev/null 2>&1 9>&-
        wine reg delete 'HKCU\Software\Wine' /v Version /f </dev/null >/dev/null 2>&1 9>&-
        touch "$WINEPREFIX/.sockport-win10-19041"
    fi
) 9>"$WINEPREFIX/.sockport-lock"
exec wine "$@"
