#!/usr/bin/env bash
# Federation (issue #17): friends and groups across two XMPP servers.
# ejabberd serves one.test, Prosody two.test; they talk server-to-server
# over TLS with certificates from the test CA, authenticated by SASL
# EXTERNAL (no dialback).  Every node knows only its JID and finds its
# server through DNS (dnsmasq: A and SRV records).
#   alice@one.test  and bob@two.test are friends (roster items on both servers)
#   dave@two.test   is nobody's friend
#   1. SocialVPN: alice <-> bob ping over the overlay; dave gets no link
#   2. alice creates lab@conference.one.test (ejabberd MUC) and invites bob
#      (a friend: he accepts the direct invitation sent over s2s) and dave
#      (joins by the room's JID from two.test): all three ping on lab
#   3. dave creates ops@conference.two.test (Prosody MUC) and invites
#      alice, who joins from one.test: alice <-> dave ping on ops
#   4. a stranger on two.test (mallory, an XMPP client) announces bob's
#      node id to alice in a directed presence and sends her a link request
#      in its name: dropped and counted, no peer mallory, bob's node id
#      still bound to bob's JID
#   5. bob blocks the whole domain one.test (XEP-0191 domain item on
#      Prosody): his social and lab links to alice go, bob <-> dave stays;
#      unblocked, they come back.  Block items that are neither a JID nor
#      a domain are refused.
#   Identity across servers (issue #11): alice pins bob's fingerprint as
#   his account published it on his PEP node at two.test (read over s2s,
#   `presence` access model: they are friends), and bob pins alice's from
#   one.test; dave, who is no contact of alice's, cannot read her PEP node.
set -euo pipefail
. "$(dirname "$0")/federation_helpers.sh"
fb_skip_unless_ready
netns_init

t_start=$(date +%s%N)
fb_init
fb_server ej ejabberd one.test 198.18.0.2
fb_server pr prosody two.test 198.18.0.4
fb_dns_xmpp one.test "10 xmpp 198.18.0.2"
fb_dns_xmpp two.test "10 xmpp 198.18.0.4"
fb_dns_start
fb_start ej
fb_users ej alice
fb_users pr bob dave mallory
fb_friends "alice@one.test bob@two.test"
fb_start pr
echo "# servers and DNS ready: $(( ($(date +%s%N) - t_start) / 1000000 )) ms"

fb_node alice 198.18.0.11 alice@one.test social ''
fb_node bob 198.18.0.12 bob@two.test social ''
fb_node dave 198.18.0.13 dave@two.test social ''
nodes=(alice bob dave)
for h in "${nodes[@]}"; do ct_controller_start "$h"; done
for h in "${nodes[@]}"; do check "$h online (JID only: SRV)" ct_wait_online "$h" 30; done
check "alice found one.test by SRV" grep -q "connecting to SRV of one.test" "$(ct_log alice)"
check "bob found two.test by SRV" grep -q "connecting to SRV of two.test" "$(ct_log bob)"

echo "# 1. SocialVPN across servers"
t0=$(date +%s%N)
mapped() { ct_mapped "$1" "$2@"; }
has_mapped() { ct_has_mapped "$1" "$2@"; }
check "alice has an address for bob@two.test" wait_until 30 has_mapped alice bob
check "bob has an address for alice@one.test" wait_until 30 has_mapped bob alice
ab=$(mapped alice bob) ba=$(mapped bob alice)
check "alice pings bob at $ab" wait_ping alice "$ab" 30
check "bob pings alice at $ba" wait_ping bob "$ba" 30
echo "# friends on two servers: online -> overlay ping: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "alice's hosts file names bob@two.test" \
  grep -Eq "^${ab}[[:space:]]+bob@two.test\$" "$(ct_dir alice)/state/hosts"
