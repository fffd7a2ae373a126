#!/usr/bin/env bash
# A short soak: bench/soak.c for 20 s per server model (events, threads, fork), 8 clean
# clients with random framed messages checked byte for byte, faults injected at random
# (RST mid-message, back-pressure stalls, trickle clients, oversize prefixes, churn,
# SIGUSR1 bursts; as root also 10 % packet loss bursts and vanishing peers with iptables,
# in a network namespace of the soak's own). Fails on any lost or wrong message, any fault
# not survived, and descriptors, threads or children that do not return to their start.
# SOCKPORT_SOAK_SECONDS and SOCKPORT_SOAK_CLIENTS change the size.
# needs: iptables:iptables
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build/soak
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCKPORT_BUILD_TESTS=OFF \
    -DSOCKPORT_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j2 --target sockport_soak
"$build/bin/sockport_soak" -c "${SOCKPORT_SOAK_CLIENTS:-8}" -d "${SOCKPORT_SOAK_SECONDS:-20}" -m all -v
