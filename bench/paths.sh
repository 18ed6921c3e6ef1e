#!/usr/bin/env bash
# bench/paths.sh - what a link's path management costs and gains (issue 13),
# measured in real namespaces with real NATs, coturn and, for the restart
# and cut times, real controllers and ejabberd.  Timings here, never in tests.
#
#   sudo bench/paths.sh              # both phases
#   sudo bench/paths.sh nat          # tincan alone in the NAT bed
#   sudo bench/paths.sh ctrl         # two controllers + ejabberd
#   BENCH_SECS=10 sudo bench/paths.sh nat   # iperf3 seconds (default 5)
#
# Phase "nat" (as tests/integration/test_tincan_paths.sh): a behind a cone
# NAT router ra, b routed on the public segment, coturn on srv.  A ping at
# 20/s runs a -> b over the overlay throughout; a "gap" is the longest time
# between two replies around an event (what the event cost in traffic).
#   paths_upgrade_ms             direct UDP unblocked under a relayed link ->
#                                a's records leave by a direct path
#   paths_upgrade_gap_ms
#   paths_fallback_ms            direct UDP blocked again -> a's records
#                                leave by the relay
#   paths_fallback_gap_ms
#   paths_relay_loss_gap_ms      coturn stopped under the (direct) link
#   paths_rebind_gap_ms          a's NAT moves it to a new public address
#   paths_cut_recovery_ms        a's router drops everything for 20 s: from
#                                the restore to the first reply
#   paths_direct_tcp1_mbps, paths_direct_retrans_pct   iperf3 a -> b, one
#   paths_relay_tcp1_mbps, paths_relay_retrans_pct     stream, direct then
#                                through coturn (same link, same run);
#                                retransmits as % of the segments sent
#   ratio_relay_vs_direct_tcp1 X.XX
# Phase "ctrl" (as test_controller_recovery.sh, two GroupVPN nodes):
#   paths_ctrl_tincan_restart_ms       tincan killed and started -> ping
#   paths_ctrl_controller_restart_ms   controller stopped and started -> ping
#                                      (and the longest ping gap meanwhile)
#   paths_ctrl_controller_restart_gap_ms
#   paths_ctrl_cut_recovery_ms         20 s cut of one node -> first reply
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$here/.." && pwd)}
export IPOP_BUILD_DIR=${IPOP_BUILD_DIR:-$IPOP_SRC_DIR/build}
BENCH_SECS=${BENCH_SECS:-5}
phases=("$@")
[ ${#phases[@]} -gt 0 ] || phases=(nat ctrl)

ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# gap FILE FROM_EPOCH_S: the longest gap (ms) between two ping replies at
# or after FROM - 1 s (ping -D timestamps).
gap() {
  python3 - "$1" "$2" <<'PY'
import re, sys
t0 = float(sys.argv[2]) - 1.0
ts = [float(m.group(1)) for m in
      (re.match(r'\[(\d+\.\d+)\].*bytes from', l) for l in open(sys.argv[1])) if m]
ts = [t for t in ts if t >= t0]
print(int(max((b - a for a, b in zip(ts, ts[1:])), default=0) * 1000))
PY
}

# iperf3 a -> b for BENCH_SECS: "mbps retrans_pct".
iperf() { # CLIENT_HOST SERVER_ADDR MSS
  netns_exec "$1" iperf3 -c "$2" -p 5301 -t "$BENCH_SECS" -J 2>/dev/null |
    python3 -c '
import json, sys
j = json.load(sys.stdin)
e = j["end"]
mbps = e["sum_received"]["bits_per_second"] / 1e6
sent = e["sum_sent"]["bytes"]
segs = max(sent / int(sys.argv[1]), 1)
print("%.0f %.3f" % (mbps, 100.0 * e["sum_sent"].get("retransmits", 0) / segs))' "$3"
}

phase_nat() {
  . "$IPOP_SRC_DIR/tests/integration/tincan_helpers.sh"
  . "$IPOP_SRC_DIR/tests/lib/coturn.sh"
  . "$IPOP_SRC_DIR/tests/integration/paths_bed.sh"
  netns_init
  paths_bed
  netns_spawn b "$NETNS_TMPDIR/iperf3.log" iperf3 -s -p 5301
  is_relay() { [ "$(tc_stat a node-b pair_type)" = relay ]; }
  not_relay() { ! is_relay; }
  paths_block
  tc_link a node-a b node-b
  tc_wait_state a node-b up 30
  wait_ping a 10.254.0.2 10
  local pf=$NETNS_TMPDIR/ping.txt t0 s0
  netns_exec a sh -c 'exec ping -D -i 0.05 -W 1 10.254.0.2' >"$pf" 2>&1 &
  local ppid=$!
  netns_defer kill "$ppid"
  wait_until 5 sh -c "grep -q 'bytes from' $pf"

  s0=$(date +%s.%N); t0=$(date +%s%N)
  paths_unblock
  wait_until 90 not_relay && echo "paths_upgrade_ms $(ms_since "$t0")" || echo "paths_upgrade_ms timeout"
  sleep 2
  echo "paths_upgrade_gap_ms $(gap "$pf" "$s0")"

  read -r mbps rt < <(iperf a 10.254.0.2 1228)
  echo "paths_direct_tcp1_mbps $mbps"; echo "paths_direct_retrans_pct $rt"
  local direct=$mbps

  # A standby relay must be ready before the direct path is cut.
  wait_until 60 grep -q 'relayed path ready\|records now leave by slot 1' "$(tc_log a)" || true
  sleep 3
  s0=$(date +%s.%N); t0=$(date +%s%N)
  paths_block
  wait_until 30 is_relay && echo "paths_fallback_ms $(ms_since "$t0")" || echo "paths_fallback_ms timeout"
  sleep 3
  echo "paths_fallback_gap_ms $(gap "$pf" "$s0")"

  read -r mbps rt < <(iperf a 10.254.0.2 1228)
  echo "paths_relay_tcp1_mbps $mbps"; echo "paths_relay_retrans_pct $rt"
  local relay=$mbps

  paths_unblock
  wait_until 90 not_relay || true
  sleep 3
  s0=$(date +%s.%N)
  coturn_stop turn
  sleep 5
  echo "paths_relay_loss_gap_ms $(gap "$pf" "$s0")"
  coturn_start turn srv 198.18.0.100
  coturn_wait turn 10

  s0=$(date +%s.%N)
  paths_rebind
  sleep 8
  echo "paths_rebind_gap_ms $(gap "$pf" "$s0")"

  netns_cut ra
  sleep 20
  local n0
  n0=$(grep -c 'bytes from' "$pf" || true)
  t0=$(date +%s%N)
  netns_restore ra
  more() { [ "$(grep -c 'bytes from' "$pf" || true)" -gt "$n0" ]; }
  wait_until 90 more && echo "paths_cut_recovery_ms $(ms_since "$t0")" || echo "paths_cut_recovery_ms timeout"
  kill "$ppid" 2>/dev/null || true
  # What the path manager did, for reading the numbers above.
  local h
  for h in a b; do
    grep -h 'records now leave\|path ready\|not ready\|peer moved' "$(tc_log $h)" |
      sed "s/^ipop-tincan\[[0-9]*\]: /# $h: /" || true
  done
  python3 -c "print('ratio_relay_vs_direct_tcp1 %.2f' % ($relay / max($direct, 1)))"
}

phase_ctrl() {
  . "$IPOP_SRC_DIR/tests/integration/controller_helpers.sh"
  netns_init
  netns_segment pub
  ct_xmpp_start
  ct_xmpp_users n1 n2
  ct_xmpp_friends lab n1 n2
  ct_node n1 198.18.0.31 group '"Group": "lab", "LinkSetupTimeout": 15'
  ct_node n2 198.18.0.32 group '"Group": "lab", "LinkSetupTimeout": 15'
  ct_controller_start n1; ct_controller_start n2
  ct_wait_online n1 30; ct_wait_online n2 30
  local a2 t0 s0 pf=$NETNS_TMPDIR/ping.txt
  a2=$(ct_status n2 ip4)
  wait_ping n1 "$a2" 60
  netns_exec n1 sh -c "exec ping -D -i 0.05 -W 1 $a2" >"$pf" 2>&1 &
  local ppid=$!
  netns_defer kill "$ppid"

  kill -KILL "${TC_PID[n1]}"
  wait "${TC_PID[n1]}" 2>/dev/null || true
  mv "$(ct_dir n1)/tincan.log" "$(ct_dir n1)/tincan-before-kill.log"
  t0=$(date +%s%N)
  ct_tincan_start n1
  wait_ping n1 "$a2" 60 && echo "paths_ctrl_tincan_restart_ms $(ms_since "$t0")" ||
    echo "paths_ctrl_tincan_restart_ms timeout"

  sleep 3
  s0=$(date +%s.%N); t0=$(date +%s%N)
  kill -TERM "${CT_PID[n1]}"
  wait_until 10 ct__gone "${CT_PID[n1]}" || true
  mv "$(ct_log n1)" "$(ct_dir n1)/controller-before-stop.log"
  ct_controller_start n1
  ct_wait_online n1 30 || true
  wait_ping n1 "$a2" 60 && echo "paths_ctrl_controller_restart_ms $(ms_since "$t0")" ||
    echo "paths_ctrl_controller_restart_ms timeout"
  sleep 2
  echo "paths_ctrl_controller_restart_gap_ms $(gap "$pf" "$s0")"

  netns_cut n2 pub
  sleep 20
  netns_restore n2
  t0=$(date +%s%N)
  wait_ping n1 "$a2" 90 && echo "paths_ctrl_cut_recovery_ms $(ms_since "$t0")" ||
    echo "paths_ctrl_cut_recovery_ms timeout"
  kill "$ppid" 2>/dev/null || true
  ct_finish >/dev/null 2>&1 || true
}

for ph in "${phases[@]}"; do
  case $ph in
    nat) (phase_nat) ;;
    ctrl) (phase_ctrl) ;;
    *) echo "usage: $0 [nat] [ctrl]" >&2; exit 2 ;;
  esac
done