social_up() { [ "$(ct_links_up "$1")" = "$2" ]; }
check "dave has no social link" social_up dave 0
pinned_published() { # $1 reads $2's item published on the other server
  grep -q "$2.*pinned on first use (as its account published it)" "$(ct_log "$1")"
}
check "alice pins bob's fingerprint from his PEP node on two.test" \
  wait_until 10 pinned_published alice bob@two.test
check "bob pins alice's fingerprint from her PEP node on one.test" \
  wait_until 10 pinned_published bob alice@one.test
ct_ctl alice peers | sed 's/^/# alice: /'

echo "# 2. a room on one.test (ejabberd) with members from two.test"
t0=$(date +%s%N)
check "alice creates lab" ct_ctl alice group create lab
check "lab joined on alice" wait_until 20 ct_grp_joined alice lab
check "room is on alice's server" test "$(ct_grp alice lab room)" = lab@conference.one.test
check "alice invites bob@two.test" ct_ctl alice group invite lab bob@two.test
check "alice invites dave@two.test" ct_ctl alice group invite lab dave@two.test
check "bob accepts (a friend's invitation, over s2s)" wait_until 30 ct_grp_joined bob lab
check "dave joins by the room's JID" ct_ctl dave group join lab --room lab@conference.one.test
check "dave joined" wait_until 30 ct_grp_joined dave lab
check "dave reads lab's subnet from the remote room" \
  test "$(ct_grp dave lab subnet)" = "$(ct_grp alice lab subnet)"
ct_group_ping_matrix lab 60 alice bob dave
echo "# lab: create + 2 remote members -> 6 pings: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
declare -A lab
for h in "${nodes[@]}"; do lab[$h]=${addr[$h]}; done

echo "# 3. a room on two.test (Prosody) with a member from one.test"
t0=$(date +%s%N)
check "dave creates ops" ct_ctl dave group create ops
check "ops joined on dave" wait_until 20 ct_grp_joined dave ops
check "ops is on dave's server" test "$(ct_grp dave ops room)" = ops@conference.two.test
check "dave invites alice@one.test" ct_ctl dave group invite ops alice@one.test
check "alice joins ops by the room's JID" ct_ctl alice group join ops --room ops@conference.two.test
check "alice joined ops" wait_until 30 ct_grp_joined alice ops
ct_group_ping_matrix ops 60 alice dave
echo "# ops: create + 1 remote member -> 2 pings: $(( ($(date +%s%N) - t0) / 1000000 )) ms"

echo "# 4. a stranger from two.test claims bob's node and asks alice for a link"
alice_full=$(ct_status alice jid)
bob_node=$(ct_status bob node_id)
XS_DIR=$NETNS_TMPDIR/probes XS_PROBE_NS=bob
mkdir -p "$XS_DIR"
xs_password_file "$XS_DIR/mallory.pw" pw-mallory
cat >"$XS_DIR/mallory.json" <<EOF
{ "Jid": "mallory@two.test", "PasswordFile": "$XS_DIR/mallory.pw",
  "Tls": { "CaFile": "$CT_CA_FILE" } }
EOF
dropped() { ct_ctl alice -j stats | jq -r .signals_dropped; }
d0=$(dropped)
xs_probe_start mallory "$XS_DIR/mallory.json" node-mallory
check "mallory online on two.test" xs_probe_wait 20 mallory '"state":"online"'
# A directed presence announcing bob's node id, then a signal in its name
# (the server stamps mallory's JID on both; they arrive in this order).
xs_probe_cmd mallory "{\"cmd\":\"raw\",\"xml\":\"<presence to='$alice_full'><node xmlns='urn:ipop:node:1' id='$bob_node'/></presence>\"}"
xs_probe_cmd mallory "{\"cmd\":\"send\",\"to\":\"$alice_full\",\"type\":\"link_request\",\"id\":\"evil\",\"payload\":\"{\\\"from\\\":\\\"$bob_node\\\",\\\"overlay_id\\\":\\\"lab\\\"}\"}"
check "mallory's signal crossed the federation" xs_probe_wait 5 mallory '"event":"sent"' '"result":0'
more_dropped() { [ "$(dropped)" -gt "$d0" ]; }
check "alice drops and counts it" wait_until 10 more_dropped
no_mallory() { ct_ctl alice -j peers | jq -e '[.peers[] | select(.jid | startswith("mallory@"))] == []'; }
bobs_node_is_bobs() {
  ct_ctl alice -j peers | jq -e --arg n "$bob_node" \
    '[.peers[] | select(.node_id == $n) | .jid | startswith("bob@two.test/")] == [true]'
}
check "alice has no peer mallory" no_mallory
check "bob's node id is still bob's at alice" bobs_node_is_bobs
check "mallory probe exits" xs_probe_stop mallory

