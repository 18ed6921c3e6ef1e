#!/usr/bin/env bash
# Several nodes on one account (SocialVPN): alice runs two nodes (alice1,
# alice2, both logged in as alice, so two resources of one JID); bob is her
# friend.  alice's two nodes link to each other and each to bob; bob sees
# both of them, at two addresses of his pool.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users alice bob
ct_xmpp_friends f alice bob
ct_xmpp_ready
CT_JID_USER=alice ct_node alice1 198.18.0.81 social "" '"Subnet": "172.31.0.0/24"'
CT_JID_USER=alice ct_node alice2 198.18.0.82 social "" '"Subnet": "172.31.0.0/24"'
ct_node bob 198.18.0.83 social "" '"Subnet": "172.30.0.0/24"'
for h in alice1 alice2 bob; do ct_controller_start "$h"; done
for h in alice1 alice2 bob; do check "$h online" ct_wait_online "$h" 30; done
n_up() { [ "$(ct_links_up "$1")" = "$2" ]; }
for h in alice1 alice2 bob; do check "$h has 2 links" wait_until 60 n_up "$h" 2; done
# Every mapped address HOST has, one per line.
mapped_all() { ct_ctl "$1" -j peers | jq -r '.peers[] | .mapped_ip4 // empty'; }
for h in alice1 alice2 bob; do
  for a in $(mapped_all "$h"); do check "$h pings $a" wait_ping "$h" "$a" 30; done
done
check "bob's hosts file names alice twice (two nodes)" \
  test "$(grep -Ec "^[0-9.]+[[:space:]]+alice@$CT_DOMAIN" "$(ct_dir bob)/state/hosts")" = 2
check "... and twice more at IPv6 addresses" \
  test "$(grep -Ec "^[0-9a-f:]+[[:space:]]+alice@$CT_DOMAIN" "$(ct_dir bob)/state/hosts")" = 2
ct_finish
