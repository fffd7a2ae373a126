#!/usr/bin/env bash
# Build and run every test suite: Linux natively, with ASan+UBSan and with TSan, and Windows
# (mingw-w64 cross build) under Wine. Name presets to run fewer: scripts/test.sh native
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
presets=("$@")
[[ ${#presets[@]} -gt 0 ]] || presets=(native native-asan native-tsan mingw)
sp_need "${SP_NATIVE_DEPS[@]}"
if [[ " ${presets[*]} " == *" mingw "* ]]; then
    sp_need "${SP_WINDOWS_DEPS[@]}"
fi
sp_isolate "$0" "$@"

export WINEPREFIX=${WINEPREFIX:-${TMPDIR:-/tmp}/sockport-wine-$(id -u)}
trap 'command -v wineserver >/dev/null && WINEPREFIX=$WINEPREFIX wineserver -k 2>/dev/null || true' EXIT

failed=()
for p in "${presets[@]}"; do
    echo "=== sockport: workflow preset '$p' ==="
    if ! cmake --workflow --preset "$p"; then
        failed+=("$p")
    fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "sockport: FAILED presets: ${failed[*]}"
    exit 1
fi
echo "sockport: all presets passed: ${presets[*]}"
