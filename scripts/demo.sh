#!/usr/bin/env bash
# Build sockport and run the demo: an echo server and client over loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
sp_need "${SP_NATIVE_DEPS[@]}"
sp_isolate "$0" "$@"
cmake --preset native >/dev/null
cmake --build --preset native --target sockport_demo
exec build/native/bin/sockport_demo
