# shellcheck shell=bash
# Groups over an XMPP room, end to end (issue #7), sourced by
# test_controller_muc_ejabberd.sh and test_controller_muc_prosody.sh
# (CT_XMPP_KIND picks the server).  carol, david and erin are friends
# (SocialVPN: their configured overlay links them too); frank is nobody's
# contact.
#   - carol creates "lab" (default subnet) and invites david and erin, who
#     accept because the invitation comes from a friend; all three ping
#     each other on the group's overlay
#   - frank, not invited, cannot join the room and gets no link
#   - david blocks carol: their links go (group and social), david<->erin
#     stays; unblocking lets them form again
#   - carol removes erin: erin's group links go on every side within 30 s
#     (her social links stay), her group overlay is gone
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users carol david erin frank
ct_xmpp_friends friends carol david erin
ct_xmpp_ready

ct_node carol 198.18.0.11 social ''
ct_node david 198.18.0.12 social ''
ct_node erin 198.18.0.13 social ''
ct_node frank 198.18.0.14 social ''
for h in carol david erin frank; do ct_controller_start "$h"; done
for h in carol david erin frank; do check "$h online" ct_wait_online "$h" 30; done

grp() { ct_grp "$@"; }
joined() { ct_grp_joined "$@"; }
lab_links() {
  local ov
  ov=$(grp "$1" lab overlay_id)
  [ -n "$ov" ] || { echo 0; return; }
  tc_call "$1" query_link_stats "{\"overlay_id\":\"$ov\"}" | jq '[.links[] | select(.state=="up")] | length'
}
lab_links_are() { [ "$(lab_links "$1")" = "$2" ]; }
# Is there an up link on HOST's group overlay to the node of user PEER?
lab_link_to() {
  local ov id
  ov=$(grp "$1" lab overlay_id)
  id=$(ct_ctl "$1" -j group list | jq -r --arg j "$2@$CT_DOMAIN" '.groups[] | select(.name=="lab") | .members[] | select(.jid==$j) | .node_id')
  [ -n "$ov" ] && [ -n "$id" ] || return 1
  [ "$(tc_call "$1" query_link_stats "{\"overlay_id\":\"$ov\",\"peer_id\":\"$id\"}" | jq -r '.links[0].state')" = up ]
}
no_lab_link_to() { ! lab_link_to "$@"; }
social_up() { [ "$(ct_links_up "$1")" = "$2" ]; }

echo "# 1. carol creates lab and invites david and erin"
t0=$(date +%s%N)
check "carol creates lab" ct_ctl carol group create lab
check "lab joined on carol" wait_until 20 joined carol lab
subnet=$(grp carol lab subnet)
echo "# lab's subnet (default, from the room's hash): $subnet"
check "default subnet is a /24 of 10.253.0.0/16" grep -Eq '^10\.253\.[0-9]+\.0/24$' <<<"$subnet"
check "carol invites david" ct_ctl carol group invite lab "david@$CT_DOMAIN"
check "carol invites erin" ct_ctl carol group invite lab "erin@$CT_DOMAIN"
check "david accepts (invitation from a friend)" wait_until 30 joined david lab
check "erin accepts (invitation from a friend)" wait_until 30 joined erin lab
check "david reads the same subnet from the room" test "$(grp david lab subnet)" = "$subnet"
ct_group_ping_matrix lab 60 carol david erin
# Dual stack: the group's overlay has IPv6 too (the ULA of its overlay id,
# addresses derived from the node ids), learnt from the link parameters.
e6=$(grp erin lab address6)
check "erin has an IPv6 address in lab ($e6)" sh -c "case '$e6' in fd*:*) ;; *) exit 1;; esac"
check "carol pings6 erin on lab" wait_ping carol "$e6" 30
member6() { ct_ctl carol -j group list | jq -e --arg a "$e6" \
  '[.groups[] | select(.name == "lab") | .members[] | select(.address6 == $a)] | length == 1' >/dev/null; }
check "carol's group list shows erin's IPv6 address" wait_until 20 member6
t1=$(date +%s%N)
echo "# create + 2 invitations -> all 6 pings on lab: $(( (t1 - t0) / 1000000 )) ms"
for h in carol david erin; do check "$h: 2 links up on lab" wait_until 20 lab_links_are "$h" 2; done
for h in carol david erin; do check "$h: 2 social links up" wait_until 30 social_up "$h" 2; done

echo "# 2. frank, not invited"
out=$(ct_ctl frank group join lab --room "lab@conference.$CT_DOMAIN" 2>&1) && ok=1 || ok=0
echo "# frank group join: $out"
check "frank cannot join lab" test "$ok" = 0
check "frank is told he is not a member" grep -q "not a member" <<<"$out"
check "frank has no group overlay" test -z "$(grp frank lab overlay_id)"
check "frank has no link" test "$(ct_links_up frank)" = 0
check "carol lists no frank in lab" sh -c "! $(printf '%q ' ip netns exec "$(netns_ns carol)" "$IPOPCTL" -k "$(ct_dir carol)/control.key" -s 127.0.0.1:5801 -j group list) | grep -q frank@"

echo "# 3. david blocks carol"
t0=$(date +%s%N)
check "david blocks carol" ct_ctl david block "carol@$CT_DOMAIN"
check "david's blocklist has carol" sh -c "$(printf '%q ' ip netns exec "$(netns_ns david)" "$IPOPCTL" -k "$(ct_dir david)/control.key" -s 127.0.0.1:5801 -j blocklist) | jq -e '.jids | index(\"carol@$CT_DOMAIN\")'"
check "david's lab link to carol goes" wait_until 30 no_lab_link_to david carol
check "carol's lab link to david goes" wait_until 30 no_lab_link_to carol david
t1=$(date +%s%N)
echo "# block -> lab link gone on both sides: $(( (t1 - t0) / 1000000 )) ms"
check "david's social link to carol goes too" wait_until 30 social_up david 1
check "david still pings erin on lab" wait_ping david "${addr[erin]}" 20
check "david <-> erin lab link stays" lab_link_to david erin
check "david no longer reaches carol on lab" sh -c "! ip netns exec $(netns_ns david) ping -c2 -W1 -q ${addr[carol]}"
check "carol still pings erin on lab" wait_ping carol "${addr[erin]}" 20
t0=$(date +%s%N)
check "david unblocks carol" ct_ctl david unblock "carol@$CT_DOMAIN"
check "david's lab link to carol comes back" wait_until 90 lab_link_to david carol
check "david pings carol on lab again" wait_ping david "${addr[carol]}" 30
t1=$(date +%s%N)
echo "# unblock -> lab link back: $(( (t1 - t0) / 1000000 )) ms"

echo "# 4. carol removes erin"
t0=$(date +%s%N)
check "carol removes erin" ct_ctl carol group remove lab "erin@$CT_DOMAIN"
check "carol's lab link to erin goes within 30 s" wait_until 30 no_lab_link_to carol erin
check "david's lab link to erin goes within 30 s" wait_until 30 no_lab_link_to david erin
removed() { [ "$(grp erin lab state)" = removed ]; }
check "erin sees her removal" wait_until 30 removed
check "erin's group TAP is gone" wait_until 30 sh -c "! ip netns exec $(netns_ns erin) ip link show ipopg0 2>/dev/null"
t1=$(date +%s%N)
echo "# remove -> erin's lab links gone on every side: $(( (t1 - t0) / 1000000 )) ms"
check "carol and david still linked on lab" wait_ping carol "${addr[david]}" 20
check "erin keeps her social links" social_up erin 2
check "erin's groups.json forgot lab" sh -c "! grep -q lab@ $(ct_dir erin)/state/groups.json"
ct_ctl carol group list | sed 's/^/# carol: /'

ct_finish
