#!/usr/bin/env bash
# ipop-controller end to end over an IPv6-only underlay: the XMPP server and
# two GroupVPN members have only unique local IPv6 addresses
# (fd00:198:18::/64; link-local aside).  The controllers log in over IPv6,
# exchange IPv6 host candidates, link, and carry the dual-stack overlay
# (ping and ping6 both ways); each announces both overlay addresses.
set -euo pipefail
CT_XMPP_ADDR=fd00:198:18::1
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users v1 v2
ct_xmpp_friends lab v1 v2
ct_node v1 fd00:198:18::11 group '"Group": "lab"'
ct_node v2 fd00:198:18::12 group '"Group": "lab"'
check "v1 has no IPv4 address but loopback" \
  sh -c "! ip -n $(netns_ns v1) -4 -o addr show | grep -v ' lo ' | grep -q inet"
ct_controller_start v1
ct_controller_start v2
check "v1 online over IPv6" ct_wait_online v1 40
check "v2 online over IPv6" ct_wait_online v2 40
a2=$(ct_status v2 ip4); b2=$(ct_status v2 ip6); a1=$(ct_status v1 ip4); b1=$(ct_status v1 ip6)
t0=$(date +%s%N)
check "v1 pings v2 over the overlay ($a2)" wait_ping v1 "$a2" 60
echo "# first overlay ping after both were seen online: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
grep -h "is up, .* ms after both" "$(ct_log v1)" | sed 's/^/# v1: /' || true
check "v2 pings v1 ($a1)" wait_ping v2 "$a1" 20
check "v1 pings6 v2 ($b2)" wait_ping v1 "$b2" 20
check "v2 pings6 v1 ($b1)" wait_ping v2 "$b1" 20
ra=$(tc_call v1 query_link_stats '{"overlay_id":"lab"}' | jq -r '.links[0].remote_addr')
echo "# v1's link runs to $ra"
check "the link runs over the IPv6 underlay" sh -c "case '$ra' in '[fd00:198:18::12]:'*) ;; *) exit 1;; esac"
v1_sees_both() {
  ct_ctl v1 -j peers | jq -e --arg a "$a2" --arg b "$b2" \
    '[.peers[] | select(.ip4 == $a and .ip6 == $b)] | length == 1' >/dev/null
}
check "v1's peers show v2 with both addresses" wait_until 20 v1_sees_both
ct_finish
