#!/usr/bin/env bash
# Switching modes is a config change plus restart (issue 5): a and b run
# GroupVPN (group "lab", derived addresses) and ping each other; both
# controllers stop, their configs switch to SocialVPN (each its own
# subnet), they start again: same node ids, a link again, each pings the
# other at the address its own pool gave it.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users a b
ct_xmpp_friends lab a b
ct_node a 198.18.0.71 group '"Group": "lab"'
ct_node b 198.18.0.72 group '"Group": "lab"'
for h in a b; do ct_controller_start "$h"; done
for h in a b; do check "$h online (group)" ct_wait_online "$h" 30; done
check "status: mode group" test "$(ct_status a mode)" = group
ida=$(ct_status a node_id)
check "a pings b (GroupVPN)" wait_ping a "$(ct_status b ip4)" 60

for h in a b; do
  kill -TERM "${CT_PID[$h]}"
  check "$h's controller stops" wait_until 10 ct__gone "${CT_PID[$h]}"
  mv "$(ct_log "$h")" "$(ct_dir "$h")/controller-group.log"
done
ct_config a social "" '"Subnet": "172.31.0.0/24"'
ct_config b social "" '"Subnet": "172.30.0.0/24"'
for h in a b; do ct_controller_start "$h"; done
for h in a b; do check "$h online (social)" ct_wait_online "$h" 30; done
check "status: mode social" test "$(ct_status a mode)" = social
check "the node id survived the switch" test "$(ct_status a node_id)" = "$ida"
mapped() {
  ct_ctl "$1" -j peers | jq -r '[.peers[] | .mapped_ip4 // empty][0] // empty'
}
has_mapped() { [ -n "$(mapped "$1")" ]; }
check "a has an address for b" wait_until 60 has_mapped a
check "b has an address for a" wait_until 30 has_mapped b
check "a pings b at $(mapped a) (SocialVPN)" wait_ping a "$(mapped a)" 30
check "b pings a at $(mapped b)" wait_ping b "$(mapped b)" 30
ct_finish
