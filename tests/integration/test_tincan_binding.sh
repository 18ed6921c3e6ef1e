#!/usr/bin/env bash
# ipop-tincan: frames are bound to the link of the peer they belong to
# (issue 12, finding 2).  A hub h linked to x (bob), z (mallory) and y (a
# peer that bridges a LAN: "bridge": true on the hub's side).
#   - mallory sends frames with bob's MAC as source, during pings to bob:
#     the hub drops and counts them on mallory's link, and its traffic to
#     bob keeps going to bob's link;
#   - mallory sends 6,000 made-up source MACs: all dropped and counted;
#     unicast to an unknown MAC then reaches only the bridge link, never
#     every link;
#   - the bridge sends 6,000 made-up MACs (its LAN): learned, the table
#     fills and evicts the oldest, yet bound peers stay where they are, and
#     it cannot claim bob's MAC either;
#   - create_link refuses a peer_mac bound to another link, our own MAC,
#     and no peer_mac at all.
set -euo pipefail
. "$(dirname "$0")/tincan_helpers.sh"
tc_skip_unless_ready
netns_init
RAW="python3 $IPOP_SRC_DIR/tests/lib/rawframes.py"

netns_segment pub
netns_host h; netns_attach h pub 198.18.0.10/24
tc_start h
tc_overlay h node-h 10.254.0.1 02:00:00:00:01:01 >/dev/null
i=2
for s in x y z; do
  netns_host $s; netns_attach $s pub 198.18.0.1$i/24
  tc_start $s
  tc_overlay $s node-$s 10.254.0.$i 02:00:00:00:01:0$i >/dev/null
  i=$((i+1))
done
HMAC=02:00:00:00:01:01 XMAC=02:00:00:00:01:02 ZMAC=02:00:00:00:01:04
tc_link h node-h x node-x
tc_link h node-h z node-z
ch=$(tc_candidates h node-y); cy=$(tc_candidates y node-h)
TC_LINK_EXTRA=',"bridge":true' tc_create_link h node-y "$cy" >/dev/null
tc_create_link y node-h "$ch" >/dev/null
for s in x y z; do check "link hub-$s up" tc_wait_state h node-$s up 15; done
check "hub pings x" wait_ping h 10.254.0.2 5
check "hub pings y" wait_ping h 10.254.0.3 5
check "hub pings z" wait_ping h 10.254.0.4 5
check "hub's link to x is bound to x's MAC" \
  test "$(tc_stat h node-x peer_mac)/$(tc_stat h node-x bridge)" = "$XMAC/false"
check "hub's link to y bridges" test "$(tc_stat h node-y bridge)" = true

tx() { tc_stat h "node-$1" tx_packets; }
pings() { netns_exec h ping -q "$@" >/dev/null; }
spoofed() { tc_stat h "node-$1" spoofed; }
at_least() { [ "$(tc_stat h "node-$1" "$2")" -ge "$3" ]; }

# --- mallory claims bob's MAC while the hub talks to bob -------------------
bx=$(tx x); bz=$(tx z)
netns_spawn z "$(tc_dir z)/spoof.log" $RAW ipop0 "$HMAC" "$XMAC" 400 0.005
spoof_pid=$NETNS_LAST_PID
check "hub pings bob while mallory claims bob's MAC" \
  pings -c 50 -i 0.02 -w 10 10.254.0.2
wait_pid_gone "$spoof_pid" 10 || true
check "mallory's forged frames dropped and counted on mallory's link" \
  wait_until 5 at_least z spoofed 300
ax=$(tx x); az=$(tx z)
echo "# hub tx during pings to bob: x +$((ax - bx)), z +$((az - bz)); z spoofed $(spoofed z)"
check "the pings went to bob's link" test $((ax - bx)) -ge 50
check "none went to mallory's" test $((az - bz)) -lt 10
check "bob's link counts no spoofing" test "$(spoofed x)" = 0

# --- mallory floods made-up source MACs -----------------------------------
s0=$(spoofed z)
n=$(netns_exec z $RAW ipop0 "$HMAC" many 6000)
check "mallory sent 6000 made-up source MACs" test "$n" = 6000
check "all dropped on mallory's link (>= 4097 counted)" \
  wait_until 10 at_least z spoofed $((s0 + 4097))
entries=$(tc_call h query_overlay_info '{"overlay_id":"ov"}' | jq .mac_entries)
check "the hub's MAC table holds only the bound peers ($entries)" test "$entries" -le 3
netns_exec h ip neigh replace 10.254.0.99 lladdr 02:00:00:00:00:99 dev ipop0
bx=$(tx x); by=$(tx y); bz=$(tx z)
netns_exec h ping -c 20 -i 0.01 -W 1 -q 10.254.0.99 >/dev/null 2>&1 || true
ax=$(tx x); ay=$(tx y); az=$(tx z)
echo "# hub tx during 20 pings to an unknown MAC: x +$((ax - bx)), y +$((ay - by)), z +$((az - bz))"
check "unknown unicast reaches the bridge link" test $((ay - by)) -ge 20
check "and not bob's" test $((ax - bx)) -lt 5
check "nor mallory's" test $((az - bz)) -lt 5

# --- the bridge's LAN: many MACs, learned and evicted, never bob's ---------
ry=$(tc_stat h node-y rx_packets)
n=$(netns_exec y $RAW ipop0 "$HMAC" many 6000)
check "the bridge sent 6000 MACs of its LAN" test "$n" = 6000
check "the hub accepts them" wait_until 10 at_least y rx_packets $((ry + 4097))
info=$(tc_call h query_overlay_info '{"overlay_id":"ov"}')
echo "# hub MAC table: $(jq -c '{mac_entries, mac_evicted}' <<<"$info")"
check "the table filled up and evicted the oldest" test "$(jq .mac_evicted <<<"$info")" -gt 0
netns_exec y $RAW ipop0 "$HMAC" "$XMAC" 20 0.001 >/dev/null
check "the bridge cannot claim bob's MAC either" wait_until 5 at_least y spoofed 20
bx=$(tx x); by=$(tx y); bz=$(tx z)
check "hub still pings bob" pings -c 30 -i 0.01 -w 5 10.254.0.2
check "hub still pings mallory" pings -c 5 -i 0.01 -w 5 10.254.0.4
ax=$(tx x); ay=$(tx y); az=$(tx z)
check "bob's traffic stays on bob's link" test $((ax - bx)) -ge 30
check "none of it on the bridge" test $((ay - by)) -lt 5

# --- create_link refuses what would break the binding ----------------------
tc_candidates h node-w >/dev/null
cw=$(jq -c --arg m "$XMAC" '.mac = $m' <<<"$cy")
err=$(tc_create_link h node-w "$cw" 2>&1 || true)
check "peer_mac of another link refused, naming that link" \
  grep -q 'peer_mac: 02:00:00:00:01:02 is the MAC of the link to .*node-x' <<<"$err"
err=$(tc_create_link h node-w "$(jq -c --arg m "$HMAC" '.mac = $m' <<<"$cy")" 2>&1 || true)
check "our own MAC refused" grep -q "peer_mac: is this overlay's own MAC" <<<"$err"
err=$(tc_create_link h node-w "$(jq -c 'del(.mac)' <<<"$cy")" 2>&1 || true)
check "no peer_mac: refused, naming the field" grep -q "peer_mac: required" <<<"$err"
tc_finish
