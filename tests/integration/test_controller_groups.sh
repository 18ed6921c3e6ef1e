#!/usr/bin/env bash
# ipop-controller end to end, groups over an XMPP room (docs/groups.md):
# ejabberd (mod_muc) on the public segment; carol, david and erin are
# mutual contacts in roster group "friends", which is also their
# configured GroupVPN group: two overlays at once on every node.
#   - bad requests are refused with the field named (name, subnet, jid,
#     unknown group, not the owner)
#   - carol creates "lab"; invites david (accepts invitations from friends:
#     joins by itself) and erin (AcceptInvites "none": the invitation waits
#     in `groups` until `ipopctl group join lab`)
#   - all three ping each other on the group's own TAP and subnet, and on
#     the configured overlay
#   - david's controller restarts: it rejoins lab from groups.json
#   - the XMPP server restarts: lab's links carry traffic meanwhile, the
#     rooms are rejoined
#   - erin leaves: her overlay goes, and carol's and david's links to her
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users carol david erin
ct_xmpp_friends friends carol david erin
ct_xmpp_ready

ct_node carol 198.18.0.11 group '"Group": "friends"'
ct_node david 198.18.0.12 group '"Group": "friends"'
ct_node erin 198.18.0.13 group '"Group": "friends", "Groups": { "AcceptInvites": "none" }'
for h in carol david erin; do ct_controller_start "$h"; done
for h in carol david erin; do check "$h online" ct_wait_online "$h" 30; done

# ct_fails HOST PATTERN ARGS...: the request fails and its message matches.
ct_fails() {
  local h=$1 pat=$2 out
  shift 2
  if out=$(ct_ctl "$h" "$@" 2>&1); then
    echo "# unexpected success: $out"
    return 1
  fi
  echo "# $h $*: $out"
  grep -Eq -- "$pat" <<<"$out"
}
grp() { ct_grp "$@"; }
joined() { ct_grp_joined "$@"; }
members_online() { [ "$(ct_ctl "$1" -j group list | jq --arg n "$2" '[.groups[] | select(.name==$n) | .members[] | select(.node_id != null and .online)] | length')" = "$3" ]; }
group_links_up() {
  local ov
  ov=$(grp "$1" "$2" overlay_id)
  tc_call "$1" query_link_stats "{\"overlay_id\":\"$ov\"}" | jq '[.links[] | select(.state=="up")] | length'
}
links_are() { [ "$(group_links_up "$1" "$2")" = "$3" ]; }
# the configured overlay (its links came up at start; under load a first
# attempt may have been answered busy while a friend's PEP items were read)
main_links_are() { [ "$(ct_links_up "$1")" = "$2" ]; }

echo "# 1. bad requests"
check "bad group name refused (name)" ct_fails carol 'name' group create 'Bad Name'
check "name starting with '-' refused" ct_fails carol 'name' group create -- -lab
check "subnet with host bits refused (subnet)" ct_fails carol 'subnet' group create lab --subnet 10.253.7.1/24
check "subnet overlapping the configured overlay refused" ct_fails carol 'overlaps' group create lab --subnet 10.254.0.0/16
check "unknown group refused (invite)" ct_fails carol 'no group' group invite nosuch david@xmpp.test
check "unknown group refused (leave)" ct_fails carol 'no group' group leave nosuch
check "bad JID refused (block)" ct_fails carol 'jid' block 'not a jid'
check "join with neither name nor room refused" ct_fails carol 'name or room' call group_join '{}'
# The controller checks on its own (ipopctl's checks bypassed with `call`).
check "controller: bad name refused" ct_fails carol 'name: "Bad Name"' call group_create '{"name":"Bad Name"}'
check "controller: host bits refused" ct_fails carol 'subnet' call group_create '{"name":"lab","subnet":"10.253.7.1/24"}'
check "controller: /8 refused" ct_fails carol 'subnet' call group_create '{"name":"lab","subnet":"10.0.0.0/8"}'
check "controller: unknown key refused" ct_fails carol 'bogus' call group_create '{"name":"lab","bogus":1}'
check "controller: bad room refused" ct_fails carol 'room' call group_join '{"room":"lab"}'
check "controller: bad JID refused" ct_fails carol 'jid' call block '{"jid":"carol"}'
check "controller: bad member JID refused" ct_fails carol 'jid|no group' call group_remove '{"name":"lab","jid":"x/y"}'

