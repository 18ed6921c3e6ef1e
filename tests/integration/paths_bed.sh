# shellcheck shell=bash
# The path test bed of test_tincan_paths.sh and bench/paths.sh (after
# tincan_helpers.sh and coturn.sh, inside netns_init):
#   a   behind a cone NAT router ra (wan 198.18.0.1, lan 198.19.1.1)
#   b   routed: on the public segment (198.18.0.20)
#   srv coturn (198.18.0.100), with a default route like an Internet host
#       (a silent drop for private addresses; docs/testing.md)
# tincan runs in a and b, with overlay "ov" (10.254.0.1, .2) whose STUN and
# TURN server is srv.  paths_block / paths_unblock drop / pass direct UDP
# from a to b at ra (TURN stays reachable).
paths_bed() {
  netns_segment pub
  netns_host srv; netns_attach srv pub 198.18.0.100/24
  netns_exec srv ip route add default via 198.18.0.254
  coturn_start turn srv 198.18.0.100
  coturn_wait turn 10
  netns_segment la
  netns_router ra cone pub 198.18.0.1/24 la 198.19.1.1/24
  netns_host a; netns_attach a la 198.19.1.10/24; netns_route_default a 198.19.1.1
  netns_host b; netns_attach b pub 198.18.0.20/24
  tc_start a; tc_start b
  PATHS_TURN="{\"address\":\"198.18.0.100:3478\",\"user\":\"$COTURN_USER\",\"password\":\"$COTURN_PASS\"}"
  TC_OVERLAY_EXTRA=",\"stun\":[\"198.18.0.100:3478\"],\"turn\":[$PATHS_TURN]"
  tc_overlay a node-a 10.254.0.1 >/dev/null
  tc_overlay b node-b 10.254.0.2 >/dev/null
}
paths_block() {
  netns_exec ra iptables -w -I FORWARD -d 198.18.0.20 -m comment --comment paths-block -j DROP
}
paths_unblock() {
  netns_exec ra iptables -w -D FORWARD -d 198.18.0.20 -m comment --comment paths-block -j DROP
}
# paths_rebind: ra maps a to a new public address (198.18.0.3) and forgets
# every mapping, as a NAT that rebinds does.
paths_rebind() {
  netns_exec ra ip addr add 198.18.0.3/24 dev wan
  netns_exec ra iptables -w -t nat -F POSTROUTING
  netns_exec ra iptables -w -t nat -A POSTROUTING -o wan -j SNAT --to-source 198.18.0.3
  netns_exec ra conntrack -F >/dev/null 2>&1 || true
}
