#!/usr/bin/env bash
# ipop-tincan test 5: the path is cut silently (iptables DROP): a "down"
# event within 10 s.  When the path returns, the same link recovers by
# itself (tincan keeps ICE's selected pair and its DTLS session; it does not
# restart ICE), and a controller can also re-create the link.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init
tc_two_hosts
tc_link a node-a b node-b
check "link up" tc_wait_state a node-b up 15
check "ping crosses" wait_ping a 10.254.0.2 5

netns_cut b
t0=$(date +%s%N)
check "a sees the link down within 10 s" \
  wait_file "$(tc_events a)" '"state":"down"' 10
t1=$(date +%s%N)
echo "# down detected after $(( (t1 - t0) / 1000000 )) ms"
check "b sees it down too" wait_file "$(tc_events b)" '"state":"down"' 10
check "stats say down" test "$(tc_stat a node-b state)" = down

netns_restore b
check "the path returns: link up again by itself" tc_wait_state a node-b up 15
check "ping crosses again" wait_ping a 10.254.0.2 5

# A controller's recovery: remove and re-create both ends.
netns_cut b
check "down again" tc_wait_state a node-b down 10
netns_restore b
tc_call a remove_link '{"overlay_id":"ov","peer_id":"node-b"}' >/dev/null
tc_call b remove_link '{"overlay_id":"ov","peer_id":"node-a"}' >/dev/null
tc_link a node-a b node-b
check "re-created link comes up" tc_wait_state a node-b up 15
check "ping crosses over the re-created link" wait_ping a 10.254.0.2 5
tc_finish
