#!/usr/bin/env bash
# ipop-tincan test 1: two hosts on one segment.  The link comes up over host
# candidates, ping works both ways over the TAP addresses, iperf3 runs.
# Also: the stats say host, the idle daemon sleeps, remove_overlay removes
# the TAP.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init

netns_segment pub
netns_host a; netns_attach a pub 198.18.0.11/24
netns_host b; netns_attach b pub 198.18.0.12/24

tc_start a
tc_start b
TC_OVERLAY_EXTRA=',"ip6":"fd00:254::1","ip6_prefix":64' tc_overlay a node-a 10.254.0.1 >/dev/null
TC_OVERLAY_EXTRA=',"ip6":"fd00:254::2","ip6_prefix":64' tc_overlay b node-b 10.254.0.2 >/dev/null
check "TAP ipop0 exists in a with its address" \
  sh -c "ip -n $(netns_ns a) -4 addr show ipop0 | grep -q 10.254.0.1/24"

t0=$(date +%s%N)
tc_link a node-a b node-b
check "link up on a within 15 s" tc_wait_state a node-b up 15
check "link up on b" tc_wait_state b node-a up 5
t1=$(date +%s%N)
echo "# link setup (query_candidates .. both up): $(( (t1 - t0) / 1000000 )) ms"

check "stats say host pair" test "$(tc_stat a node-b pair_type)" = host
check "a pings b over the overlay" wait_ping a 10.254.0.2 5
check "b pings a over the overlay" wait_ping b 10.254.0.1 5
check "IPv6 (ND by multicast) a -> b" wait_until 5 netns_exec a ping -6 -c1 -W1 -q fd00:254::2
netns_exec a ping -c 20 -i 0.05 -q 10.254.0.2 | tail -n 1 | sed 's/^/# ping a->b: /'

netns_spawn b "$NETNS_TMPDIR/iperf-s.log" iperf3 -s -1 -B 10.254.0.2
wait_listen b tcp 5201 5
if netns_exec a iperf3 -c 10.254.0.2 -t 3 -J >"$NETNS_TMPDIR/iperf.json" 2>&1; then
  bps=$(jq '.end.sum_received.bits_per_second' "$NETNS_TMPDIR/iperf.json")
  echo "# iperf3 TCP 1 stream a->b: $(awk -v b="$bps" 'BEGIN{printf "%.1f", b/1e6}') Mbit/s"
  check "iperf3 moved data" awk -v b="$bps" 'BEGIN{exit !(b > 1e6)}'
else
  check "iperf3 ran" false
fi
check "frames counted on the link" test "$(tc_stat a node-b tx_packets)" -gt 100

# Idle CPU: over 2 s the daemon uses well under 5% of a core.
pid=${TC_PID[a]}
c0=$(awk '{print $14+$15}' "/proc/$pid/stat"); sleep 2
c1=$(awk '{print $14+$15}' "/proc/$pid/stat")
echo "# idle CPU ticks in 2 s: $((c1 - c0)) (of $(( 2 * $(getconf CLK_TCK) )))"
check "idle tincan does not spin" test $((c1 - c0)) -lt 10

check "daemon runs as nobody" sh -c "grep -q '^Uid:.*65534' /proc/$pid/status"
check "only CAP_NET_ADMIN remains" sh -c "grep -q '^CapEff:.*0000000000001000' /proc/$pid/status"

tc_call a remove_overlay "{\"overlay_id\":\"$TC_OVERLAY\"}" >/dev/null
check "remove_overlay removed the TAP" sh -c "! ip -n $(netns_ns a) link show ipop0 2>/dev/null"
check "b sees the link go down within 10 s" tc_wait_state b node-a down 10
check "tincan a still running" kill -0 "${TC_PID[a]}"
tc_finish
