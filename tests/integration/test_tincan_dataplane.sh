#!/usr/bin/env bash
# ipop-tincan dataplane (docs/tincan.md "Dataplane"): after the link is up
# each end takes the ICE-selected socket over (log line, stats keep the
# pair), TSO super-frames and frames above TC_SAFE_MTU cross as several
# records, and no datagram is ever IP-fragmented on the 1500-byte underlay;
# SocialVPN mapping switches TAP offloads off and traffic still flows.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init

netns_segment pub
netns_host a; netns_attach a pub 198.18.0.11/24
netns_host b; netns_attach b pub 198.18.0.12/24
tc_start a; tc_start b
# A jumbo TAP MTU: full frames are split into two records.
TC_OVERLAY_EXTRA=',"mtu":4000,"ip6":"fd00:254::1","ip6_prefix":64' \
  tc_overlay a node-a 10.254.0.1 >/dev/null
TC_OVERLAY_EXTRA=',"mtu":4000,"ip6":"fd00:254::2","ip6_prefix":64' \
  tc_overlay b node-b 10.254.0.2 >/dev/null
tc_link a node-a b node-b
check "link up on a" tc_wait_state a node-b up 15
check "link up on b" tc_wait_state b node-a up 5
check "a took the selected socket over" \
  wait_file "$(tc_log a)" "dataplane on the selected socket" 10
check "b took the selected socket over" \
  wait_file "$(tc_log b)" "dataplane on the selected socket" 10
check "stats keep the pair after the take-over" \
  test "$(tc_stat a node-b pair_type)/$(tc_stat a node-b remote_addr)" = "host/$(tc_stat b node-a local_addr)"

# IPv4 fragments created plus reassemblies started, in a and b together.
frag_ns() {
  netns_exec "$1" awk '/^Ip:/ { if (!h) { for (i = 1; i <= NF; i++) ix[$i] = i; h = 1 }
    else print $ix["FragCreates"] + $ix["ReasmReqds"] }' /proc/net/snmp
}
frag() { echo $(( $(frag_ns a) + $(frag_ns b) )); }
f0=$(frag)
check "ping a->b" wait_ping a 10.254.0.2 5
big_ping() { netns_exec a ping -c 3 -W 2 -M do -s 3900 -q 10.254.0.2 >/dev/null; }
check "3900-byte ping with DF crosses (frame split into records)" big_ping
netns_spawn b "$NETNS_TMPDIR/iperf-s.log" iperf3 -s
wait_listen b tcp 5201 5
if netns_exec a iperf3 -c 10.254.0.2 -t 3 -J >"$NETNS_TMPDIR/iperf.json" 2>&1; then
  bps=$(jq '.end.sum_received.bits_per_second' "$NETNS_TMPDIR/iperf.json")
  echo "# iperf3 TCP 1 stream a->b (TSO super-frames): $(awk -v b="$bps" 'BEGIN{printf "%.1f", b/1e6}') Mbit/s"
  check "iperf3 moved data" awk -v b="$bps" 'BEGIN{exit !(b > 1e6)}'
else
  check "iperf3 ran" false
fi
check "IPv6 reachable (ND)" wait_until 5 netns_exec a ping -6 -c1 -W1 -q fd00:254::2
if netns_exec a iperf3 -6 -c fd00:254::2 -t 2 -J >"$NETNS_TMPDIR/iperf6.json" 2>&1; then
  bps=$(jq '.end.sum_received.bits_per_second' "$NETNS_TMPDIR/iperf6.json")
  echo "# iperf3 TCP over IPv6 (TSO6): $(awk -v b="$bps" 'BEGIN{printf "%.1f", b/1e6}') Mbit/s"
  check "iperf3 over IPv6 moved data" awk -v b="$bps" 'BEGIN{exit !(b > 1e6)}'
else
  check "iperf3 over IPv6 ran" false
fi
check "no IP fragmentation on the underlay" test "$(frag)" -eq "$f0"
echo "# a's link: $(tc_call a query_link_stats "{}" | jq -c '.links[0] | {tx_packets, rx_packets, drops}')"

# SocialVPN mapping on this link: offloads go off; complete frames only.
tc_call a set_address_mapping "{\"overlay_id\":\"$TC_OVERLAY\",\"peer_id\":\"node-b\",
  \"mapped_ip4\":\"10.254.0.99\",\"peer_ip4\":\"10.254.0.2\"}" >/dev/null
tc_call b set_address_mapping "{\"overlay_id\":\"$TC_OVERLAY\",\"peer_id\":\"node-a\",
  \"mapped_ip4\":\"10.254.0.98\",\"peer_ip4\":\"10.254.0.1\"}" >/dev/null
check "mapped address answers ping" wait_ping a 10.254.0.99 5
if netns_exec a iperf3 -c 10.254.0.99 -t 2 -J >"$NETNS_TMPDIR/iperf2.json" 2>&1; then
  bps=$(jq '.end.sum_received.bits_per_second' "$NETNS_TMPDIR/iperf2.json")
  echo "# iperf3 through the mapping (no offloads): $(awk -v b="$bps" 'BEGIN{printf "%.1f", b/1e6}') Mbit/s"
  check "TCP through the mapping" awk -v b="$bps" 'BEGIN{exit !(b > 1e5)}'
else
  check "iperf3 through the mapping ran" false
fi
tc_finish
