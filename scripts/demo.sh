#!/usr/bin/env bash
# Build sockport and run the demos: an echo exchange over loopback, then the framed echo
# server in every concurrency model this OS has, with clients, one line per model.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
sp_need "${SP_NATIVE_DEPS[@]}"
sp_isolate "$0" "$@"
cmake --preset native >/dev/null
cmake --build --preset native --target sockport_demo sockport_echo >/dev/null
build/native/bin/sockport_demo
echo
echo "framed echo server in every model, 4 clients x 250 messages each:"
for model in threads fork events; do
    build/native/bin/sockport_echo demo "$model" 4 250
done
