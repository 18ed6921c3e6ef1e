# shellcheck shell=bash
# Who is who, end to end (issue #11), sourced by
# test_controller_identity_ejabberd.sh and test_controller_identity_prosody.sh
# (CT_XMPP_KIND picks the server).  alice, bob and mallory are mutual
# contacts in roster group "lab"; alice and bob run controllers and
# tincans, mallory runs a real ipop-tincan of its own and an XMPP client
# (slixmpp, controller_impostor.py) that sends link requests carrying its
# tincan's real ICE parameters and fingerprint, so that an impersonation
# would really complete ICE and DTLS if the code allowed it.
#
#   1. SocialVPN and a group over a room (alice's group g1 with bob and
#      mallory): mallory, posing as bob's node,
#        (a) announces bob's node id in its own presence (and room presence),
#        (b) sends link_request from=bob from a resource without a node id,
#        (c) the same from a resource announcing its own node id,
#        (d) publishes bob's node id and fingerprint in its own PEP node;
#      each time alice<->bob keeps passing pings, alice's tincan starts no
#      link under bob's id and keeps the one it has, mallory's tincan gets
#      no link up and mallory cannot reach alice at bob's address, and
#      alice's log names mallory and her counters count it.
#   2. bob's node comes back with a new identity file: alice refuses it
#      (Trust tofu), `ipopctl known` shows it changed, `ipopctl trust` lets
#      the link form.
#   3. a server that lies: a second client logs in as bob with bob's node id
#      and the fingerprint of its own tincan: refused.
#   4. roster GroupVPN with Trust pinned (both controllers restarted): the
#      four attacks again on the roster group's overlay, and the lying server
#      again.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
/usr/bin/python3 -c 'import slixmpp' 2>/dev/null || { echo "skip: python3-slixmpp missing"; exit 77; }
netns_init
T_START=$(date +%s%N)

netns_segment pub
ct_xmpp_start
ct_xmpp_users alice bob mallory
ct_xmpp_friends lab alice bob mallory
ct_xmpp_ready

ct_node alice 198.18.0.21 social '"Groups": {}'
ct_node bob 198.18.0.22 social '"Groups": {}'
ct_node m 198.18.0.66 social ''      # mallory's (and the liar's) own tincan
for h in alice bob; do ct_controller_start "$h"; done
for h in alice bob; do check "$h online" ct_wait_online "$h" 30; done

alice_id=$(ct_status alice node_id)
bob_id=$(ct_status bob node_id)
alice_jid=$(ct_status alice jid)
# The address under which a peer appears on host H (SocialVPN: mapped).
peer_addr() { ct_ctl "$1" -j peers | jq -r --arg n "$2" '.peers[] | select(.node_id==$n) | (.mapped_ip4 // .ip4 // empty)'; }
has_peer_addr() { [ -n "$(peer_addr "$1" "$2")" ]; }
check "alice maps bob" wait_until 30 has_peer_addr alice "$bob_id"
bob_at_alice=$(peer_addr alice "$bob_id")
check "alice pings bob (SocialVPN)" wait_ping alice "$bob_at_alice" 30

echo "# alice creates group g1 and invites bob and mallory"
check "alice creates g1" ct_ctl alice group create g1
check "g1 joined on alice" wait_until 20 ct_grp_joined alice g1
check "alice invites bob" ct_ctl alice group invite g1 "bob@$CT_DOMAIN"
check "alice invites mallory" ct_ctl alice group invite g1 "mallory@$CT_DOMAIN"
check "bob joins g1" wait_until 30 ct_grp_joined bob g1
g1_ov=$(ct_grp alice g1 overlay_id)
g1_room=$(ct_grp alice g1 room)
ct_group_ping_matrix g1 60 alice bob   # fills addr[alice], addr[bob] on g1

# ---- what must hold after every attack ------------------------------------

# link_field HOST OVERLAY PEER FIELD: from HOST's tincan itself.
link_field() {
  tc_call "$1" query_link_stats "{\"overlay_id\":\"$2\",\"peer_id\":\"$3\"}" | jq -r ".links[0].$4"
}
gatherings() { grep -c "link $1/$bob_id: gathering" "$(tc_log alice)" || true; }
counter() { ct_ctl alice -j stats | jq ".$1"; }
counter_above() { [ "$(counter "$1")" -gt "$2" ]; }
declare -A up_ms gath

