#!/usr/bin/env bash
# bench/soak.sh HOURS: a long run under churn that shows whether the daemons
# leak (memory, file descriptors, ICE agents, links) or degrade.
#
# Network: ejabberd in its own namespace and SOAK_NODES (default 4, 3..6)
# GroupVPN nodes n1..nN on one segment, each running ipop-tincan and
# ipop-controller exactly as the integration tests do
# (tests/integration/controller_helpers.sh), with Tincan.RekeyInterval
# SOAK_REKEY (default 30 s).  n1 and n2 run for the whole soak (they are
# the subjects of the growth figures); n3..nN are the churned peers.
#
# Load, all the time: iperf3 TCP n2 -> n1 over the overlay, rate-limited to
# SOAK_RATE (default 20M; the client is restarted whenever it ends).
# Churn, by the minute m (1, 2, ...):
#   m % 3 == 0   a path cut: one node (n2, n3, ... in turn) drops all its
#                packets for 20 s (netns_cut), then is restored;
#   m % 4 == 2   a peer restarts (n3..nN in turn): every other time only its
#                controller (SIGTERM, start), otherwise both daemons;
#   m % 10 == 5  the XMPP server restarts (stop, start);
#   always       rekeying every SOAK_REKEY s on every link.
# Sampling, at second 55 of each minute: of n1's and n2's controller and
# tincan, RSS (VmRSS, KiB), open fds, threads, and for tincan its UDP
# sockets (a proxy for live libnice agents: each agent owns its sockets
# until the link settles on one) and its links (total and up); and the ping
# success rate from n1 and n2 to every other node (5 pings each).
# Samples go to $SOAK_OUT/samples.tsv (minute, series, value), churn to
# events.tsv, the daemons' logs at the end; SOAK_OUT defaults to
# /tmp/ipop-soak-<UTC time> and is kept.
#
# Report: for each series, first/last/mean, and the least-squares slope per
# hour over the whole run, the first half and the second half.  A series
# "grows without bound" (exit status 1) when its second-half slope is above
# its threshold AND its last quarter's median is above its second quarter's
# median by more than that threshold over the time between them: growth that
# continues to the end.  Warm-up (caches, pools filling in the first half)
# passes.  Thresholds per hour: RSS 1024 KiB, fds 2, threads 2, UDP
# sockets 2, links 1; ping loss (percent) 10 points.
#
#   sudo bench/soak.sh 0.17                 # ~10 minutes: a smoke run
#   sudo nice bench/soak.sh 2 > /tmp/soak.log 2>&1
#   SOAK_NODES=6 SOAK_RATE=10M sudo bench/soak.sh 24
#
# Use a copy of the build for long runs (IPOP_BUILD_DIR=/path/to/copy): a
# rebuild under a running soak would replace its binaries.  Needs root,
# ejabberd, iperf3, jq, python3.  Everything runs in namespaces made for the
# run and is removed on any exit, including Ctrl-C.
set -uo pipefail
HOURS=${1:?usage: bench/soak.sh HOURS}
HERE=$(cd "$(dirname "$0")" && pwd)
export IPOP_SRC_DIR=${IPOP_SRC_DIR:-$(cd "$HERE/.." && pwd)}
# shellcheck source=tests/integration/controller_helpers.sh
. "$IPOP_SRC_DIR/tests/integration/controller_helpers.sh"
ct_skip_unless_ready
for t in iperf3 python3; do command -v "$t" >/dev/null || { echo "soak: $t missing"; exit 77; }; done

SOAK_NODES=${SOAK_NODES:-4}
SOAK_REKEY=${SOAK_REKEY:-30}
SOAK_RATE=${SOAK_RATE:-20M}
[ "$SOAK_NODES" -ge 3 ] && [ "$SOAK_NODES" -le 6 ] || { echo "SOAK_NODES: 3..6"; exit 2; }
MINUTES=$(python3 -c "import sys; print(max(2, round(float(sys.argv[1]) * 60)))" "$HOURS") ||
  { echo "HOURS: a number"; exit 2; }

