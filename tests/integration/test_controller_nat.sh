#!/usr/bin/env bash
# ipop-controller end to end behind NATs (issue 5, test 3), GroupVPN: four
# members of group "lab" with ejabberd and coturn on the public segment:
#   n1, n2  public hosts
#   n3      behind a port-preserving NAT (cone: server-reflexive pairs)
#   n4      behind a symmetric NAT (MASQUERADE --random-fully: the cone peer
#           can only reach it through the TURN relay)
# STUN and TURN come from Controller.Overlay (TURN password in a 0600 file).
# All pairs ping each other; prints each link's pair type and the setup time
# the controllers measured (both online -> link up) per pair type.
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
. "$IPOP_SRC_DIR/tests/lib/coturn.sh"
ct_skip_unless_ready
coturn_available || { echo "skip: coturn not installed"; exit 77; }
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users n1 n2 n3 n4
ct_xmpp_friends lab n1 n2 n3 n4
netns_host srv; netns_attach srv pub 198.18.0.100/24
netns_exec srv ip route add default via 198.18.0.254
coturn_start turn srv 198.18.0.100
coturn_wait turn 10

netns_segment lc; netns_segment ls
netns_router rc cone pub 198.18.0.2/24 lc 198.19.1.1/24
netns_router rs symmetric pub 198.18.0.3/24 ls 198.19.2.1/24

turnpw=$NETNS_TMPDIR/turn.pw
(umask 077; printf '%s\n' "$COTURN_PASS" >"$turnpw")
chown "$CT_USER" "$turnpw"
overlay='"Subnet": "10.254.0.0/24", "Stun": ["198.18.0.100:3478"],
  "Turn": [{ "Address": "198.18.0.100:3478", "User": "'"$COTURN_USER"'", "PasswordFile": "'"$turnpw"'" }]'
extra='"Group": "lab", "LinkSetupTimeout": 30'

ct_node n1 198.18.0.11 group "$extra" "$overlay"
ct_node n2 198.18.0.12 group "$extra" "$overlay"
netns_host n3; netns_attach n3 lc 198.19.1.10/24; netns_route_default n3 198.19.1.1
ct_config n3 group "$extra" "$overlay"; ct_tincan_start n3
netns_host n4; netns_attach n4 ls 198.19.2.10/24; netns_route_default n4 198.19.2.1
ct_config n4 group "$extra" "$overlay"; ct_tincan_start n4

nodes=(n1 n2 n3 n4)
for h in "${nodes[@]}"; do ct_controller_start "$h"; done
for h in "${nodes[@]}"; do check "$h online" ct_wait_online "$h" 40; done
t0=$(date +%s%N)
declare -A addr
for h in "${nodes[@]}"; do addr[$h]=$(ct_status "$h" ip4); done
for a in "${nodes[@]}"; do
  for b in "${nodes[@]}"; do
    [ "$a" = "$b" ] && continue
    check "$a pings $b (${addr[$b]})" wait_ping "$a" "${addr[$b]}" 90
  done
done
echo "# all online -> all 12 pings: $(( ($(date +%s%N) - t0) / 1000000 )) ms"

# Pair types and the controllers' own setup times, per link.
declare -A nid
for h in "${nodes[@]}"; do nid[$h]=$(ct_status "$h" node_id); done
for a in "${nodes[@]}"; do
  for b in "${nodes[@]}"; do
    [[ "$a" < "$b" ]] || continue
    pt=$(tc_call "$a" query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"${nid[$b]}\"}" |
         jq -r '.links[0].pair_type')
    setup=$(grep -o "link to $b@[^ ]* ([0-9a-f]*) is up, [0-9]* ms" "$(ct_log "$a")" | tail -n 1 |
            grep -o '[0-9]* ms$' || echo "?")
    echo "# link $a-$b: pair $pt, set up in $setup (both online -> up, as $a measured)"
  done
done
pt34=$(tc_call n3 query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"${nid[n4]}\"}" |
       jq -r '.links[0].pair_type')
check "cone n3 - symmetric n4 goes through the relay" test "$pt34" = relay
pt13=$(tc_call n1 query_link_stats "{\"overlay_id\":\"lab\",\"peer_id\":\"${nid[n3]}\"}" |
       jq -r '.links[0].pair_type')
check "public n1 - cone n3 is direct (not relay)" test "$pt13" != relay
ct_finish
