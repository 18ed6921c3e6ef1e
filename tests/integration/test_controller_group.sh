#!/usr/bin/env bash
# ipop-controller end to end, GroupVPN: ejabberd on the public segment, four
# nodes n1..n4 in roster group "lab" (ipop-tincan + an unprivileged
# ipop-controller each, addresses derived from node ids), all on one
# segment without NAT.  Every node pings every other over the overlay, over
# IPv4 and over IPv6 (the default Subnet6: a ULA /64 derived from the
# overlay id, addresses derived from the node ids).  n6, a member that
# comes last, claims n2's IPv6 address (configured Address6): the claim is
# refused and counted, n2 keeps its address, n6 reports the conflict.  n5,
# a contact of n4 outside the group, gets no link.  Prints the link setup
# time (both controllers online -> first overlay ping).
set -euo pipefail
. "$(dirname "$0")/controller_helpers.sh"
ct_skip_unless_ready
netns_init

netns_segment pub
ct_xmpp_start
ct_xmpp_users n1 n2 n3 n4 n5 n6
ct_xmpp_friends lab n1 n2 n3 n4 n6
ct_xmpp_friends other n4 n5

nodes=(n1 n2 n3 n4)
i=11
for h in "${nodes[@]}" n5; do
  ct_node "$h" "198.18.0.$i" group '"Group": "lab"'
  i=$((i + 1))
done

# n1 and n2 first: the two-node case, timed.
ct_controller_start n1
ct_controller_start n2
check "n1 online (XMPP, overlay)" ct_wait_online n1 30
check "n2 online (XMPP, overlay)" ct_wait_online n2 30
t0=$(date +%s%N)
a2=$(ct_status n2 ip4)
check "n1 pings n2 over the overlay" wait_ping n1 "$a2" 60
t1=$(date +%s%N)
echo "# link setup n1-n2 (both controllers online -> first overlay ping): $(( (t1 - t0) / 1000000 )) ms"
grep -h "is up, .* ms after both" "$(ct_log n1)" | sed 's/^/# n1: /' || true
[ "$TC_FAILS" -eq 0 ] || { ct_finish || true; exit 1; }

for h in n3 n4 n5; do ct_controller_start "$h"; done
for h in n3 n4 n5; do check "$h online" ct_wait_online "$h" 30; done
t0=$(date +%s%N)
declare -A addr
for h in "${nodes[@]}"; do addr[$h]=$(ct_status "$h" ip4); done
echo "# addresses: $(for h in "${nodes[@]}"; do printf '%s=%s ' "$h" "${addr[$h]}"; done)"
for a in "${nodes[@]}"; do
  for b in "${nodes[@]}"; do
    [ "$a" = "$b" ] && continue
    check "$a pings $b (${addr[$b]})" wait_ping "$a" "${addr[$b]}" 60
  done
done
t1=$(date +%s%N)
echo "# full mesh of 4 (n3..n5 online -> all 12 pings): $(( (t1 - t0) / 1000000 )) ms"

three_up() { [ "$(ct_links_up "$1")" = 3 ]; }
for h in "${nodes[@]}"; do
  check "$h has 3 links up" wait_until 20 three_up "$h"
done
a5=$(ct_status n5 ip4)
check "n5 is online but has no link" test "$(ct_links_up n5)" = 0
check "n5 counts no peers" test "$(ct_status n5 peers)" = 0
echo "# n5 (outside the group) has $a5"
check "n4 lists no peer n5" sh -c "! $(printf '%q ' ip netns exec "$(netns_ns n4)" "$IPOPCTL" -k "$(ct_dir n4)/control.key" -s 127.0.0.1:5801 -j peers) | grep -q n5@"
# (Derived addresses are random: n5's may equal a member's, then that member answers.)
case " ${addr[*]} " in
  *" $a5 "*) echo "# n5's address is also a member's: skipping the ping check" ;;
  *) check "n4 does not reach n5" sh -c "! ip netns exec $(netns_ns n4) ping -c1 -W1 -q $a5" ;;
esac

