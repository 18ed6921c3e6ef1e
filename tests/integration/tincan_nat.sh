#!/usr/bin/env bash
# ipop-tincan tests 2 and 3 (run by test_tincan_nat_cone.sh and
# test_tincan_nat_symmetric.sh): hosts behind NATs, a real coturn on the public
# segment.
#   cone:      each host behind a port-preserving MASQUERADE: the link comes
#              up over server-reflexive candidates (stats: srflx or prflx -
#              a peer-reflexive pair is the same NAT mapping learned from the
#              peer's check before its candidate arrived).
#   symmetric: MASQUERADE --random-fully on both sides: hole punching fails
#              and the link comes up over the TURN relay (stats: relay),
#              coturn requiring username/password; a wrong password gives a
#              clear event.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
. "$IPOP_SRC_DIR/tests/lib/coturn.sh"
tc_skip_unless_ready
coturn_available || { echo "skip: coturn not installed"; exit 77; }
netns_init

mode=${1:?usage: tincan_nat.sh cone|symmetric}
build() { # build NAT_MODE
  netns_segment pub
  netns_host srv; netns_attach srv pub 198.18.0.100/24
  # Like a server on the Internet, srv has a default route: coturn closes an
  # allocation when relaying to a peer address fails with ENETUNREACH (the
  # peers' private host candidates), which a route-less namespace causes.
  netns_exec srv ip route add default via 198.18.0.254
  coturn_start turn srv 198.18.0.100 -- ${COTURN_EXTRA:-}
  coturn_wait turn 10
  netns_segment la; netns_segment lb
  netns_router ra "$1" pub 198.18.0.1/24 la 198.19.1.1/24
  netns_router rb "$1" pub 198.18.0.2/24 lb 198.19.2.1/24
  netns_host a; netns_attach a la 198.19.1.10/24; netns_route_default a 198.19.1.1
  netns_host b; netns_attach b lb 198.19.2.10/24; netns_route_default b 198.19.2.1
  tc_start a; tc_start b
  tc_listen a; tc_listen b
}

if [ "$mode" = cone ]; then
  build cone
  TC_OVERLAY_EXTRA=',"stun":["198.18.0.100:3478"]'
  tc_overlay a node-a 10.254.0.1 >/dev/null
  tc_overlay b node-b 10.254.0.2 >/dev/null
  ca=$(tc_candidates a node-b)
  check "a gathered a server-reflexive candidate (198.18.0.1)" \
    grep -q 'typ srflx' <<<"$(jq -r '.candidates[]' <<<"$ca" | grep 198.18.0.1)"
  cb=$(tc_candidates b node-a)
  tc_create_link a node-b "$cb" >/dev/null
  tc_create_link b node-a "$ca" >/dev/null
  check "cone: link up" tc_wait_state a node-b up 20
  pt=$(tc_stat a node-b pair_type)
  echo "# cone: pair_type $pt, $(tc_stat a node-b local_addr) -> $(tc_stat a node-b remote_addr)"
  check "cone: pair is server-reflexive (not relay, not host)" \
    sh -c "[ '$pt' = srflx ] || [ '$pt' = prflx ]"
  check "cone: ping crosses" wait_ping a 10.254.0.2 5
fi