soak_log() { printf '[soak %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

netns_init
SOAK_OUT=${SOAK_OUT:-/tmp/ipop-soak-$(date -u +%Y%m%dT%H%M%S)}
mkdir -p "$SOAK_OUT"
: >"$SOAK_OUT/samples.tsv"
: >"$SOAK_OUT/events.tsv"
soak_log "$SOAK_NODES nodes, $MINUTES minutes, rekey ${SOAK_REKEY}s, iperf3 -b $SOAK_RATE;" \
  "build $IPOP_BUILD_DIR; samples in $SOAK_OUT; load $(cut -d' ' -f1-3 /proc/loadavg)"

nodes=()
for i in $(seq 1 "$SOAK_NODES"); do nodes+=("n$i"); done
netns_segment pub
ct_xmpp_start || { soak_log "XMPP server did not start"; exit 1; }
ct_xmpp_users "${nodes[@]}" >/dev/null
ct_xmpp_friends lab "${nodes[@]}" >/dev/null
ct_xmpp_ready

# soak_node NAME ADDR: ct_node with Tincan.RekeyInterval set.
soak_node() {
  local h=$1 d
  d=$(ct_dir "$h")
  netns_host "$h"
  netns_attach "$h" pub "$2/24"
  CT_LOG_LEVEL=info ct_config "$h" group '"Group": "lab", "LinkSetupTimeout": 15' \
    '"Subnet": "10.254.0.0/24"'
  jq --argjson r "$SOAK_REKEY" '.Tincan.RekeyInterval = $r | .Tincan.Log.Level = "info"' \
    "$d/config.json" >"$d/config.tmp" && mv "$d/config.tmp" "$d/config.json"
  chmod 644 "$d/config.json"
  ct_tincan_start "$h"
}
i=51
for h in "${nodes[@]}"; do soak_node "$h" "198.18.0.$i" || exit 1; i=$((i + 1)); done
for h in "${nodes[@]}"; do ct_controller_start "$h"; done
for h in "${nodes[@]}"; do
  ct_wait_online "$h" 60 || { soak_log "$h did not come online"; netns_dump_logs; exit 1; }
done
declare -A addr
for h in "${nodes[@]}"; do addr[$h]=$(ct_status "$h" ip4); done
soak_log "addresses: $(for h in "${nodes[@]}"; do printf '%s=%s ' "$h" "${addr[$h]}"; done)"
all_up() { local h; for h in "${nodes[@]}"; do [ "$(ct_links_up "$h")" = $((SOAK_NODES - 1)) ] || return 1; done; }
wait_until 120 all_up || soak_log "warning: not every link is up after 120 s"

# Traffic: iperf3 server in n1, a client loop in n2.
netns_spawn n1 "$SOAK_OUT/iperf3-server.log" iperf3 -s -p 5201
wait_listen n1 tcp 5201 10 || soak_log "warning: iperf3 server not listening"
netns_spawn n2 "$SOAK_OUT/iperf3-client.log" bash -c \
  "while :; do iperf3 -c ${addr[n1]} -p 5201 -t 600 -b $SOAK_RATE --connect-timeout 3000 -f m -i 60; sleep 2; done"

# ---- churn -------------------------------------------------------------------
soak_event() { printf '%s\t%s\n' "$1" "$2" >>"$SOAK_OUT/events.tsv"; soak_log "minute $1: $2"; }
churned=("${nodes[@]:2}")
cut_turn=0 restart_turn=0

soak_restart_peer() {
  local m=$1 h=${churned[$((restart_turn % ${#churned[@]}))]} full=$((restart_turn % 2))
  restart_turn=$((restart_turn + 1))
  kill -TERM "${CT_PID[$h]}" 2>/dev/null
  wait_pid_gone "${CT_PID[$h]}" 10 || kill -KILL "${CT_PID[$h]}" 2>/dev/null
  if [ "$full" = 1 ]; then
    kill -TERM "${TC_PID[$h]}" 2>/dev/null
    wait_pid_gone "${TC_PID[$h]}" 10 || kill -KILL "${TC_PID[$h]}" 2>/dev/null
    ct_tincan_start "$h" || soak_log "warning: tincan on $h did not restart"
    soak_event "$m" "restart $h (tincan and controller)"
  else
    soak_event "$m" "restart $h (controller)"
  fi
  ct_controller_start "$h"
}

soak_xmpp_restart() {
  soak_event "$1" "XMPP server restart"
  ct_xmpp_stop
  ct_xmpp_restart || soak_log "warning: XMPP server did not restart"
}

# ---- sampling ---------------------------------------------------------------
soak_put() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$SOAK_OUT/samples.tsv"; }
soak_proc() {  # MINUTE NAME PID: rss, fds, threads
  local m=$1 n=$2 p=$3 rss thr fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || return
  thr=$(awk '/^Threads:/ {print $2}' "/proc/$p/status" 2>/dev/null)
  fds=$(find "/proc/$p/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  [ -n "$rss" ] || return
  soak_put "$m" "$n.rss_kib" "$rss"
  soak_put "$m" "$n.fds" "$fds"
  soak_put "$m" "$n.threads" "$thr"
}
soak_sample() {
  local m=$1 h p s a b sent=0 got=0 n
  for h in n1 n2; do
    soak_proc "$m" "$h.controller" "${CT_PID[$h]}"
    p=${TC_PID[$h]}
    soak_proc "$m" "$h.tincan" "$p"
    n=$(netns_exec "$h" ss -Huanp 2>/dev/null | grep -c "pid=$p,")
    soak_put "$m" "$h.tincan.udp_sockets" "$n"
    s=$(tc_call "$h" query_link_stats '{"overlay_id":"lab"}' 2>/dev/null)
    soak_put "$m" "$h.tincan.links" "$(jq '.links | length' <<<"$s" 2>/dev/null || echo 0)"
    soak_put "$m" "$h.tincan.links_up" "$(jq '[.links[] | select(.state=="up")] | length' <<<"$s" 2>/dev/null || echo 0)"
    soak_put "$m" "$h.tincan.rekeys" "$(jq '[.links[].rekeys] | add // 0' <<<"$s" 2>/dev/null || echo 0)"
    soak_put "$m" "$h.tincan.tx_mib" "$(jq '[.links[].tx_bytes] | add // 0 | ./1048576 | floor' <<<"$s" 2>/dev/null || echo 0)"
  done
  for a in n1 n2; do
    for b in "${nodes[@]}"; do
      [ "$a" = "$b" ] && continue
      n=$(netns_exec "$a" ping -n -q -c 5 -i 0.2 -W 1 "${addr[$b]}" 2>/dev/null |
          sed -n 's/.* \([0-9]*\) received.*/\1/p')
      sent=$((sent + 5)); got=$((got + ${n:-0}))
    done
  done
  soak_put "$m" "ping.loss_pct" "$(( (sent - got) * 100 / sent ))"
}

# ---- the run --------------------------------------------------------------
start=$(date +%s)
cut_node=""
for m in $(seq 1 "$MINUTES"); do
  t0=$((start + (m - 1) * 60))
  if [ $((m % 10)) = 5 ]; then soak_xmpp_restart "$m"
  elif [ $((m % 4)) = 2 ]; then soak_restart_peer "$m"
  fi
  if [ $((m % 3)) = 0 ]; then
    cut_node=${nodes[$((1 + cut_turn % (SOAK_NODES - 1)))]}
    cut_turn=$((cut_turn + 1))
    netns_cut "$cut_node" pub
    soak_event "$m" "path cut: $cut_node for 20 s"
  fi
  while [ "$(date +%s)" -lt $((t0 + 25)) ]; do sleep 1; done
  if [ -n "$cut_node" ]; then netns_restore "$cut_node"; cut_node=""; fi
  while [ "$(date +%s)" -lt $((t0 + 55)) ]; do sleep 1; done
  soak_sample "$m"
  for h in "${nodes[@]}"; do
    kill -0 "${TC_PID[$h]}" 2>/dev/null || soak_log "warning: tincan on $h is gone"
    kill -0 "${CT_PID[$h]}" 2>/dev/null || soak_log "warning: controller on $h is gone"
  done
  soak_log "minute $m/$MINUTES: $(awk -F'\t' -v m="$m" '$1 == m && $2 ~ /^(n1\.(controller|tincan)\.rss_kib|n1\.tincan\.(fds|links_up)|ping\.loss_pct)$/ {printf "%s=%s ", $2, $3}' "$SOAK_OUT/samples.tsv")load $(cut -d' ' -f1 /proc/loadavg)"
done

# ---- report -----------------------------------------------------------------
crashed=0
for h in "${nodes[@]}"; do
  if grep -Eq 'Sanitizer|runtime error|Segmentation|Aborted' "$(ct_log "$h")" "$(tc_log "$h")"; then
    soak_log "FAIL: $h: crash or sanitizer report in its logs"; crashed=1
  fi
done
kill -0 "${CT_PID[n1]}" && kill -0 "${TC_PID[n1]}" && kill -0 "${CT_PID[n2]}" && kill -0 "${TC_PID[n2]}" ||
  { soak_log "FAIL: a long-lived daemon (n1, n2) is gone"; crashed=1; }
for h in "${nodes[@]}"; do cp "$(ct_log "$h")" "$SOAK_OUT/$h-controller.log"; cp "$(tc_log "$h")" "$SOAK_OUT/$h-tincan.log"; done 2>/dev/null
python3 "$HERE/soak_report.py" "$SOAK_OUT/samples.tsv"
verdict=$?
soak_log "churn: $(cut -f2 "$SOAK_OUT/events.tsv" | sed -E 's/^(restart|path cut|XMPP server restart).*/\1/' |
  sort | uniq -c | awk '{n = $1; $1 = ""; printf "%s%s x%s", sep, $0, n; sep = ","}')"
echo "soak_ping_loss_pct_mean $(awk -F'\t' '$2 == "ping.loss_pct" {s += $3; n++} END {printf "%.1f", n ? s / n : 0}' "$SOAK_OUT/samples.tsv")"
[ "$verdict" = 0 ] && [ "$crashed" = 0 ]
