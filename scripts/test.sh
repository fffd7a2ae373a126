#!/usr/bin/env bash
# Build and run every test suite: Linux natively, with ASan+UBSan and with TSan, Windows
# (mingw-w64 cross build) under Wine, then every check in scripts/checks/ (one script each:
# consumers, packaging, lint, ...). Name what to run to run less:
#   scripts/test.sh native            one workflow preset
#   scripts/test.sh check:lint        one check (scripts/checks/*lint*.sh)
#   scripts/test.sh native check:lint both
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
args=("$@")
[[ ${#args[@]} -gt 0 ]] || args=(native native-asan native-tsan mingw checks)

presets=()
checks=()
for a in "${args[@]}"; do
    case $a in
    checks) for f in scripts/checks/*.sh; do [[ -e $f ]] && checks+=("$f"); done ;;
    check:*)
        found=0
        for f in scripts/checks/*"${a#check:}"*.sh; do [[ -e $f ]] && checks+=("$f") && found=1; done
        [[ $found == 1 ]] || { echo "sockport: no check matches '${a#check:}'" >&2; exit 2; }
        ;;
    *) presets+=("$a") ;;
    esac
done

# Packages are installed before entering the namespace (which has no route to a mirror).
sp_need "${SP_NATIVE_DEPS[@]}"
want_windows=0
[[ " ${presets[*]} " == *" mingw "* ]] && want_windows=1
for f in "${checks[@]}"; do
    grep -q '^# needs-windows' "$f" && want_windows=1
    # A check names the packages it needs on a line: "# needs: pkg:check pkg:check"
    read -r -a deps <<<"$(sed -n 's/^# needs: //p' "$f" | tr '\n' ' ')"
    [[ ${#deps[@]} -gt 0 ]] && sp_need "${deps[@]}"
done
[[ $want_windows == 1 ]] && sp_need "${SP_WINDOWS_DEPS[@]}"
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
for f in "${checks[@]}"; do
    echo "=== sockport: check '$f' ==="
    start=$SECONDS
    if ! bash "$f"; then
        failed+=("$f")
    fi
    echo "=== sockport: check '$f' took $((SECONDS - start)) s ==="
done
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "sockport: FAILED: ${failed[*]}"
    exit 1
fi
echo "sockport: all passed: ${presets[*]} ${checks[*]}"