# Dual stack: every member has an IPv6 address in the overlay's ULA /64,
# announces it (caps), and is reached at it.
declare -A addr6
for h in "${nodes[@]}"; do addr6[$h]=$(ct_status "$h" ip6); done
echo "# IPv6 addresses: $(for h in "${nodes[@]}"; do printf '%s=%s ' "$h" "${addr6[$h]}"; done)"
p6=$(ct_status n1 ip6_prefix)
check "n1 has an IPv6 address in a /64" test "$p6" = 64
same_prefix() { [ "${addr6[n1]%:*:*:*:*}" = "${addr6[n2]%:*:*:*:*}" ]; }
check "members share the derived ULA /64 (${addr6[n1]%:*:*:*:*}:...)" same_prefix
check "the prefix is a ULA (fd00::/8)" sh -c "case '${addr6[n1]}' in fd*) ;; *) exit 1;; esac"
check "the TAP carries it" sh -c "ip -n $(netns_ns n1) -6 addr show ipop0 | grep -q '${addr6[n1]}/64'"
for b in n2 n3 n4; do
  check "n1 pings6 $b (${addr6[$b]})" wait_ping n1 "${addr6[$b]}" 30
done
check "n4 pings6 n2" wait_ping n4 "${addr6[n2]}" 30
peer_has_ip6() {
  [ "$(ct_ctl n1 -j peers | jq -r --arg a "${addr6[n3]}" '[.peers[] | select(.ip6 == $a)] | length')" = 1 ]
}
check "ipopctl peers on n1 shows n3's IPv6 address" wait_until 20 peer_has_ip6
check "ipopctl status shows both addresses" \
  sh -c "$(printf '%q ' ip netns exec "$(netns_ns n1)" "$IPOPCTL" -k "$(ct_dir n1)/control.key" -s 127.0.0.1:5801 status) | grep -q 'address ${addr[n1]}/24 and ${addr6[n1]}/64'"

check "status: mode group" test "$(ct_status n1 mode)" = group
check "status: node id of 32 hex" sh -c "ct=\$(cat $(ct_dir n1)/state/node_id); [ \${#ct} -eq 32 ]"
n1_peers_up() { [ "$(ct_ctl n1 -j peers | jq '[.peers[] | select(.link_state=="up")] | length')" = 3 ]; }
check "ipopctl peers lists 3 peers with links up" wait_until 20 n1_peers_up
ct_ctl n1 peers | sed 's/^/# n1 peers: /'
ct_ctl n1 links | sed 's/^/# n1 links: /'
check "controller runs as nobody" sh -c "grep -q '^Uid:.*65534' /proc/${CT_PID[n1]}/status"

# Hostile member: n6 announces n2's IPv6 address (derived from n2's node id).
ct_node n6 198.18.0.16 group '"Group": "lab"' \
  '"Subnet": "10.254.0.0/24", "Address6": "'"${addr6[n2]}"'"'
ct_controller_start n6
check "n6 online" ct_wait_online n6 30
refused_on() { [ "$(ct_ctl "$1" -j stats | jq -r '.addr_claims_refused // 0')" -ge 1 ]; }
check "n1 refuses and counts n6's claim of n2's IPv6 address" wait_until 30 refused_on n1
check "n2 refuses and counts it too" wait_until 30 refused_on n2
check "n6 reports the conflict (its Address6 is n2's)" \
  wait_until 30 sh -c "[ -n \"\$($(printf '%q ' ip netns exec "$(netns_ns n6)" "$IPOPCTL" -k "$(ct_dir n6)/control.key" -s 127.0.0.1:5801 -j status) | jq -r '.conflict // empty')\" ]"
check "n6's log says to fix its configuration" \
  wait_file "$(ct_log n6)" "address conflict: ${addr6[n2]} also claimed by n2@.*Address6.*fix the configuration" 10
check "n2 keeps its IPv6 address" test "$(ct_status n2 ip6)" = "${addr6[n2]}"
check "n2 reports no conflict" test -z "$(ct_status n2 conflict | sed 's/^null$//')"
check "n2 logged no yielding" sh -c "! grep -q 'yielding IPv6 address' $(ct_log n2)"
n6_at_n2_addr() {
  ct_ctl n1 -j peers | jq -e --arg a "${addr6[n2]}" \
    '[.peers[] | select(.jid | startswith("n6@")) | select(.ip6 == $a)] | length == 0' >/dev/null
}
check "n1's peer table does not show n6 at n2's address" n6_at_n2_addr
grep -h "claims .*refused" "$(ct_log n1)" | head -n 1 | sed 's/^/# n1: /' || true

ct_finish