# snapshot OVERLAY...: alice's links to bob as they are now.
snapshot() {
  local ov
  for ov in "$@"; do
    up_ms[$ov]=$(link_field alice "$ov" "$bob_id" up_ms)
    gath[$ov]=$(gatherings "$ov")
  done
}

# intact WHAT ADDR_ON_OVERLAY... (pairs OVERLAY ADDR): alice<->bob unharmed.
intact() {
  local what=$1 ov a now
  shift
  while [ $# -ge 2 ]; do
    ov=$1 a=$2
    shift 2
    check "$what: alice still pings bob on $ov ($a)" wait_ping alice "$a" 10
    check "$what: alice's link to bob on $ov is up" test "$(link_field alice "$ov" "$bob_id" state)" = up
    now=$(link_field alice "$ov" "$bob_id" up_ms)
    check "$what: ... the same link, never re-created (up ${up_ms[$ov]} -> $now ms)" \
      test "$now" -ge "${up_ms[$ov]}"
    check "$what: alice's tincan started no other link under bob's id on $ov" \
      test "$(gatherings "$ov")" = "${gath[$ov]}"
  done
}

IMPOSTOR=$IPOP_SRC_DIR/tests/integration/controller_impostor.py
# impostor NAME JID PASSWORD RESOURCE ARGS...: one run; its output in NAME.log.
impostor() {
  local name=$1 jid=$2 pw=$3 res=$4
  shift 4
  netns_exec m /usr/bin/python3 "$IMPOSTOR" --jid "$jid" --pw "$pw" --res "$res" \
    --host "$CT_XMPP_ADDR" --port "$CT_XMPP_PORT" --ca "$CT_XS_DIR/pki/ca.pem" \
    --victim "$alice_jid" --victim-node "$alice_id" --as-node "$bob_id" \
    --key "$(ct_dir m)/control.key" --ipopctl "$IPOPCTL" "$@" \
    >"$NETNS_TMPDIR/$name.log" 2>&1 || true
  sed 's/^/# '"$name"': /' "$NETNS_TMPDIR/$name.log" | grep -v "slower stringprep" || true
  check "$name: the impostor ran to the end" grep -q '^result: ' "$NETNS_TMPDIR/$name.log"
  check "$name: nothing accepted, no link up on the impostor's tincan" \
    grep -q 'accepted=0 impostor_links_up=0' "$NETNS_TMPDIR/$name.log"
}

# unreachable A: mallory, on its TAP with bob's address, cannot reach A.
unreachable() { ! netns_exec m ping -c 1 -W 1 "$1" >/dev/null 2>&1; }

# attacks LABEL OVERLAY BOB_OWN_ADDR ALICE_AT_BOB [OVERLAY2 ...]: (a) to (d)
# on the overlays given (pairs: overlay, the address bob uses on it), each
# followed by the checks above.
attacks() {
  local label=$1 ov1=$2 ip1=$3 target=$4
  shift 4
  local ovargs=(--overlay "$ov1" --tap-ip "$ip1") pairs=("$ov1" "$bob_at_alice_ov")
  local room=() extra_pairs=()
  if [ $# -ge 2 ]; then
    ovargs+=(--overlay "$1" --tap-ip "$2")
    room=(--room "$g1_room" --nick "mallory-x")
    extra_pairs=("$1" "${addr[bob]}")
  fi
  local c0 u0 b0
  c0=$(counter identity_conflicts) u0=$(counter signals_unbound) b0=$(counter neg_bad)

  snapshot "$ov1" "${extra_pairs[@]:0:1}"
  impostor "$label-a" "mallory@$CT_DOMAIN" pw-mallory a --announce "$bob_id" "${room[@]}" \
    "${ovargs[@]}"
  check "$label (a): alice refused mallory's claim of bob's node id, naming both" \
    wait_file "$(ct_log alice)" "conflict: mallory@$CT_DOMAIN/a announces node id ${bob_id:0:8}, which is bob@$CT_DOMAIN" 10
  check "$label (a): counted as a conflict" wait_until 10 counter_above identity_conflicts "$c0"
  check "$label (a): its request refused, naming mallory" \
    wait_file "$(ct_log alice)" "link_request from mallory@$CT_DOMAIN/a refused: it announced no node id of its own" 10
  intact "$label (a)" "${pairs[@]}" "${extra_pairs[@]}"
  check "$label (a): mallory cannot reach alice at bob's address" unreachable "$target"

  snapshot "$ov1" "${extra_pairs[@]:0:1}"
  impostor "$label-b" "mallory@$CT_DOMAIN" pw-mallory b --no-node "${ovargs[@]}"
  check "$label (b): a resource without a node id gets nothing, named in the log" \
    wait_file "$(ct_log alice)" "link_request from mallory@$CT_DOMAIN/b refused: it announced no node id of its own" 10
  check "$label (b): counted" wait_until 10 counter_above signals_unbound "$u0"
  intact "$label (b)" "${pairs[@]}" "${extra_pairs[@]}"

  snapshot "$ov1" "${extra_pairs[@]:0:1}"
  impostor "$label-c" "mallory@$CT_DOMAIN" pw-mallory c --announce "$mallory_id" "${room[@]}" \
    "${ovargs[@]}"
  check "$label (c): from=bob from mallory's own node refused, naming mallory and the field" \
    wait_file "$(ct_log alice)" "link_request from mallory@$CT_DOMAIN/c refused: from: $bob_id is not the node id the sender announced" 10
  check "$label (c): counted" wait_until 10 counter_above neg_bad "$b0"
  intact "$label (c)" "${pairs[@]}" "${extra_pairs[@]}"
  check "$label (c): mallory cannot reach alice at bob's address" unreachable "$target"

  snapshot "$ov1" "${extra_pairs[@]:0:1}"
  c0=$(counter identity_conflicts)
  impostor "$label-d" "mallory@$CT_DOMAIN" pw-mallory d --publish "$bob_id,$bob_fpr" \
    --announce "$bob_id" "${ovargs[@]}"
  check "$label (d): mallory's PEP item with bob's node id refused, naming both" \
    wait_file "$(ct_log alice)" "conflict: mallory@$CT_DOMAIN publishes node id ${bob_id:0:8}, which is bob@$CT_DOMAIN's: refused" 10
  check "$label (d): counted" wait_until 10 counter_above identity_conflicts "$c0"
  intact "$label (d)" "${pairs[@]}" "${extra_pairs[@]}"
}

mallory_id=e0000000000000000000000000000066
bob_fpr=$(ct_status bob fingerprint)
bob_own=$(ct_status bob ip4)
alice_at_bob=$(peer_addr bob "$alice_id")
bob_at_alice_ov=$bob_at_alice
echo "# 1. SocialVPN (overlay lab) and group g1 ($g1_ov): bob=${bob_id:0:8} alice=${alice_id:0:8}"
attacks social lab "$bob_own" "$alice_at_bob" "$g1_ov" "${addr[bob]}"
ct_ctl alice stats | grep -E 'identity|unbound|fingerprints|neg_bad' | sed 's/^/# alice counters: /'

echo "# phase 1 done at $(( ($(date +%s%N) - T_START) / 1000000 )) ms"
echo "# 2. bob's node comes back with a new identity file"
known_state() {
  ct_ctl alice -j known | jq -r --arg n "$bob_id" '.nodes[] | select(.node_id==$n) |
    if .pending then (if .fingerprint then "changed" else "pending" end) else "pinned" end'
}
check "bob's fingerprint is pinned on alice" test "$(known_state)" = pinned
netns_kill "${TC_PID[bob]}"
rm -f "$(ct_dir bob)/identity.pem"
ct_tincan_start bob
new_fpr() { f=$(ct_status bob fingerprint); [ -n "$f" ] && [ "$f" != "$bob_fpr" ]; }
check "bob's tincan has a new fingerprint" wait_until 30 new_fpr
bob_fpr2=$(ct_status bob fingerprint)
known_changed() { [ "$(known_state)" = changed ]; }
check "alice refuses it (Trust tofu): known shows it changed" wait_until 60 known_changed
check "alice's log says how to accept it" \
  grep -q "presents fingerprint $bob_fpr2, not the one pinned in known_nodes ($bob_fpr): refused; if its identity changed, \`ipopctl trust bob@$CT_DOMAIN $bob_id\`" "$(ct_log alice)"
ct_ctl alice known | sed 's/^/# alice known: /'
link_not_up() { [ "$(link_field alice lab "$bob_id" state)" != up ]; }
check "alice's tincan has no link to bob while the fingerprint is refused" wait_until 15 link_not_up
t0=$(date +%s%N)
check "ipopctl trust accepts it" ct_ctl alice trust "bob@$CT_DOMAIN" "$bob_id"
check "the link forms" wait_ping alice "$bob_at_alice" 60
t1=$(date +%s%N)
echo "# trust -> alice pings bob: $(( (t1 - t0) / 1000000 )) ms"
check "known: pinned to the new fingerprint" test "$(known_state)" = pinned
check "known_nodes is 0600" test "$(stat -c %a "$(ct_dir alice)/state/known_nodes")" = 600
check "known_nodes holds bob's new fingerprint" grep -q "$bob_id $bob_fpr2" "$(ct_dir alice)/state/known_nodes"
bob_fpr=$bob_fpr2
check "alice pings bob on g1 again" wait_ping alice "${addr[bob]}" 60

# liar LABEL: bob's account from another resource, bob's node id, the
# fingerprint of its own tincan (in its PEP item and in its request).
liar() {
  local label=$1 r0
  r0=$(counter fingerprints_refused)
  snapshot lab
  impostor "$label" "bob@$CT_DOMAIN" pw-bob liar --announce "$bob_id" --publish "$bob_id,self" \
    --overlay lab --tap-ip "$bob_own"
  check "$label: alice refused the liar's fingerprint, naming bob's JID" \
    wait_file "$(ct_log alice)" "bob@$CT_DOMAIN/liar \\(node ${bob_id:0:8}\\): .*fingerprint .*refused" 10
  check "$label: counted" wait_until 10 counter_above fingerprints_refused "$r0"
  intact "$label" lab "$bob_at_alice_ov"
}

echo "# phase 2 done at $(( ($(date +%s%N) - T_START) / 1000000 )) ms"
echo "# 3. a lying server (Trust tofu)"
liar liar-tofu
check "bob's controller put its own PEP item back" \
  wait_file "$(ct_log bob)" "our PEP item .* was replaced with fingerprint .*publishing ours again" 10

echo "# phase 3 done at $(( ($(date +%s%N) - T_START) / 1000000 )) ms"
echo "# 4. roster GroupVPN, Trust pinned"
for h in alice bob; do
  netns_kill "${CT_PID[$h]}"
  unset "CT_PID[$h]"
  mv "$(ct_log "$h")" "$(ct_dir "$h")/controller-social.log"
done
ct_config alice group '"Group": "lab", "Trust": "pinned", "Groups": {}' '"Subnet": "10.254.0.0/24"'
ct_config bob group '"Group": "lab", "Groups": {}' '"Subnet": "10.254.0.0/24"'
for h in alice bob; do ct_controller_start "$h"; done
for h in alice bob; do check "$h online (group mode)" ct_wait_online "$h" 30; done
alice_jid=$(ct_status alice jid)   # a new resource
bob_grp=$(ct_status bob ip4)
check "alice pings bob on the roster group's overlay" wait_ping alice "$bob_grp" 60
grep -q "trust pinned: [1-9][0-9]* node" "$(ct_log alice)" && echo "# alice: $(grep -o 'trust pinned: .*' "$(ct_log alice)")"
bob_at_alice_ov=$bob_grp
attacks group lab "$bob_grp" "$(ct_status alice ip4)"
liar liar-pinned
ct_ctl alice stats | grep -E 'identity|unbound|fingerprints|neg_bad' | sed 's/^/# alice counters: /'
ct_ctl alice known | sed 's/^/# alice known: /'
T_END=$(date +%s%N)
echo "# identity scenario on $CT_XMPP_KIND: $(( (T_END - T_START) / 1000000 )) ms"
ct_finish
