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
(
    flock 9
    # exit status 0: a new server was started (2: one is already running)
    if wineserver -p60 </dev/null >/dev/null 2>&1; then
        wine wineboot </dev/null >/dev/null 2>&1
    fi
) 9>"$WINEPREFIX/.sockport-lock"
exec wine "$@"
