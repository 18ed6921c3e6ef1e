#!/usr/bin/env bash
# GroupVPN forwarding (issue 15), bounded: eight members with LinkBudget 2
# form a ring (node ids are set, so the ring's order is n1..n8), so six of
# each member's seven peers are reachable only through others.  Eight is
# the smallest ring with a refuser and a hostile member far enough apart
# that each has its own neighbours, and keeps the test near the budget
# test's time (bench/groups64.sh runs the full 64).
#   - routes converge (every member has a next hop for the seven others);
#   - every ordered pair answers the FIRST ping (no retry: ARP for members
#     is answered locally, frames are forwarded at once), over IPv4 and
#     over IPv6 (the overlay's ULA addresses: tincan answers Neighbor
#     Solicitations for members from the table, nd_answered);
#   - malformed solicitations from a host's own TAP (hop limit 64, bad
#     checksum, option of length 0 or past the end, cut short, code 1, a
#     multicast target, the wrong group) are dropped and counted (nd_bad),
#     one for a non-member goes on as before (nd_unknown);
#   - n4 has Forwarding off: nobody routes through it (it forwards
#     nothing, refuses nothing), its neighbours n3 and n5 still talk, the
#     long way round;
#   - n8 runs a forging tincan (tests/tools/tincan_forger.c): hop limit
#     255, another member's node id (n3, not behind n8 as n1 sees it),
#     another member's MAC, and a frame for n2 pushed to n7, whose route to
#     n2 is back through n8 (a loop): each dropped and counted by the
#     member that got it, and the ping behind it goes unanswered; honest
#     again, it answers.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
FORGER=$IPOP_BUILD_DIR/tests/unit/tincan/tincan_forger
[ -x "$FORGER" ] || { echo "skip: $FORGER not built"; exit 77; }
netns_init

netns_segment pub
ct_xmpp_start
nodes=(n1 n2 n3 n4 n5 n6 n7 n8)
ct_xmpp_users "${nodes[@]}"
ct_xmpp_friends lab "${nodes[@]}"
FORGE=$NETNS_TMPDIR/forge
: >"$FORGE"
chmod 644 "$FORGE"
export IPOP_FORGE_FILE=$FORGE
declare -A id
i=1
for h in "${nodes[@]}"; do
  extra='"Group": "lab", "LinkBudget": 2, "PlanInterval": 2, "LinkSetupTimeout": 20'
  overlay='"Subnet": "10.254.0.0/24"'
  [ "$h" = n4 ] && overlay="$overlay, \"Forwarding\": \"off\""
  if [ "$h" = n8 ]; then
    TINCAN=$FORGER ct_node "$h" "198.18.0.$((50 + i))" group "$extra" "$overlay"
  else
    ct_node "$h" "198.18.0.$((50 + i))" group "$extra" "$overlay"
  fi
  id[$h]=$(printf '%x%030x%x' "$i" 0 "$i")
  printf '%s\n' "${id[$h]}" >"$(ct_dir "$h")/state/node_id"
  chown "$CT_USER" "$(ct_dir "$h")/state/node_id"
  i=$((i + 1))
done
for h in "${nodes[@]}"; do ct_controller_start "$h"; done
for h in "${nodes[@]}"; do check "$h online" ct_wait_online "$h" 40; done
declare -A addr
for h in "${nodes[@]}"; do addr[$h]=$(ct_status "$h" ip4); done
ring() { local h; for h in "${nodes[@]}"; do [ "$(ct_links_up "$h")" = 2 ] || return 1; done; }
check "every member has exactly 2 links (the ring)" wait_until 90 ring
info() { tc_call "$1" query_overlay_info '{"overlay_id":"lab"}'; }
counter() { info "$1" | jq ".$2 // 0"; }
converged() {
  local h
  for h in "${nodes[@]}"; do [ "$(counter "$h" routes_reachable)" = 7 ] || return 1; done
}
check "routes converged: 7 reachable members everywhere" wait_until 30 converged
[ "$TC_FAILS" -eq 0 ] || { ct_finish || true; exit 1; }

