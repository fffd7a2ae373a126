#!/usr/bin/env bash
# Format check: every C/C++ source and header in the repository must be formatted with
# the repository's .clang-format (fix with: clang-format -i FILE).
# needs: clang-format:clang-format
set -euo pipefail
cd "$(dirname "$0")/../.."

dirs=()
for d in src include tests examples bench fuzz tools; do
    [[ -d $d ]] && dirs+=("$d")
done
mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' \
    -o -name '*.cpp' -o -name '*.hpp' \) | sort)
[[ ${#files[@]} -gt 0 ]] || { echo "format: no sources found" >&2; exit 1; }

bad=()
for f in "${files[@]}"; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [[ ${#bad[@]} -gt 0 ]]; then
    echo "format: ${#bad[@]} of ${#files[@]} files are not formatted (clang-format -i them):" >&2
    printf '  %s\n' "${bad[@]}" >&2
    exit 1
fi
echo "format: ${#files[@]} files formatted ($(clang-format --version | head -1))"
