#!/usr/bin/env bash
# ipop-tincan test 6: three hosts linked to one hub.  ARP and ping reach
# each; once MACs are learned, unicast goes only to the right link (counted
# on the hub's links).
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init

netns_segment pub
netns_host h; netns_attach h pub 198.18.0.10/24
tc_start h
tc_listen h
tc_overlay h node-h 10.254.0.1 >/dev/null
i=2
for s in x y z; do
  netns_host $s; netns_attach $s pub 198.18.0.1$i/24
  tc_start $s
  tc_overlay $s node-$s 10.254.0.$i >/dev/null
  i=$((i+1))
done
for s in x y z; do tc_link h node-h $s node-$s; done
for s in x y z; do check "link hub-$s up" tc_wait_state h node-$s up 15; done
i=2
for s in x y z; do
  check "hub pings $s (ARP resolved by broadcast)" wait_ping h 10.254.0.$i 5
  check "$s pings the hub" wait_ping $s 10.254.0.1 5
  i=$((i+1))
done

tx() { tc_stat h "node-$1" tx_packets; }
bx=$(tx x); by=$(tx y); bz=$(tx z)
netns_exec h ping -c 50 -i 0.01 -q 10.254.0.2 >/dev/null
ax=$(tx x); ay=$(tx y); az=$(tx z)
echo "# hub tx frames during 50 pings to x: x +$((ax-bx)), y +$((ay-by)), z +$((az-bz))"
check "unicast to x went to x's link" test $((ax - bx)) -ge 50
check "y's link got (almost) nothing" test $((ay - by)) -lt 5
check "z's link got (almost) nothing" test $((az - bz)) -lt 5

# An unknown unicast destination: reported, and flooded.
netns_exec h ip neigh replace 10.254.0.99 lladdr 02:00:00:00:00:99 dev ipop0
netns_exec h ping -c 2 -W 1 -q 10.254.0.99 >/dev/null 2>&1 || true
check "unknown_destination event for 02:00:00:00:00:99" \
  wait_file "$(tc_events h)" '"dst_mac":"02:00:00:00:00:99".*"event":"unknown_destination"' 5

# Removing one link leaves the others working.
tc_call h remove_link '{"overlay_id":"ov","peer_id":"node-y"}' >/dev/null
check "after removing y, x still answers" wait_ping h 10.254.0.2 5
check "and z too" wait_ping h 10.254.0.4 5
check "query_overlay_info counts 2 links" \
  test "$(tc_call h query_overlay_info '{"overlay_id":"ov"}' | jq .n_links)" = 2
tc_finish
