#!/usr/bin/env bash
# bench/peers.sh - the peer-VPN half of the benchmark: bare veth, fastd,
# Nebula, tinc 1.0 (switch mode) and wireguard-go between two namespaces,
# measured the same way. Prints a table and "bench_<path>_<metric> value"
# lines.
#
#   sudo bench/peers.sh                     # all of them, 5 s per iperf3 test
#   sudo BENCH_RUNS=3 bench/peers.sh        # medians of 3 runs
#   sudo bench/peers.sh tinc                # only some paths
#
# Needs root, iproute2, iperf3, fastd, nebula, tinc, wireguard-go,
# wireguard-tools, python3
# (scripts/install-deps.sh). Everything happens in namespaces created for
# the run, which are removed on any exit.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/lib_peers.sh
. "$here/lib_peers.sh"

bench_can_run || { echo "peers.sh: needs root, ip netns, iperf3, python3" >&2; exit 77; }
paths=("$@")
[ "${#paths[@]}" -gt 0 ] || paths=(veth fastd nebula tinc wggo)
for p in "${paths[@]}"; do
  for t in $(bench_path_tool "$p"); do
    command -v "$t" >/dev/null || { echo "$(basename "$0"): $t missing (scripts/install-deps.sh)" >&2; exit 1; }
  done
done

bench_init
rc=0
bench_run "${paths[@]}" || rc=1
bench_report
exit "$rc"