echo "# 2. carol creates lab, invites david and erin"
t0=$(date +%s%N)
check "carol creates lab" ct_ctl carol group create lab --subnet 10.253.7.0/24
check "lab joined on carol" wait_until 20 joined carol lab
check "carol owns lab" test "$(grp carol lab role)" = owner
check "lab's subnet is 10.253.7.0/24" test "$(grp carol lab subnet)" = 10.253.7.0/24
check "lab's TAP is ipopg0" test "$(grp carol lab tap_name)" = ipopg0
# (joined = in the room; tincan creates the TAP at the next heartbeat)
check "carol's TAP ipopg0 exists" wait_until 10 netns_exec carol ip link show ipopg0
check "groups.json is 0600" test "$(stat -c %a "$(ct_dir carol)/state/groups.json")" = 600
check "carol invites david" ct_ctl carol group invite lab david@xmpp.test
check "carol invites erin" ct_ctl carol group invite lab erin@xmpp.test
check "david (friends) joins by himself" wait_until 30 joined david lab
check "david is a member, not the owner" test "$(grp david lab role)" = member
has_invite() { [ "$(ct_ctl erin -j group list | jq '[.invitations[] | select(.from=="carol@xmpp.test")] | length')" = 1 ]; }
check "erin (AcceptInvites none) lists the invitation" wait_until 30 has_invite
check "erin has not joined" test -z "$(grp erin lab state)"
check "erin joins by hand" ct_ctl erin group join lab
check "lab joined on erin" wait_until 20 joined erin lab
check "not the owner: david cannot invite" ct_fails david 'own' group invite lab carol@xmpp.test
check "not the owner: david cannot remove" ct_fails david 'own' group remove lab erin@xmpp.test
check "creating lab twice refused" ct_fails carol 'already' group create lab

echo "# 3. pings over the group overlay"
ct_group_ping_matrix lab 60 carol david erin
t1=$(date +%s%N)
echo "# create + 2 invites -> all 6 pings: $(( (t1 - t0) / 1000000 )) ms"
for h in carol david erin; do
  check "$h has 2 links up on lab" wait_until 20 links_are "$h" lab 2
  check "$h: 2 links up on the configured overlay too" wait_until 20 main_links_are "$h" 2
done
check "carol lists 2 members with node ids" members_online carol lab 2
ct_ctl carol group list | sed 's/^/# carol: /'

echo "# 4. david's controller restarts and rejoins from groups.json"
kill -TERM "${CT_PID[david]}"
check "david's controller exits" wait_until 10 ct__gone "${CT_PID[david]}"
t0=$(date +%s%N)
ct_controller_start david
check "david online again" ct_wait_online david 30
check "david rejoined lab" wait_until 30 joined david lab
check "david pings carol on lab again" wait_ping david "${addr[carol]}" 60
check "david pings erin on lab again" wait_ping david "${addr[erin]}" 60
t1=$(date +%s%N)
echo "# restart -> pings on lab again: $(( (t1 - t0) / 1000000 )) ms"

echo "# 5. the XMPP server restarts: lab's links carry on, the rooms are rejoined"
ct_xmpp_stop
offline() { [ "$(ct_status "$1" xmpp)" != online ]; }
check "carol notices XMPP is gone" wait_until 60 offline carol
check "carol still pings david on lab while XMPP is down" wait_ping carol "${addr[david]}" 10
check "erin still pings carol on lab while XMPP is down" wait_ping erin "${addr[carol]}" 10
ct_xmpp_restart
for h in carol david erin; do check "$h back online" ct_wait_online "$h" 120; done
check "carol sees both members in lab again" wait_until 60 members_online carol lab 2
for h in carol david erin; do check "$h: 2 links up on lab after the restart" wait_until 60 links_are "$h" lab 2; done
check "david pings erin on lab after the restart" wait_ping david "${addr[erin]}" 30

echo "# 6. erin leaves"
ov_erin=$(grp erin lab overlay_id)
check "erin leaves lab" ct_ctl erin group leave lab
check "erin's TAP ipopg0 is gone" wait_until 10 sh -c "! ip netns exec $(netns_ns erin) ip link show ipopg0 2>/dev/null"
check "erin no longer lists lab" test -z "$(grp erin lab state)"
check "carol's links to erin go" wait_until 30 links_are carol lab 1
check "david's links to erin go" wait_until 30 links_are david lab 1
check "carol still pings david" wait_ping carol "${addr[david]}" 20
check "erin's groups.json forgot lab" sh -c "! grep -q lab@ $(ct_dir erin)/state/groups.json"
echo "# erin's overlay was $ov_erin"

ct_finish
