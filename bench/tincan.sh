#!/usr/bin/env bash
# bench/tincan.sh - ipop-tincan against the bare veth, fastd, Nebula, tinc
# (switch mode) and wireguard-go, measured the same way in one run
# (bench/lib_peers.sh).
# Prints the table, "bench_<path>_<metric> value" lines, the ratios of
# tincan against each path and, last, "ratio_vs_best_peer_tcp1 X.XX".
#
#   sudo bench/tincan.sh                    # veth tincan fastd nebula tinc wggo, 5 s per test
#   sudo BENCH_RUNS=3 bench/tincan.sh       # medians of 3 rotating runs
#   sudo bench/tincan.sh tincan tinc        # only some paths
#   IPOP_BUILD_DIR=build-x bench/tincan.sh  # another build directory
#
# The tincan path: one ipop-tincan per namespace (on its own loopback
# control port, driven by ipopctl exactly like the integration tests do,
# tests/integration/tincan_helpers.sh), one overlay each, one link over host
# candidates on the veth.  Knobs: BENCH_TINCAN_MTU (TAP MTU, default 1376 =
# TC_SAFE_MTU, the largest that never fragments on a 1500 path even through
# a TURN relay), BENCH_TINCAN_LOG (tincan log level, default info).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$here/.." && pwd)}
# shellcheck source=bench/lib_peers.sh
. "$here/lib_peers.sh"
# shellcheck source=tests/integration/tincan_helpers.sh
. "$IPOP_SRC_DIR/tests/integration/tincan_helpers.sh"

BENCH_TINCAN_MTU=${BENCH_TINCAN_MTU:-1376}
BENCH_TINCAN_LOG=${BENCH_TINCAN_LOG:-info}

# $1: scratch dir of this run of the path (tincan's own files live in
# tc_dir, under the run's NETNS_TMPDIR, removed at exit).
bench_path_tincan_up() {
  local d=$1 net
  net=$(bench_overlay_net tincan)
  BENCH_PIDS=()
  tc_start "$BENCH_A" || return 1
  BENCH_PIDS+=("${TC_PID[$BENCH_A]}")
  tc_start "$BENCH_B" || return 1
  BENCH_PIDS+=("${TC_PID[$BENCH_B]}")
  tc_call "$BENCH_A" configure_logging "{\"level\":\"$BENCH_TINCAN_LOG\"}" >/dev/null || true
  tc_call "$BENCH_B" configure_logging "{\"level\":\"$BENCH_TINCAN_LOG\"}" >/dev/null || true
  TC_OVERLAY_EXTRA=",\"mtu\":$BENCH_TINCAN_MTU" tc_overlay "$BENCH_A" node-a "$net.1" >/dev/null || return 1
  TC_OVERLAY_EXTRA=",\"mtu\":$BENCH_TINCAN_MTU" tc_overlay "$BENCH_B" node-b "$net.2" >/dev/null || return 1
  tc_link "$BENCH_A" node-a "$BENCH_B" node-b || return 1
  tc_wait_state "$BENCH_A" node-b up 30 || { bench_log "tincan link not up"; return 1; }
  tc_wait_state "$BENCH_B" node-a up 10 || return 1
  bench_log "tincan: link $(tc_stat "$BENCH_A" node-b pair_type) $(tc_stat "$BENCH_A" node-b local_addr) -> $(tc_stat "$BENCH_A" node-b remote_addr)"
  BENCH_PEER_ADDR="$net.2"
}
bench_path_tincan_down() {
  local p h
  # Keep the link's counters (drops, packets) for the record.
  for h in "$BENCH_A" "$BENCH_B"; do
    tc_call "$h" query_link_stats "{}" > "$1/stats-$h.json" 2>/dev/null || true
  done
  for p in "${BENCH_PIDS[@]}"; do netns_kill "$p" 5; done
  # Each TAP vanishes with its process; the next run creates them again.
  unset "TC_PID[$BENCH_A]" "TC_PID[$BENCH_B]"
}
BENCH_DESC[tincan]="ipop-tincan $(git -C "$IPOP_SRC_DIR" rev-parse --short HEAD 2>/dev/null || echo '?') (TAP MTU $BENCH_TINCAN_MTU, host pair)"

bench_can_run || { echo "tincan.sh: needs root, ip netns, iperf3, python3" >&2; exit 77; }
for b in "$TINCAN" "$IPOPCTL"; do
  [ -x "$b" ] || { echo "tincan.sh: $b not built (set IPOP_BUILD_DIR)" >&2; exit 1; }
done
command -v jq >/dev/null || { echo "tincan.sh: jq missing" >&2; exit 1; }
paths=("$@")
[ "${#paths[@]}" -gt 0 ] || paths=(veth tincan fastd nebula tinc wggo)
for p in "${paths[@]}"; do
  for t in $(bench_path_tool "$p"); do
    command -v "$t" >/dev/null || { echo "$(basename "$0"): $t missing (scripts/install-deps.sh)" >&2; exit 1; }
  done
done

bench_init
BENCH_SUBJECT=tincan
rc=0
bench_run "${paths[@]}" || rc=1
bench_report
exit "$rc"
