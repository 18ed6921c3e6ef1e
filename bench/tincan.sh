#!/usr/bin/env bash
# bench/tincan.sh - ipop-tincan against the bare veth, fastd, Nebula, tinc
# (switch mode) and wireguard-go, measured the same way in one run
# (bench/lib_peers.sh).
# Prints the table, "bench_<path>_<metric> value" lines, the ratios of
# tincan against each path, with "tincanrelay": "relay_tcp1_retrans_pct X"
# and "ratio_relay_vs_direct_tcp1 X.XX", and, last,
# "ratio_vs_best_peer_tcp1 X.XX".
#
#   sudo bench/tincan.sh                    # veth tincan tincanrelay fastd nebula tinc wggo, 5 s per test
#   sudo BENCH_RUNS=3 bench/tincan.sh tincan tincanrelay   # relayed against direct
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
#
# The tincanrelay path: the same two tincans, but a's link has relay
# "always" (only its relayed candidate), through a real coturn in a third
# namespace srv, joined to a (198.18.101.0/24) and to b (198.18.102.0/24) by
# veths of their own; srv does not forward, so nothing but the relay joins a
# and b there.  The pair is a's relayed candidate with one of b's host
# candidates: a's tincan speaks ChannelData to coturn on its own socket,
# coturn relays to b, b's tincan sends to a's relayed address.
#
# BENCH_RELAY_CPU=N pins coturn to CPU N and this script (so the tincans,
# iperf3 and everything else it starts) to the other CPUs, in every path's
# runs: the relay then works on its own CPU, as a TURN server on its own
# host does, and ratio_relay_vs_direct_tcp1 measures what the relayed path
# costs the endpoints.  Unset (the default), coturn shares the CPUs with
# the endpoints: on 2 cores it then takes a third of the CPU the direct
# path has to itself, and the ratio measures this machine as much as the
# relay path.
#   sudo BENCH_RELAY_CPU=1 BENCH_RUNS=5 bench/tincan.sh tincan tincanrelay
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$here/.." && pwd)}
# shellcheck source=bench/lib_peers.sh
. "$here/lib_peers.sh"
# shellcheck source=tests/integration/tincan_helpers.sh
. "$IPOP_SRC_DIR/tests/integration/tincan_helpers.sh"
# shellcheck source=tests/lib/coturn.sh
. "$IPOP_SRC_DIR/tests/lib/coturn.sh"

BENCH_TINCAN_MTU=${BENCH_TINCAN_MTU:-1376}
BENCH_TINCAN_LOG=${BENCH_TINCAN_LOG:-info}

# Both tincans started (BENCH_PIDS), logging at BENCH_TINCAN_LOG.
bench__tincans() {
  BENCH_PIDS=()
  tc_start "$BENCH_A" || return 1
  BENCH_PIDS+=("${TC_PID[$BENCH_A]}")
  tc_start "$BENCH_B" || return 1
  BENCH_PIDS+=("${TC_PID[$BENCH_B]}")
  tc_call "$BENCH_A" configure_logging "{\"level\":\"$BENCH_TINCAN_LOG\"}" >/dev/null || true
  tc_call "$BENCH_B" configure_logging "{\"level\":\"$BENCH_TINCAN_LOG\"}" >/dev/null || true
}

# $1: scratch dir of this run of the path (tincan's own files live in
# tc_dir, under the run's NETNS_TMPDIR, removed at exit).
bench_path_tincan_up() {
  local d=$1 net
  net=$(bench_overlay_net tincan)
  bench__tincans || return 1
  TC_OVERLAY_EXTRA=",\"mtu\":$BENCH_TINCAN_MTU" tc_overlay "$BENCH_A" node-a "$net.1" >/dev/null || return 1
  TC_OVERLAY_EXTRA=",\"mtu\":$BENCH_TINCAN_MTU" tc_overlay "$BENCH_B" node-b "$net.2" >/dev/null || return 1
  tc_link "$BENCH_A" node-a "$BENCH_B" node-b || return 1
  tc_wait_state "$BENCH_A" node-b up 30 || { bench_log "tincan link not up"; return 1; }
  tc_wait_state "$BENCH_B" node-a up 10 || return 1
  bench_log "tincan: link $(tc_stat "$BENCH_A" node-b pair_type) $(tc_stat "$BENCH_A" node-b local_addr) -> $(tc_stat "$BENCH_A" node-b remote_addr)"
  BENCH_PEER_ADDR="$net.2"
}
# The relay's namespace and coturn, made once per benchmark run.
bench__relay_bed() {
  [ -z "${BENCH_RELAY_BED:-}" ] || return 0
  netns_host srv
  netns_pair "$BENCH_A" rl0 198.18.101.1/24 srv rla 198.18.101.100/24 1500
  netns_pair "$BENCH_B" rl0 198.18.102.2/24 srv rlb 198.18.102.100/24 1500
  # b reaches the relayed addresses; srv reaches b's veth0 address (its
  # host candidate) through b's rl0.
  netns_exec "$BENCH_B" ip route add 198.18.101.0/24 via 198.18.102.100
  netns_exec srv ip route add 198.18.100.0/24 via 198.18.102.2
  coturn_start benchturn srv 198.18.101.100 -- --no-tcp-relay
  coturn_wait benchturn 10 || { bench_log "coturn did not start"; return 1; }
  if [ -n "${BENCH_RELAY_CPU:-}" ]; then
    local p
    for p in "${COTURN_PID[benchturn]}" $(pgrep -P "${COTURN_PID[benchturn]}"); do
      taskset -a -p -c "$BENCH_RELAY_CPU" "$p" >/dev/null || { bench_log "taskset coturn failed"; return 1; }
    done
    bench_log "coturn pinned to CPU $BENCH_RELAY_CPU: $(taskset -p "${COTURN_PID[benchturn]}")"
  fi
  BENCH_RELAY_BED=1
}

