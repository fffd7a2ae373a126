#!/usr/bin/env bash
# API reference: build the `sockport_docs` target (Doxygen over the public headers, see
# docs/Doxyfile.in). It fails on any Doxygen warning: an undocumented public symbol, an
# undocumented parameter, a bad doc command.
# needs: doxygen:doxygen
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build/docs -G Ninja -DSOCKPORT_BUILD_TESTS=OFF -DSOCKPORT_BUILD_EXAMPLES=OFF \
    -DSOCKPORT_BUILD_BENCH=OFF >/dev/null
cmake --build build/docs --target sockport_docs
log=build/docs/docs/warnings.log
if [[ -s $log ]]; then
    echo "docs: doxygen warned:" >&2
    cat "$log" >&2
    exit 1
fi
echo "docs: API reference without warnings: build/docs/docs/html/index.html"