echo "# 5. bob blocks the domain one.test"
lab_link() { # HOST PEER_JID: is HOST's lab link to that member up?
  local ov id
  ov=$(ct_grp "$1" lab overlay_id)
  id=$(ct_ctl "$1" -j group list | jq -r --arg j "$2" \
    '.groups[] | select(.name=="lab") | .members[] | select(.jid==$j) | .node_id')
  [ -n "$ov" ] && [ -n "$id" ] || return 1
  [ "$(tc_call "$1" query_link_stats "{\"overlay_id\":\"$ov\",\"peer_id\":\"$id\"}" |
       jq -r '.links[0].state')" = up ]
}
no_lab_link() { ! lab_link "$@"; }
check "block refuses a full JID" sh -c "! $(printf '%q ' ip netns exec "$(netns_ns bob)" \
  "$IPOPCTL" -k "$(ct_dir bob)/control.key" -s 127.0.0.1:5801 block 'one.test/x')"
check "block refuses a word without a dot" sh -c "! $(printf '%q ' ip netns exec "$(netns_ns bob)" \
  "$IPOPCTL" -k "$(ct_dir bob)/control.key" -s 127.0.0.1:5801 block 'alice')"
check "block refuses markup in a domain" sh -c "! $(printf '%q ' ip netns exec "$(netns_ns bob)" \
  "$IPOPCTL" -k "$(ct_dir bob)/control.key" -s 127.0.0.1:5801 block 'one<x>.test')"
t0=$(date +%s%N)
check "bob blocks one.test" ct_ctl bob block one.test
check "bob's blocklist has the domain" sh -c "$(printf '%q ' ip netns exec "$(netns_ns bob)" \
  "$IPOPCTL" -k "$(ct_dir bob)/control.key" -s 127.0.0.1:5801 blocklist) | grep -qx one.test"
check "bob's social link to alice goes" wait_until 30 social_up bob 0
check "alice's social link to bob goes" wait_until 30 social_up alice 0
check "bob's lab link to alice goes" wait_until 30 no_lab_link bob alice@one.test
check "alice's lab link to bob goes" wait_until 30 no_lab_link alice bob@two.test
echo "# domain block -> links gone on both servers: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
check "bob still pings dave on lab" wait_ping bob "${lab[dave]}" 20
check "alice still pings dave on lab" wait_ping alice "${lab[dave]}" 20
check "bob no longer reaches alice on lab" \
  sh -c "! ip netns exec $(netns_ns bob) ping -c2 -W1 -q ${lab[alice]}"
t0=$(date +%s%N)
check "bob unblocks one.test" ct_ctl bob unblock one.test
check "bob's social link to alice comes back" wait_until 60 social_up bob 1
check "bob's lab link to alice comes back" wait_until 60 lab_link bob alice@one.test
check "bob pings alice on lab again" wait_ping bob "${lab[alice]}" 30
echo "# unblock -> links back: $(( ($(date +%s%N) - t0) / 1000000 )) ms"

ct_finish
echo "# whole test: $(( ($(date +%s%N) - t_start) / 1000000 )) ms"