bench_path_tincanrelay_up() {
  local d=$1 net ca cb turn
  bench__relay_bed || return 1
  net=$(bench_overlay_net tincanrelay)
  bench__tincans || return 1
  turn="{\"address\":\"198.18.101.100:3478\",\"user\":\"$COTURN_USER\",\"password\":\"$COTURN_PASS\"}"
  TC_OVERLAY_EXTRA=",\"mtu\":$BENCH_TINCAN_MTU,\"turn\":[$turn]" tc_overlay "$BENCH_A" node-a "$net.1" >/dev/null || return 1
  TC_OVERLAY_EXTRA=",\"mtu\":$BENCH_TINCAN_MTU" tc_overlay "$BENCH_B" node-b "$net.2" >/dev/null || return 1
  ca=$(tc_candidates "$BENCH_A" node-b always) || return 1
  cb=$(tc_candidates "$BENCH_B" node-a) || return 1
  tc_create_link "$BENCH_A" node-b "$cb" >/dev/null || return 1
  tc_create_link "$BENCH_B" node-a "$ca" >/dev/null || return 1
  tc_wait_state "$BENCH_A" node-b up 30 || { bench_log "tincan relayed link not up"; return 1; }
  tc_wait_state "$BENCH_B" node-a up 10 || return 1
  bench__own_relay() { [ "$(tc_stat "$BENCH_A" node-b relay_channel)" -gt 0 ]; }
  wait_until 10 bench__own_relay || bench_log "tincanrelay: a's relayed path is still on libnice"
  bench_log "tincanrelay: link $(tc_stat "$BENCH_A" node-b pair_type) $(tc_stat "$BENCH_A" node-b local_addr) -> $(tc_stat "$BENCH_A" node-b remote_addr), channel $(tc_stat "$BENCH_A" node-b relay_channel)"
  BENCH_PEER_ADDR="$net.2"
}
bench_path_tincanrelay_down() { bench_path_tincan_down "$@"; }
BENCH_DESC[tincanrelay]="ipop-tincan, a's link relayed through coturn $(turnserver --version 2>/dev/null | head -1 | awk '{print $NF}') in a third namespace (TURN over UDP, ChannelData)"

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
[ "${#paths[@]}" -gt 0 ] || paths=(veth tincan tincanrelay fastd nebula tinc wggo)
for p in "${paths[@]}"; do
  for t in $(bench_path_tool "$p"); do
    command -v "$t" >/dev/null || { echo "$(basename "$0"): $t missing (scripts/install-deps.sh)" >&2; exit 1; }
  done
done

if [ -n "${BENCH_RELAY_CPU:-}" ]; then
  ncpu=$(nproc)
  case $BENCH_RELAY_CPU in ''|*[!0-9]*) echo "BENCH_RELAY_CPU: a CPU number" >&2; exit 2 ;; esac
  [ "$ncpu" -ge 2 ] && [ "$BENCH_RELAY_CPU" -lt "$ncpu" ] || { echo "BENCH_RELAY_CPU: needs 2+ CPUs and a CPU below $ncpu" >&2; exit 2; }
  others=$(python3 -c "import sys; n,r=map(int,sys.argv[1:]); print(','.join(str(c) for c in range(n) if c!=r))" "$ncpu" "$BENCH_RELAY_CPU")
  taskset -p -c "$others" $$ >/dev/null
  echo "[bench] endpoints on CPU(s) $others, coturn on CPU $BENCH_RELAY_CPU" >&2
fi
bench_init
BENCH_SUBJECT=tincan
export BENCH_RELAY=tincanrelay
rc=0
bench_run "${paths[@]}" || rc=1
bench_report
exit "$rc"