# first_pings FAMILY ADDR_ARRAY: every ordered pair's first ping (-4 or -6)
# to the other's address, one after the other.
first_pings() {
  local fam=$1 a b answered=0 t0 ms
  local -n to=$2
  t0=$(date +%s%N)
  for a in "${nodes[@]}"; do
    for b in "${nodes[@]}"; do
      [ "$a" = "$b" ] && continue
      if netns_exec "$a" ping "$fam" -c1 -W2 -q "${to[$b]}" >/dev/null; then
        answered=$((answered + 1))
      else
        echo "# $a -> $b (${to[$b]}): no answer to the first ping $fam"
      fi
    done
  done
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  check "every ordered pair answered the first ping $fam ($answered of 56, $ms ms in all)" \
    test "$answered" = 56
}
first_pings -4 addr

# IPv6 between members without a link: ND answered by each tincan.
declare -A addr6
for h in "${nodes[@]}"; do addr6[$h]=$(ct_status "$h" ip6); done
nd0=$(counter n1 nd_answered)
first_pings -6 addr6
nd1=$(counter n1 nd_answered)
check "n1's tincan answered the solicitations for its 7 peers itself (nd_answered $nd0 -> $nd1)" \
  test "$nd1" -ge $((nd0 + 7))
# Hostile solicitations from n1's host, for n5's address: none answered.
bad0=$(counter n1 nd_bad) unk0=$(counter n1 nd_unknown)
netns_exec n1 python3 "$IPOP_SRC_DIR/tests/lib/ndframes.py" ipop0 "$(info n1 | jq -r .mac)" \
  "${addr6[n1]}" "${addr6[n5]}" hop64 badcsum optzero optpast short code1 mcasttarget \
  wronggroup >/dev/null
netns_exec n1 python3 "$IPOP_SRC_DIR/tests/lib/ndframes.py" ipop0 "$(info n1 | jq -r .mac)" \
  "${addr6[n1]}" "${addr6[n1]%:*}:abcd" ok >/dev/null
nd_bad_8() { [ "$(counter n1 nd_bad)" -ge $((bad0 + 8)) ]; }
check "8 malformed solicitations dropped and counted (nd_bad $bad0 -> $(wait_until 5 nd_bad_8; counter n1 nd_bad))" nd_bad_8
check "none of them answered (nd_answered stays $nd1)" test "$(counter n1 nd_answered)" = "$nd1"
check "one for a non-member's address counted (nd_unknown $unk0 -> $(counter n1 nd_unknown))" \
  test "$(counter n1 nd_unknown)" -gt "$unk0"
check "still 2 links each (no on-demand link for pings)" ring
check "n4 (Forwarding off) carried nothing" test "$(counter n4 forwarded)" = 0
check "n4 was never asked to (nothing refused)" test "$(counter n4 fwd_refused)" = 0
check "n3 reaches n5 around n4" netns_exec n3 ping -c1 -W2 -q "${addr[n5]}"
hops=$(info n5 | jq '[.routed_in, .routed_in_hops] | "\(.[0]) frames, \(.[1]) hops"')
echo "# n5 received $hops"

# The hostile member n8: forged headers on its pings to n2 (via n1).
forged() { # MODE, checking host, counter, description
  local mode=$1 at=$2 ctr=$3 what=$4 before after
  before=$(counter "$at" "$ctr")
  echo "$mode" >"$FORGE"
  check "$what: the ping goes unanswered" bash -c "! ip netns exec $(netns_ns n8) ping -c2 -W1 -q ${addr[n2]} >/dev/null"
  : >"$FORGE"
  after=$(counter "$at" "$ctr")
  check "$what: dropped and counted at $at ($ctr $before -> $after)" test "$after" -gt "$before"
}
spoofed() { tc_call n1 query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"${id[n8]}\"}" | jq '.links[0].spoofed'; }
sp0=$(spoofed)
forged "hops 255" n1 fwd_bad_header "hop limit 255"
forged "src ${id[n3]}" n1 fwd_reverse_path "n3's node id and MAC from n8"
check "n1 counts those on its link to n8 as spoofed ($sp0 -> $(spoofed))" test "$(spoofed)" -gt "$sp0"
forged "mac ${id[n3]}" n1 fwd_origin "n8's id with n3's MAC"
forged "to ${id[n7]}" n7 fwd_loop "a frame for n2 pushed to n7 (its route to n2 is n8)"
check "n8 honest again: n2 answers" netns_exec n8 ping -c1 -W2 -q "${addr[n2]}"
ct_finish
