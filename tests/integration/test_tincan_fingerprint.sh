#!/usr/bin/env bash
# ipop-tincan test 4: a wrong peer fingerprint.  No link comes up, an event
# names the reason, and no frame crosses.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init
tc_two_hosts

ca=$(tc_candidates a node-b)
cb=$(tc_candidates b node-a)
# a (controlling, the DTLS client) is told a fingerprint that is not b's.
wrong=$(jq -r .fingerprint <<<"$ca")   # a's own: well-formed, but not b's
tc_create_link a node-b "$cb" "$wrong" >/dev/null
tc_create_link b node-a "$ca" >/dev/null

check "a reports the link failed" tc_wait_state a node-b failed 15
check "a's event names the fingerprint mismatch" \
  wait_file "$(tc_events a)" '"reason":"fingerprint mismatch".*"state":"failed"' 5
check "b's link fails too (a's alert)" tc_wait_state b node-a failed 10
check "b's event has a reason" wait_file "$(tc_events b)" '"reason":"[^"]+".*"state":"failed"' 5
check "no ping crosses" sh -c "! ip netns exec $(netns_ns a) ping -c 3 -W 1 -q 10.254.0.2"
check "no frame sent by a" test "$(tc_stat a node-b tx_packets)" = 0
check "no frame received by b" test "$(tc_stat b node-a rx_packets)" = 0
check "nothing written into b's TAP (its rx counter)" \
  sh -c "[ \$(ip -n $(netns_ns b) -s -j link show ipop0 | jq '.[0].stats64.rx.packets') -eq 0 ]"

# The controller may retry with the right fingerprint after removing.
tc_call a remove_link '{"overlay_id":"ov","peer_id":"node-b"}' >/dev/null
tc_call b remove_link '{"overlay_id":"ov","peer_id":"node-a"}' >/dev/null
tc_link a node-a b node-b
check "with the right fingerprint the link comes up" tc_wait_state a node-b up 15
check "and ping crosses" wait_ping a 10.254.0.2 5
tc_finish
