#!/usr/bin/env bash
# A pair that cannot link directly talks through a common member (issue
# 15): a GroupVPN of three with the default link budget (a full mesh),
# one ejabberd, no TURN server:
#   a   behind a symmetric NAT (MASQUERADE --random-fully, tests/lib/netns.sh)
#   b   behind another symmetric NAT
#   c   on the public segment
# a-c and b-c come up (c answers the NATed checks from their mappings:
# peer-reflexive); a-b cannot (two endpoint-dependent NATs, no relay).  The
# full mesh then routes around its gap (docs/topology.md "Gaps in a full
# mesh"): a and b route to each other through c, and c carries the frames.
#   - a has no link up to b, and a route to it (routes_reachable 2);
#   - a's first ping to b answers, over IPv4 and IPv6 (ARP and ND for b
#     answered by a's tincan);
#   - c's tincan counts what it carried (forwarded), a's what it sent with
#     an overlay header (routed_out), b's what arrived through one hop
#     (routed_in, routed_in_hops).
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users a b c
ct_xmpp_friends lab a b c
netns_segment la
netns_segment lb
netns_router ra symmetric pub 198.18.0.2/24 la 198.19.1.1/24
netns_router rb symmetric pub 198.18.0.3/24 lb 198.19.2.1/24
extra='"Group": "lab", "PlanInterval": 2, "LinkSetupTimeout": 10'
overlay='"Subnet": "10.254.0.0/24"'
ct_node c 198.18.0.13 group "$extra" "$overlay"
# Like a host on the Internet, c has a default route: its checks to a's and
# b's private host candidates vanish on the way instead of failing with
# ENETUNREACH, which can end libnice's checks (test-environment.md).
netns_exec c ip route add default via 198.18.0.254
netns_host a; netns_attach a la 198.19.1.10/24; netns_route_default a 198.19.1.1
ct_config a group "$extra" "$overlay"; ct_tincan_start a
netns_host b; netns_attach b lb 198.19.2.10/24; netns_route_default b 198.19.2.1
ct_config b group "$extra" "$overlay"; ct_tincan_start b
# Node ids are set so that both ICE role orders are covered (the smaller id
# controls): a controls its link to c (the NATed side controls), c controls
# its link to b (the public side controls).  The second order used to fail
# every time with no STUN or TURN (libnice debug log): c had a valid pair to
# the peer's peer-reflexive address at once, but regular nomination waited
# until c's check to the peer's private host candidate timed out (500 ms, 5
# retransmissions: 15.5 s), while the NATed, controlled side failed 5 s
# after its own checks ended with no nomination.  tincan now nominates
# aggressively (docs/tincan.md, ICE).
i=1
for h in a c b; do
  printf '%x%030x%x\n' "$i" 0 "$i" >"$(ct_dir "$h")/state/node_id"
  chown "$CT_USER" "$(ct_dir "$h")/state/node_id"
  i=$((i + 1))
done
for h in a b c; do ct_controller_start "$h"; done
for h in a b c; do check "$h online" ct_wait_online "$h" 40; done

info() { tc_call "$1" query_overlay_info '{"overlay_id":"lab"}'; }
counter() { info "$1" | jq ".$2 // 0"; }
id_of() { info "$1" | jq -r .node_id; }
declare -A id
for h in a b c; do id[$h]=$(id_of "$h"); done
link_state() { # HOST PEER: tincan's state of HOST's link to PEER ("" if none)
  tc_call "$1" query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"${id[$2]}\"}" 2>/dev/null |
    jq -r '.links[0].state // ""'
}
up() { [ "$(link_state "$1" "$2")" = up ]; }
check "a-c link up (a behind a symmetric NAT)" wait_until 40 up a c
check "b-c link up (b behind a symmetric NAT)" wait_until 40 up b c
for h in a b; do
  echo "# $h-c: pair $(tc_call "$h" query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"${id[c]}\"}" |
    jq -r '.links[0] | "\(.pair_type) \(.local_addr) -> \(.remote_addr)"')"
done
role() { # HOST PEER: HOST's ICE role on its link to PEER
  tc_call "$1" query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"${id[$2]}\"}" |
    jq -r '.links[0].role'
}
check "a-c: a (behind the NAT) is the controlling side" test "$(role a c)" = controlling
check "b-c: c (public) is the controlling side" test "$(role c b)" = controlling
routed() { # every member has a route to both others, and c a table to carry them
  [ "$(counter a routes_reachable)" = 2 ] && [ "$(counter b routes_reachable)" = 2 ] &&
    [ "$(counter c routes)" = 2 ]
}
t0=$(date +%s%N)
check "a and b route to each other through c (the mesh's gap)" wait_until 40 routed
echo "# routes around the gap $(( ($(date +%s%N) - t0) / 1000000 )) ms after both links were up"

not_up() { ! up "$1" "$2"; }
check "a has no link up to b (no TURN: two symmetric NATs)" not_up a b
[ "$TC_FAILS" -eq 0 ] || { ct_finish || true; exit 1; }

b4=$(ct_status b ip4) b6=$(ct_status b ip6)
fw0=$(counter c forwarded) out0=$(counter a routed_out) in0=$(counter b routed_in)
check "a's first ping to b ($b4) answers, through c" netns_exec a ping -c1 -W2 -q "$b4"
check "a's first ping -6 to b ($b6) answers, through c" netns_exec a ping -6 -c1 -W2 -q "$b6"
check "b pings a back" netns_exec b ping -c3 -i 0.2 -W2 -q "$(ct_status a ip4)"
fw1=$(counter c forwarded) out1=$(counter a routed_out) in1=$(counter b routed_in)
check "c carried the pings both ways (forwarded $fw0 -> $fw1)" test "$fw1" -ge $((fw0 + 10))
check "a sent its frames to b with an overlay header (routed_out $out0 -> $out1)" \
  test "$out1" -ge $((out0 + 5))
hops=$(info b | jq '"\(.routed_in) frames, \(.routed_in_hops) hops"')
check "b got a's through c (routed_in $in0 -> $in1; $hops)" test "$in1" -ge $((in0 + 5))
check "a answered ARP and ND for b itself" \
  test "$(counter a arp_answered)" -ge 1 -a "$(counter a nd_answered)" -ge 1
check "still no direct a-b link" not_up a b
ct_finish