if [ "$mode" = symmetric ]; then
  build symmetric
  turn="{\"address\":\"198.18.0.100:3478\",\"user\":\"$COTURN_USER\",\"password\":\"$COTURN_PASS\"}"
  badturn="{\"address\":\"198.18.0.100:3478\",\"user\":\"$COTURN_USER\",\"password\":\"wrong\"}"

  # A wrong TURN password: a clear event, and no relayed candidate.
  TC_OVERLAY=bad TC_OVERLAY_EXTRA=",\"turn\":[$badturn]" tc_overlay a node-a 10.253.0.1 "" ipop9 >/dev/null
  TC_OVERLAY=bad tc_candidates a node-b >"$NETNS_TMPDIR/bad.json" || true
  check "wrong TURN password: event names it" \
    wait_file "$(tc_events a)" '"reason":"turn: no relayed candidate from 198.18.0.100:3478 \(udp\): allocation refused: 401 .*wrong username or password' 10
  check "wrong TURN password: no relay candidate" sh -c "! grep -q 'typ relay' $NETNS_TMPDIR/bad.json"
  tc_call a remove_overlay '{"overlay_id":"bad"}' >/dev/null

  TC_OVERLAY_EXTRA=",\"stun\":[\"198.18.0.100:3478\"],\"turn\":[$turn]"
  tc_overlay a node-a 10.254.0.1 >/dev/null
  tc_overlay b node-b 10.254.0.2 >/dev/null
  ca=$(tc_candidates a node-b)
  check "a gathered a relayed candidate" grep -q 'typ relay' <<<"$ca"
  cb=$(tc_candidates b node-a)
  tc_create_link a node-b "$cb" >/dev/null
  tc_create_link b node-a "$ca" >/dev/null
  check "symmetric: link up" tc_wait_state a node-b up 30
  pt=$(tc_stat a node-b pair_type)
  echo "# symmetric: pair_type $pt, $(tc_stat a node-b local_addr) -> $(tc_stat a node-b remote_addr)"
  check "symmetric: pair is relayed" test "$pt" = relay
  check "symmetric: ping crosses" wait_ping a 10.254.0.2 10
  check "symmetric: ping back" wait_ping b 10.254.0.1 5

  # The same over TURN/TCP (relayed UDP allocation reached over TCP).
  tc_call a remove_overlay '{"overlay_id":"ov"}' >/dev/null
  tc_call b remove_overlay '{"overlay_id":"ov"}' >/dev/null
  tcpturn="{\"address\":\"198.18.0.100:3478\",\"user\":\"$COTURN_USER\",\"password\":\"$COTURN_PASS\",\"transport\":\"tcp\"}"
  TC_OVERLAY_EXTRA=",\"turn\":[$tcpturn]"
  tc_overlay a node-a 10.254.0.1 >/dev/null
  tc_overlay b node-b 10.254.0.2 >/dev/null
  ca=$(tc_candidates a node-b)
  check "TURN/TCP: a gathered a relayed candidate" grep -q 'typ relay' <<<"$ca"
  cb=$(tc_candidates b node-a)
  tc_create_link a node-b "$cb" >/dev/null
  tc_create_link b node-a "$ca" >/dev/null
  check "TURN/TCP: link up" tc_wait_state a node-b up 30
  check "TURN/TCP: pair is relayed" test "$(tc_stat a node-b pair_type)" = relay
  check "TURN/TCP: ping crosses" wait_ping a 10.254.0.2 10

  # And over TURN/TLS (port 5349).  The TURN server's self-signed
  # certificate is accepted (not verified): TLS here hides the TURN exchange,
  # it does not authenticate the server (the DTLS pin authenticates the peer).
  tc_call a remove_overlay '{"overlay_id":"ov"}' >/dev/null
  tc_call b remove_overlay '{"overlay_id":"ov"}' >/dev/null
  tlsturn="{\"address\":\"198.18.0.100:5349\",\"user\":\"$COTURN_USER\",\"password\":\"$COTURN_PASS\",\"transport\":\"tls\"}"
  TC_OVERLAY_EXTRA=",\"turn\":[$tlsturn]"
  tc_overlay a node-a 10.254.0.1 >/dev/null
  tc_overlay b node-b 10.254.0.2 >/dev/null
  ca=$(tc_candidates a node-b)
  check "TURN/TLS: a gathered a relayed candidate" grep -q 'typ relay' <<<"$ca"
  cb=$(tc_candidates b node-a)
  tc_create_link a node-b "$cb" >/dev/null
  tc_create_link b node-a "$ca" >/dev/null
  check "TURN/TLS: link up" tc_wait_state a node-b up 30
  check "TURN/TLS: pair is relayed" test "$(tc_stat a node-b pair_type)" = relay
  check "TURN/TLS: ping crosses" wait_ping a 10.254.0.2 10
fi
tc_finish
